#!/usr/bin/env python3
"""Writes the llama.cpp tokenizer golden files for the default model (SmolLM2):

  tests/data/smollm2_tokenize.jsonl    {"text", "add_special", "parse_special", "ids"}
  tests/data/smollm2_detokenize.jsonl  {"ids", "special", "detok", "detok_hex"}
  tests/data/smollm2_tokenize.meta.json  versions, model sha256, date, counts

Tokenization is llama.cpp's llama_tokenize (Llama(vocab_only=True).tokenize(text_bytes,
add_bos=add_special, special=parse_special)). Detokenization is llama_detokenize with
remove_special=false and unparse_special=special; "detok" is the text when the bytes are
valid UTF-8 (else null) and "detok_hex" always holds the exact bytes.
The strings are hand-written cases, the starcoder conformance fixture strings
(shared/fixtures/tokenizer/ggml-vocab-starcoder.gguf.inp) and random strings from a fixed
seed, so reruns with the same llama.cpp give the same files.

Run with the venv python printed by scripts/ref/setup-llamacpp.sh:
  $(scripts/ref/setup-llamacpp.sh) scripts/ref/gen_tokenizer_golden.py [--model M] [--out-dir tests/data]
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llamacpp_common as lc  # noqa: E402

import llama_cpp  # noqa: E402

SEED = 20261128
N_RANDOM = 160
N_RANDOM_IDS = 60

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]

HAND = [
    # ASCII prose
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times; it was the age of wisdom.",
    "Dr. Smith arrived at 10:30 a.m. on Jan. 5th -- late, as usual!",
    "Why? Because \"quotes\" and 'single quotes' (and [brackets]) {braces} <angles>.",
    "e.g. i.e. etc. U.S.A. Mr. Mrs. Ph.D.",
    "ALL CAPS SENTENCE WITH SHOUTING!!!",
    "camelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_SNAKE",
    "hello@example.com https://example.org/path?query=1&x=y#frag",
    "A sentence.\nAnother sentence.\n\nA new paragraph.",
    # code
    "def f(x):\n    return x * 2\n",
    "class Foo(Bar):\n    \"\"\"Docstring.\"\"\"\n\n    def __init__(self, a: int = 0) -> None:\n        self.a = a\n",
    "for i in range(10):\n\tprint(i, end=' ')\n",
    "import numpy as np\narr = np.zeros((3, 4), dtype=np.float32)\n",
    "#include <stdio.h>\n\nint main(void) {\n  printf(\"%d\\n\", 42);\n  return 0;\n}\n",
    "for (int i = 0; i < n; ++i) { x[i] += y[i] * 0.5f; }",
    "template <typename T> std::vector<T> v{1, 2, 3}; // comment",
    "if (a != b && c >= d || !e) { ptr->field = *other; }",
    '{"name": "vatp", "version": [1, 2, 3], "ok": true, "none": null}',
    '{\n  "nested": {\n    "key": "value",\n    "list": [1.5, -2e10, 3]\n  }\n}',
    "<!DOCTYPE html>\n<html><head><title>Test</title></head>\n<body class=\"main\"><p>Hi &amp; bye</p></body></html>",
    "SELECT id, name FROM users WHERE age > 21 ORDER BY name DESC;",
    "$ ls -la /usr/bin | grep -E '^-rwx' > out.txt 2>&1",
    "x = lambda a, b: a ** b if a else -b",
    "    indented line\n        more indented\n    back\n",
    "// TODO(someone): fix this\n/* block\n   comment */",
    # numbers and digit runs
    "3.14159265358979323846",
    "1,000,000 and 1.000.000 and 1 000 000",
    "2024-01-15T12:34:56Z",
    "phone: +1 (555) 123-4567",
    "0x7fffffff 0b1010 1e-9 -42 +17",
    "12345678901234567890123456789012345678901234567890",
    "v1.2.3-rc.4+build.567",
    "Order #98765 costs $1,234.56 (or €1.234,56).",
    "a1b2c3d4e5 99bottles 2nd 3rd 4th 21st",
    # whitespace runs
    " ",
    "  ",
    "     ",
    "\t",
    "\t\t\t",
    "\n",
    "\n\n\n",
    "\r\n",
    "\r\n\r\n",
    " \t \n \t\n",
    "   leading spaces",
    "trailing spaces   ",
    "\tleading tab",
    "trailing newline\n",
    "\n\nleading newlines",
    "word  two  spaces   three    four",
    "mixed \t\n whitespace \n\t everywhere \r\n end",
    "tabs\tbetween\twords",
    "line1\nline2\n\n\nline5",
    " \n",
    "\n ",
    "a" + " " * 40 + "b",
    # Unicode
    "café naïve résumé façade coöperate",
    "Ünïcödé ßtrings Ångström",
    "Привет, мир! Как дела?",
    "Καλημέρα κόσμε, ελληνικά γράμματα",
    "日本語のテキストと漢字",
    "中文测试：你好，世界！",
    "한국어 텍스트 테스트",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "שלום עולם",
    "ภาษาไทย",
    "emoji 👋🏽 and 👨‍👩‍👧",
    "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👩🏾‍💻 coder",
    "🚀🔥💯✅❌",
    "e\u0301 vs \u00e9 (combining acute vs precomposed)",
    "a\u0300\u0301\u0302\u0303 stacked marks",
    "Z\u0351\u0352\u0353a\u0354\u0355l\u0356\u0357g\u0358o",
    "ﬁ ligature, ½ fraction, ² superscript, Ⅻ numeral",
    "\u00a0no-break\u00a0spaces\u3000ideographic",
    "zero\u200bwidth\u200cjoiners\u200d",
    "\ufeffBOM at start",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙",
    "٣٤٥ Arabic-Indic digits and ३४५ Devanagari digits",
    "Cửa Việt Tiếng Việt có dấu",
    "İstanbul ıi ǅ ǈ",
    "a\x00b",
    "\x01\x02\x7f control chars",
    # contractions
    "it's they're we've I'm you'll he'd can't won't",
    "IT'S THEY'RE WE'VE I'M YOU'LL HE'D CAN'T",
    "It'S tHey'Re wE'vE i'M yoU'Ll hE'd",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "rock 'n' roll, the '90s, 'tis",
    "don't'll've",
    "John's book's cover",
    "quote' s 't x'",
    "’s curly ’t apostrophe ’re",
    # special-token look-alikes (parse_special false unless listed below)
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text",
    "<|im_start|><|im_end|>",
    "< |im_start| >",
    "<|im_start",
    "<|im_start|>",
    "<|unknown_token|>",
    # edge
    "",
    "a",
    "A",
    ".",
    "!!!!!!",
    "...",
    "?!?!",
    "a" * 300,
    " " * 257,
    "ab" * 150,
    "9" * 100,
    "\n" * 64,
    "Hello" * 20,
]

# Strings that are also tokenized with parse_special = true (and add_special both ways).
SPECIAL_CASES = [
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text",
    "<|im_start|><|im_end|>",
    "<|im_start|>",
    " <|im_end|> ",
    "\n<|im_start|>\n",
    "<|im_start|>user\n<|im_start|>nested<|im_end|>",
    "< |im_start| >",
    "<|im_start",
    "<|unknown_token|>",
    "Hello world",
    "",
]

WORDS = ("the of and to in is was that for on with as by at from his her they we you it this not but are "
         "have be or an had which one all were there their been has will more if no when who so what about "
         "time people year way day man thing woman life child world school state family student group country "
         "problem hand part place case week company system program question work government number night "
         "Hello World Python Kernel Token Model Vector Matrix Quantize Llama Smol").split()
PUNCT = list(".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=~`|") + ["...", "--", "->", "=>", "::", "!=", "==", "<=", "**"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\t\t"]
UNI = ["é", "ñ", "ü", "ç", "ø", "Привет", "мир", "Ελληνικά", "日本語", "中文", "한국어", "العربية", "हिन्दी",
       "ไทย", "עברית", "🦙", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "e\u0301", "ﬁ", "ß", "İ", "ǅ", "½", "²", "€", "™",
       "\u200b", "𝔘𝔫𝔦", "٣٤", "३४", "Ⅻ", "♥", "→", "…", "—", "“", "”", "’"]
CONTR = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'", "’s"]
# Code point ranges for raw random characters: Latin, Latin-1 supplement, combining marks,
# Greek, Cyrillic, Arabic, Devanagari, CJK, Hangul, emoji, symbols, fullwidth.
RANGES = [(0x21, 0x7E), (0xA0, 0xFF), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x600, 0x6FF),
          (0x900, 0x97F), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x1F300, 0x1F64F), (0x2000, 0x206F),
          (0x2190, 0x22FF), (0xFF01, 0xFF5E)]


def random_string(rng):
    kind = rng.random()
    if kind < 0.15:  # raw code points
        out = []
        for _ in range(rng.randint(1, 24)):
            lo, hi = rng.choice(RANGES)
            out.append(chr(rng.randint(lo, hi)))
            if rng.random() < 0.2:
                out.append(rng.choice(SPACES))
        return "".join(out)
    if kind < 0.25:  # digit runs mixed with letters and punctuation
        out = []
        for _ in range(rng.randint(1, 8)):
            r = rng.random()
            if r < 0.5:
                out.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12))))
            elif r < 0.75:
                out.append(rng.choice(WORDS))
            else:
                out.append(rng.choice(PUNCT + SPACES))
        return "".join(out)
    out = []  # fragment soup
    for _ in range(rng.randint(1, 16)):
        r = rng.random()
        if r < 0.45:
            w = rng.choice(WORDS)
            if rng.random() < 0.1:
                w = w.upper()
            elif rng.random() < 0.1:
                w = w.capitalize()
            out.append(w)
        elif r < 0.6:
            out.append(rng.choice(PUNCT))
        elif r < 0.75:
            out.append(rng.choice(UNI))
        elif r < 0.85:
            out.append(rng.choice(CONTR))
        elif r < 0.88:
            out.append(rng.choice(SPECIALS))
        else:
            out.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
        out.append(rng.choice(SPACES) if rng.random() < 0.7 else "")
    s = "".join(out)
    if rng.random() < 0.2:
        s = rng.choice(SPACES) + s
    if rng.random() < 0.2:
        s = s.rstrip() + rng.choice(SPACES)
    return s


def fixture_strings():
    path = os.path.join(os.environ.get("VATP_SHARED_DIR", "/work/shared"), "fixtures", "tokenizer",
                        "ggml-vocab-starcoder.gguf.inp")
    with open(path, encoding="utf-8") as f:
        parts = f.read().split("\n__ggml_vocab_test__\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=lc.default_model())
    ap.add_argument("--out-dir", default=os.path.join(lc.REPO, "tests", "data"))
    ap.add_argument("--prefix", default="smollm2")
    args = ap.parse_args()

    llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    vocab = lc.vocab_of(llm)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    rng = random.Random(SEED)

    cases = []  # (text, add_special, parse_special, origin)
    for t in HAND:
        cases.append((t, False, False, "hand"))
    for t in fixture_strings():
        cases.append((t, False, False, "fixture-starcoder"))
    for t in SPECIAL_CASES:
        cases.append((t, False, True, "special"))
        cases.append((t, True, True, "special"))
    for t in HAND[:12] + SPECIAL_CASES[:4]:
        cases.append((t, True, False, "add_special"))
    for _ in range(N_RANDOM):
        t = random_string(rng)
        cases.append((t, rng.random() < 0.15, rng.random() < 0.25, "random"))

    seen, rows = set(), []
    for text, add_special, parse_special, origin in cases:
        key = (text, add_special, parse_special)
        if key in seen:
            continue
        seen.add(key)
        ids = lc.tokenize(llm, text, add_special, parse_special)
        rows.append({"text": text, "add_special": add_special, "parse_special": parse_special, "ids": ids})

    tok_path = os.path.join(args.out_dir, f"{args.prefix}_tokenize.jsonl")
    with open(tok_path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    # Detokenization: the tokenizations above, random id sequences (which often split
    # UTF-8 characters), and sequences around control tokens; each with special off/on.
    seqs = [r["ids"] for r in rows if r["ids"]][:180]
    special_ids = [i for i in range(n_vocab) if llama_cpp.llama_vocab_get_attr(vocab, i) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL]
    for _ in range(N_RANDOM_IDS):
        seqs.append([rng.randrange(n_vocab) for _ in range(rng.randint(1, 24))])
    for _ in range(20):
        s = [rng.randrange(n_vocab) for _ in range(rng.randint(0, 6))]
        s.insert(rng.randint(0, len(s)), rng.choice(special_ids))
        seqs.append(s)
    seqs.append(list(range(0, 300)))  # the first ids: control tokens, then single bytes
    det_rows, seen = [], set()
    for ids in seqs:
        for special in (False, True):
            key = (tuple(ids), special)
            if key in seen:
                continue
            seen.add(key)
            b = lc.detokenize(llm, ids, special)
            try:
                text = b.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            det_rows.append({"ids": ids, "special": special, "detok": text, "detok_hex": b.hex()})
    det_path = os.path.join(args.out_dir, f"{args.prefix}_detokenize.jsonl")
    with open(det_path, "w", encoding="utf-8") as f:
        for r in det_rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    meta = {
        "generator": "scripts/ref/gen_tokenizer_golden.py",
        "llama_cpp_python": lc.llamacpp_version(),
        "llama_cpp_commit": lc.llamacpp_vendor_commit(),
        "model_file": os.path.basename(args.model),
        "model_sha256": lc.sha256_file(args.model),
        "date": lc.today(),
        "seed": SEED,
        "tokenize_api": "llama_tokenize via Llama(vocab_only=True).tokenize(text_utf8, add_bos=add_special, "
                        "special=parse_special)",
        "detokenize_api": "llama_detokenize(ids, remove_special=false, unparse_special=special)",
        "control_token_ids": special_ids,
        "n_tokenize_cases": len(rows),
        "n_tokenize_by_flags": {
            f"add_special={a},parse_special={p}": sum(1 for r in rows if r["add_special"] == a and r["parse_special"] == p)
            for a in (False, True) for p in (False, True)
        },
        "n_detokenize_cases": len(det_rows),
        "n_detokenize_invalid_utf8": sum(1 for r in det_rows if r["detok"] is None),
    }
    with open(os.path.join(args.out_dir, f"{args.prefix}_tokenize.meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{tok_path}: {len(rows)} cases; {det_path}: {len(det_rows)} cases")


if __name__ == "__main__":
    main()
