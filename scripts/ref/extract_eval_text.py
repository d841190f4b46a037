#!/usr/bin/env python3
"""Extracts the perplexity evaluation text tests/data/jargon-4.4.7-prose.txt.

Source: the Jargon File 4.4.7 (Eric S. Raymond et al.), which its authors put in the
public domain, as shipped by Debian's package jargon-text 4.4.7-4.1
(/usr/share/doc/jargon-text/jargon.txt.gz). We keep the continuous English prose: the
introduction (chapters 1-12), appendices A (Hacker Folklore) and B (A Portrait of
J. Random Hacker), and then the first lexicon entries in order (from ":0:" on, whole
entries only, without the per-letter index lists) up to LEXICON_BYTES. The few lines
drawn with box characters (tables) are dropped.

The output is deterministic: the same package gives the same bytes (sha256 printed).
Usage:
  scripts/ref/extract_eval_text.py [--deb jargon-text_4.4.7-4.1_all.deb | --txt jargon.txt.gz] [-o OUT]
Without --deb/--txt the .deb is fetched with `apt-get download jargon-text=4.4.7-4.1`.
"""
import argparse
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile

PKG_VERSION = "4.4.7-4.1"
# (first heading, heading that ends the section) in the file's own lines.
SECTIONS = [
    ("Chapter 1. Hacker Slang and Hacker Culture", "Glossary"),
    ("Appendix A. Hacker Folklore", "Appendix C. Helping Hacker Culture Grow"),
]
BOX = set("│─┌┐└┘├┤┬┴┼═║╔╗╚╝")
LEXICON_BYTES = 110_000


def read_jargon_from_deb(deb):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["dpkg-deb", "-x", deb, d], check=True)
        with gzip.open(os.path.join(d, "usr/share/doc/jargon-text/jargon.txt.gz")) as f:
            return f.read().decode("utf-8")


def fetch_deb(workdir):
    subprocess.run(["apt-get", "download", f"jargon-text={PKG_VERSION}"], cwd=workdir, check=True)
    debs = [f for f in os.listdir(workdir) if f.startswith("jargon-text_") and f.endswith(".deb")]
    if len(debs) != 1:
        sys.exit(f"expected one jargon-text .deb in {workdir}, found {debs}")
    return os.path.join(workdir, debs[0])


def dedent(line):
    # The file indents body text by three spaces; headings are flush left.
    return line[3:] if line.startswith("   ") else line


def lexicon_entries(lines, begin, end):
    """Whole lexicon entries in [begin, end): from a line "   :name: ..." up to the next
    entry or letter heading ("  A", two spaces), which is followed by an index list."""
    entries, cur = [], None
    for line in lines[begin:end]:
        if line.startswith("   :") and line.find(":", 4) > 0:
            if cur:
                entries.append(cur)
            cur = [line]
        elif len(line) == 3 and line.startswith("  ") and line[2].isalnum():
            if cur:
                entries.append(cur)
            cur = None
        elif cur is not None:
            cur.append(line)
    if cur:
        entries.append(cur)
    return ["\n".join(dedent(l) for l in e if not any(c in BOX for c in l)).strip("\n") for e in entries]


def extract(text):
    lines = text.split("\n")
    plain = [line.replace("\u00a0", " ") for line in lines]
    out = []
    for start, stop in SECTIONS:
        # Headings use no-break spaces (U+00A0) after "Chapter"/"Appendix" and the number.
        i = plain.index(start)
        j = plain.index(stop, i + 1)
        section = []
        for line in lines[i:j]:
            if any(c in BOX for c in line):
                continue
            section.append(dedent(line))
        out.append("\n".join(section).strip("\n"))
    g = plain.index("Glossary")
    lex, size = [], 0
    for e in lexicon_entries(lines, g, plain.index(SECTIONS[1][0], g)):
        if size + len(e.encode("utf-8")) > LEXICON_BYTES:
            break
        lex.append(e)
        size += len(e.encode("utf-8")) + 2
    out.append("The Jargon Lexicon\n\n" + "\n\n".join(lex))
    body = "\n\n".join(out) + "\n"
    # Collapse the runs of blank lines left where tables were dropped.
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deb", help="jargon-text .deb file")
    ap.add_argument("--txt", help="jargon.txt or jargon.txt.gz")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("-o", "--out", default=os.path.join(here, "..", "..", "tests", "data", "jargon-4.4.7-prose.txt"))
    args = ap.parse_args()
    if args.txt:
        opener = gzip.open if args.txt.endswith(".gz") else open
        with opener(args.txt, "rb") as f:
            text = f.read().decode("utf-8")
    elif args.deb:
        text = read_jargon_from_deb(args.deb)
    else:
        with tempfile.TemporaryDirectory() as d:
            text = read_jargon_from_deb(fetch_deb(d))
    body = extract(text).encode("utf-8")
    with open(args.out, "wb") as f:
        f.write(body)
    print(f"{os.path.normpath(args.out)}: {len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()}")


if __name__ == "__main__":
    main()
