#!/usr/bin/env python3
"""Writes a vatp batch request file of N long prose prompts (tests/data/jargon-4.4.7-prose.txt),
the one behind docs/benchmarks.md's "where the serving target's time goes" table:

  scripts/bench/batch_requests.py -n 8 --words 2300 --max-tokens 128 --kv '{"policy": "full"}' > REQ.jsonl
  vatp batch -m MODEL.gguf --requests REQ.jsonl -o OUT.jsonl --parallel 8 -t 2 -c 4096 -q
"""
import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=8, help="requests")
    p.add_argument("--words", type=int, default=2300, help="prose words per prompt (2300: ~3,200 tokens)")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--kv", default='{"policy": "full"}', help="the requests' kv object (JSON)")
    a = p.parse_args()
    try:
        kv = json.loads(a.kv)
    except json.JSONDecodeError as e:
        sys.exit(f"batch_requests.py: --kv is not JSON: {e}")
    if a.n < 1 or a.words < 1 or a.max_tokens < 0:
        sys.exit("batch_requests.py: -n and --words must be >= 1, --max-tokens >= 0")
    words = open(os.path.join(REPO, "tests/data/jargon-4.4.7-prose.txt"), encoding="utf-8").read().split()
    if (a.n - 1) * 2500 + a.words > len(words):
        sys.exit(f"batch_requests.py: the prose has {len(words)} words, too few for {a.n} prompts of {a.words}")
    for i in range(a.n):
        print(json.dumps({"id": i, "prompt": " ".join(words[i * 2500:i * 2500 + a.words]),
                          "max_tokens": a.max_tokens, "ignore_eos": True, "temperature": 0, "kv": kv}))


if __name__ == "__main__":
    main()
