#!/usr/bin/env python3
"""Writes tests/data/longbench/metric_golden.jsonl: LongBench v1 metric and scorer values
computed by LongBench's own code, for tests/eval/longbench_metrics_test.cc.

LongBench is not on PyPI and is not vendored here: pass a checkout (or a folder holding
its LongBench/metrics.py and LongBench/eval.py) with --longbench. Its PyPI dependencies:
  python3 -m venv /tmp/lbvenv && /tmp/lbvenv/bin/pip install rouge==1.0.1 fuzzywuzzy==0.18.0 numpy
Do not install python-Levenshtein: LongBench's requirements do not list it, so fuzz.ratio
falls back to difflib.SequenceMatcher (specs/eval.md §1.6). jieba (Chinese tasks only) is
replaced by a placeholder module when it is not installed; no English metric uses it.

  /tmp/lbvenv/bin/python scripts/ref/gen_longbench_metric_golden.py --longbench /tmp/LongBench

Each line is one case:
  {"fn": <metric name>, "pred", "gt", ["all_classes"], "score"}   metric(pred, gt) value
  {"fn": "normalize_answer", "text", "result"}
  {"fn": "fuzz_ratio", "a", "b", "score"}                            fuzz.ratio(a, b)
  {"fn": "scorer", "task", "preds", "answers", "all_classes", "score"}
  {"fn": "scorer_e", "task", "preds", "answers", "lengths", "all_classes", "scores"} (NaN → null)
Cases are hand-written plus random ones from a fixed seed, so reruns give the same file.
"""
import argparse
import importlib.util
import json
import math
import os
import random
import sys
import types
import warnings

SEED = 20261129


def load_longbench(root):
    folder = os.path.join(root, "LongBench")
    if not os.path.exists(os.path.join(folder, "metrics.py")):
        folder = root
    if "jieba" not in sys.modules:
        try:
            import jieba  # noqa: F401
        except ImportError:
            sys.modules["jieba"] = types.ModuleType("jieba")  # only the zh metrics call it
    warnings.filterwarnings("ignore", message="Using slow pure-python SequenceMatcher")
    sys.path.insert(0, folder)
    import metrics  # noqa: E402

    spec = importlib.util.spec_from_file_location("longbench_eval", os.path.join(folder, "eval.py"))
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)
    return metrics, ev


WORDS = ("the a an cat dog sat on mat it was happy report government agency summary meeting "
         "budget year plan The A An Cat . , ; ! ? -- 'quoted' \"double\" x1 42 3.14 e.g. "
         "café naïve İstanbul ΣΟΦΟΣ über Ωmega 東京 ١٢ １２").split(" ")

TREC_CLASSES = ["Food", "Date", "Order", "Type", "Other", "Animal", "Description of something",
                "Other entity", "Entity", "Individual", "Group", "City", "Country", "State",
                "Other location", "Mountain", "Definition of something", "Manner of an action",
                "Reason", "Number of something", "Price", "Distance", "Size", "Period of time"]

CODE = ["return x + 1", "for (int i = 0; i < n; ++i) {", "self.assertEqual(result, expected)",
        "    if not os.path.exists(path):", "public static void main(String[] args) {",
        "import numpy as np", "x = foo(bar, baz)  # call", "// comment only", "```python",
        "printf(\"%d\\n\", value);", "}", "", "   ", "def __init__(self, *args, **kwargs):"]


def rand_text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def rand_code_line(rng, n, alphabet):
    return "".join(rng.choice(alphabet) for _ in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--longbench", required=True, help="LongBench checkout (holding LongBench/metrics.py)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data",
                                                  "longbench", "metric_golden.jsonl"))
    args = ap.parse_args()
    m, ev = load_longbench(args.longbench)
    from fuzzywuzzy import fuzz
    rng = random.Random(SEED)
    cases = []

    def metric(fn, pred, gt, all_classes=None):
        c = {"fn": fn, "pred": pred, "gt": gt}
        if all_classes is not None:
            c["all_classes"] = all_classes
        c["score"] = float(getattr(m, fn)(pred, gt, all_classes=all_classes))
        cases.append(c)

    # specs/eval.md §1.7 and hand-written cases.
    for p, g in [("The Eiffel Tower, in Paris.", "Eiffel Tower"), ("an apple a day", "the apple"), ("yes", "no"),
                 ("", ""), ("", "x"), ("The", "a"), ("A theater", "the theater"), ("Mr. Smith's", "mr smiths"),
                 ("theAn an-the", "thean anthe"), ("a_b", "ab"), ("Café au lait", "cafe au lait"),
                 ("CAFÉ", "café"), ("İstanbul", "i̇stanbul"), ("ΣΟΦΟΣ", "σοφος"), ("ΣΟΦΟΣ", "σοφοσ"),
                 ("ὈΔΥΣΣΕΎΣ", "ὀδυσσεύς"), ("x\u00a0y\u2003z", "x y z"), ("1\u30002", "1 2"),
                 ("the\u00b7cat", "cat"), ("«the» cat", "cat"), ("dog dog dog", "dog"), ("dog", "dog dog dog"),
                 ("\x1cthe\x1fcat", "cat"), ("Ｔｈｅ cat", "cat"), ("n/a", "na"), ("\tYes.\n", "yes")]:
        metric("qa_f1_score", p, g)
    for p, g in [("The cat sat on the mat. It was happy.", "A cat sat on a mat. The cat was happy."),
                 ("the the the", "the cat"), ("c b a. a", "a b c"), ("Hello. ", "Hello world."), ("", "the cat"),
                 ("...", "the cat"), ("the cat", ""), ("the cat", "..."), ("a  b\tc. d", "a b c d"),
                 ("x. . y", "x y"), (" . ", "a"), ("a b a b a", "b a b a b"), ("A. B. C.", "c. b. a."),
                 ("same text here", "same text here"), ("café über", "über café"),
                 ("one\u2003two three", "one two\u00a0three"), ("x.y.z", "x y z"), ("no overlap", "nothing common")]:
        metric("rouge_score", p, g)
    ac = ["Description of something", "Other", "Other entity", "Entity"]
    for p, g in [("Description of something or Other", "Other"), ("Other entity", "Other entity"),
                 ("Other", "Other entity"), ("Entity", "Entity"), ("nothing", "Entity"),
                 ("Other entity Entity Other", "Entity"), ("Entity Other entity", "Other entity"), ("", "Other")]:
        metric("classification_score", p, g, ac)
    metric("classification_score", "Other Other", "Other", ["Other", "Other", "Other entity"])
    metric("classification_score", "Other entity", "Other entity", ["Other", "Other", "Other entity", "Entity"])
    for p, g in [("Paragraph 7 or Paragraph 17", "Paragraph 7"), ("Paragraph 7", "Paragraph 7"), ("nothing", "Paragraph 3"),
                 ("Paragraph 03", "Paragraph 3"), ("Paragraph ٣", "Paragraph 3"), ("Paragraph ٣", "Paragraph ٣"),
                 ("12 and 12", "Paragraph 12"), ("P1, P2, P12", "Paragraph 12 is it"), ("", "Paragraph 1")]:
        metric("retrieval_score", p, g)
    for p, g in [("There are 12 unique paragraphs, not 13.", "12"), ("12", "12"), ("012", "12"), ("", "3"),
                 ("3 3 3 4", "3"), ("three", "3"), ("１２", "12"), ("١٢", "١٢"), ("12.5", "12"), ("x12y12z", "12")]:
        metric("count_score", p, g)
    for p, g in [("\n# comment\n    return x + 1\n", "return x+1"), ("```python\nfoo(bar)", "foo(bar, baz)"),
                 ("ccbcaa", "cbcbbbcc"), ("  \nfoo()", "foo()"), ("", ""), ("", "x"), ("x", ""), ("foo()", "foo()"),
                 ("// a\n# b\n`c`", "abc"), ("\n\n\nreturn y;", "return y;"), ("a/b/c", "a/b/c"),
                 ("a // b\nnext()", "next()"), ("über_größe = 1", "uber_grosse = 1"), ("x = 1\ny = 2", "y = 2")]:
        metric("code_sim_score", p, g)
    # Long code lines: b (the ground truth) of 200+ characters turns on difflib's autojunk.
    for n_a, n_b, alpha in [(180, 220, "ab"), (250, 260, "abc "), (300, 199, "xyz"), (199, 200, "abcd"),
                            (120, 400, "a(b)c;d=e "), (400, 400, "the quick brown fox"), (50, 1000, "ab")]:
        a = rand_code_line(rng, n_a, alpha)
        b = rand_code_line(rng, n_b, alpha)
        metric("code_sim_score", a, b)
    base = "self.model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=64) " * 4
    metric("code_sim_score", base[:-1], base.replace("64", "128")[:-1])
    metric("code_sim_score", "x" * 10 + base, base)

    for t in ["The Eiffel Tower, in Paris.", "an apple a day", "  A  B  ", "ÀÉÎ the Ö", "ΣΑΣ ΣΑΣ.", "Σ", "aΣ", "aΣb",
              "a\u0345Σ", "İİ", "x_y-z", "The the THE tHe", "a.an.the", "\u2028line\u2029sep\x85", "", "   ",
              "ǅungla ǈ Ǉ", "ＡＢＣ the", "ẞ straße"]:
        cases.append({"fn": "normalize_answer", "text": t, "result": m.normalize_answer(t)})

    for a, b in [("abcdefgh", "aijklmno"), ("abcxxxxx", "abcyyyyy"), ("abc", "abd"), ("a", "b"), ("same", "same"),
                 ("", ""), ("ab", ""), ("kitten", "sitting"), ("ccbcaa", "cbcbbbcc")]:
        cases.append({"fn": "fuzz_ratio", "a": a, "b": b, "score": fuzz.ratio(a, b)})

    # Random metric cases.
    for _ in range(30):
        p, g = rand_text(rng, rng.randint(0, 12)), rand_text(rng, rng.randint(1, 6))
        metric("qa_f1_score", p, g)
    for _ in range(30):
        p, g = rand_text(rng, rng.randint(0, 60)), rand_text(rng, rng.randint(1, 60))
        metric("rouge_score", p, g)
    for _ in range(12):
        classes = rng.sample(TREC_CLASSES, rng.randint(3, len(TREC_CLASSES)))
        p = " ".join(rng.choice(classes + ["the", "of", "something"]) for _ in range(rng.randint(0, 5)))
        metric("classification_score", p, rng.choice(classes), classes)
    for _ in range(10):
        nums = [str(rng.randint(0, 30)) for _ in range(rng.randint(0, 4))]
        metric("count_score", " ".join(nums) + " paragraphs", str(rng.randint(0, 30)))
        metric("retrieval_score", ", ".join("Paragraph " + x for x in nums), "Paragraph %d" % rng.randint(0, 30))
    for _ in range(20):
        p = "\n".join(rng.choice(CODE) for _ in range(rng.randint(1, 4)))
        metric("code_sim_score", p, rng.choice(CODE))

    # Scorers (eval.py), one case per task, with the first-line rule and the rounding.
    def gen_pred(task, rng):
        if task == "trec":
            return "\n" * rng.randint(0, 2) + rng.choice(TREC_CLASSES) + rng.choice(["", "\nOther", "\nType: Food"])
        if task in ("lcc", "repobench-p"):
            return "\n".join(rng.choice(CODE) for _ in range(rng.randint(1, 3)))
        if task == "passage_count":
            return str(rng.randint(1, 5))
        if task == "passage_retrieval_en":
            return "Paragraph %d" % rng.randint(1, 5)
        return "\n" * rng.randint(0, 1) + rand_text(rng, rng.randint(0, 20)) + rng.choice(["", "\nmore text", "\n"])

    def gen_answer(task, rng):
        if task == "trec":
            return rng.choice(TREC_CLASSES)
        if task in ("lcc", "repobench-p"):
            return rng.choice(CODE)
        if task == "passage_count":
            return str(rng.randint(1, 5))
        if task == "passage_retrieval_en":
            return "Paragraph %d" % rng.randint(1, 5)
        return rand_text(rng, rng.randint(1, 12))

    tasks = ["narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "gov_report", "qmsum",
             "multi_news", "trec", "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p"]
    for task in tasks:
        for n in (rng.randint(1, 9), rng.randint(10, 40)):
            preds = [gen_pred(task, rng) for _ in range(n)]
            answers = [[gen_answer(task, rng) for _ in range(rng.randint(1, 3))] for _ in range(n)]
            all_classes = TREC_CLASSES if task == "trec" else None
            cases.append({"fn": "scorer", "task": task, "preds": preds, "answers": answers,
                          "all_classes": all_classes, "score": ev.scorer(task, preds, answers, all_classes)})
    for task, n in [("qasper", 20), ("trec", 300), ("passage_count", 7), ("hotpotqa", 150), ("lcc", 260)]:
        preds = [gen_pred(task, rng) for _ in range(n)]
        answers = [[gen_answer(task, rng) for _ in range(rng.randint(1, 2))] for _ in range(n)]
        lengths = [rng.choice([rng.randint(0, 3999), rng.randint(4000, 7999), rng.randint(8000, 20000)])
                   for _ in range(n)]
        if task == "passage_count":
            lengths = [rng.randint(0, 3999) for _ in range(n)]  # two empty buckets: nan
        all_classes = TREC_CLASSES if task == "trec" else None
        scores = ev.scorer_e(task, preds, answers, lengths, all_classes)
        scores = {k: (None if math.isnan(v) else float(v)) for k, v in scores.items()}
        cases.append({"fn": "scorer_e", "task": task, "preds": preds, "answers": answers, "lengths": lengths,
                      "all_classes": all_classes, "scores": scores})

    with open(args.out, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print("wrote %d cases to %s" % (len(cases), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
