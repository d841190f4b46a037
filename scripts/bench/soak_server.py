#!/usr/bin/env python3
"""Load and soak test of `vatp serve` (not in CI): N concurrent streaming clients for D minutes.

Starts `vatp serve` (or uses --url), then keeps --clients asyncio clients busy for
--minutes: each sends a streaming /v1/completions or /v1/chat/completions request with a
random prompt length (20-1,200 words), max_tokens and KV policy (prompts of 400 words
or more: full, vatp, h2o, snapkv, streaming at budgets 0.25-0.5 or 64 tokens chunked),
reads it to the end, and sends the next; after a chat answer it continues that
conversation (up to 4 turns) with probability 0.6, so that prompt reuse (held caches,
`cached_tokens`) runs under load too. One request in
--disconnect-every is dropped after a few chunks (a client that vanishes) and must cost
nothing: once the load stops the server's KV pool has to hold no more than its held
conversations take. The queue is
kept small (--max-queue) so that deliberate 503 + Retry-After answers happen; any other
5xx, a transport error, a stream without [DONE] or an RSS that keeps growing fails the
run (exit 1).

Reported: requests by outcome, 503s, p50/p99 time to first token, p50/p99 inter-token
gap, aggregate generated tokens/s, and the server's RSS sampled every second. Bounded
means: its maximum stays under the RSS at ready + the model file (mapped, resident once
read) + --kv-memory + --scratch-mib, and the last third of the run's maximum is within --rss-growth of the
middle third's (no growth once warm).

  scripts/bench/soak_server.py -m MODEL.gguf [--clients 16] [--minutes 10] [--vatp build/vatp]
      [--kv-memory 256MiB] [--parallel 8] [--max-queue 6] [--url http://host:port] [--json OUT]
"""
import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time

import httpx

from server_proc import free_port, rss_kib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
POLICIES = [None, {"policy": "vatp", "budget": 0.25}, {"policy": "h2o", "budget": 0.5},
            {"policy": "snapkv", "budget": 0.3}, {"policy": "streaming", "budget": 0.25},
            {"policy": "vatp", "budget": 64, "schedule": "chunked", "chunk": 32}]


def prose():
    with open(os.path.join(REPO, "tests/data/jargon-4.4.7-prose.txt"), encoding="utf-8") as f:
        return f.read().split()


class Stats:
    def __init__(self):
        self.outcomes, self.ttft, self.itl, self.tokens, self.failures = {}, [], [], 0, []
        self.turns, self.turns_cached, self.cached_tokens = 0, 0, 0

    def count(self, what):
        self.outcomes[what] = self.outcomes.get(what, 0) + 1


def body_for(rng, words, conv):
    if conv and rng.random() < 0.6:  # the next turn of the last conversation
        b = {**conv["body"], "messages": conv["messages"] + [{"role": "user", "content": "Go on."}]}
        return "/v1/chat/completions", b
    n = rng.choice([20, 100, 400, 800, 1200])
    start = rng.randrange(0, len(words) - n)
    text = " ".join(words[start:start + n])
    b = {"max_tokens": rng.choice([8, 32, 64, 128]), "temperature": rng.choice([0, 0.7]), "stream": True,
         "seed": rng.randrange(1 << 30)}
    kv = rng.choice(POLICIES) if n >= 400 else None  # a fraction of a short prompt leaves no budget
    if kv:
        b["kv"] = kv
    if rng.random() < 0.5:
        return "/v1/chat/completions", {**b, "messages": [{"role": "user", "content": text + "\nSummarise."}]}
    return "/v1/completions", {**b, "prompt": text}


async def one(client, rng, words, stats, drop, conv):
    """One streamed request; the conversation to continue next (chat answers), or None."""
    path, body = body_for(rng, words, conv)
    turn = len(body.get("messages", [])) // 2  # 0: a new conversation
    if "messages" in body:
        body["stream_options"] = {"include_usage": True}
    t0 = time.monotonic()
    last, chunks, done, answer, cached = None, 0, False, "", None
    try:
        async with client.stream("POST", path, json=body) as r:
            if r.status_code == 503:
                stats.count("503 queue full")
                if "retry-after" not in r.headers:
                    stats.failures.append("503 without Retry-After")
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                return
            if r.status_code != 200:
                stats.count(f"HTTP {r.status_code}")
                stats.failures.append(f"HTTP {r.status_code}: {(await r.aread())[:200]!r}")
                return
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    break
                j = json.loads(line[6:])
                if "error" in j:
                    stats.count("error event")
                    stats.failures.append("error event: " + json.dumps(j)[:200])
                    return
                if not j.get("choices"):
                    if j.get("usage"):
                        cached = j["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0)
                    continue
                answer += j["choices"][0].get("delta", {}).get("content") or ""
                now = time.monotonic()
                if last is None:
                    stats.ttft.append(now - t0)
                else:
                    stats.itl.append(now - last)
                last, chunks = now, chunks + 1
                stats.tokens += 1
                if drop and chunks == 3:
                    stats.count("dropped by the client")
                    return
    except httpx.HTTPError as e:
        stats.count("transport error")
        stats.failures.append(f"transport error: {e!r}")
        return
    if not done:
        stats.count("stream without [DONE]")
        stats.failures.append("a stream ended without [DONE]")
        return None
    stats.count("200 complete")
    if "messages" not in body:
        return None
    if turn > 0:
        stats.turns += 1
        stats.turns_cached += 1 if cached else 0
        stats.cached_tokens += cached or 0
    if turn >= 3:
        return None
    return {"body": {k: v for k, v in body.items() if k not in ("messages", "stream_options")},
            "messages": body["messages"] + [{"role": "assistant", "content": answer}]}


async def client_loop(i, url, end, words, stats, disconnect_every):
    rng = random.Random(1000 + i)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        n, conv = 0, None
        while time.monotonic() < end:
            n += 1
            conv = await one(client, rng, words, stats, disconnect_every > 0 and (n + i) % disconnect_every == 0,
                             conv)


def sample_rss(pid, stop, out):
    while not stop.is_set():
        out.append((time.monotonic(), rss_kib(pid)))
        stop.wait(1.0)


def pool_bytes(url):
    """KV pool bytes reserved beyond what the conversations held for prompt reuse take."""
    text = httpx.get(url + "/metrics", timeout=10).text
    m = re.search(r"^vatp:kv_pool_reserved_bytes ([0-9.e+]+)$", text, re.M)
    held = sum(s["kv"]["bytes_reserved"] for s in httpx.get(url + "/slots", timeout=10).json()["slots"]
               if s["state"] == "held")
    return float(m.group(1)) - held if m else -1


def pct(v, q):
    return sorted(v)[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def start_server(a):
    port = free_port()
    cmd = [a.vatp, "serve", "-m", a.model, "--port", str(port), "-t", str(a.threads), "-c", "8192",
           "--parallel", str(a.parallel), "--kv-memory", a.kv_memory, "--max-queue", str(a.max_queue)]
    log = tempfile.TemporaryFile(mode="w+")  # the server's stderr, shown if it fails to start
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            log.seek(0)
            sys.exit("soak_server.py: vatp serve exited at start:\n" + log.read()[-2000:])
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("soak_server.py: vatp serve did not become healthy")


def parse_bytes(text):
    m = re.fullmatch(r"(\d+)\s*(|B|KiB|MiB|GiB)", text.strip())
    if not m:
        sys.exit(f"soak_server.py: --kv-memory {text!r}: use e.g. 256MiB")
    return int(m.group(1)) << {"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30}[m.group(2)]


def thirds(rss):
    """RSS samples (KiB) of the run's middle and last thirds."""
    if not rss:
        return [], []
    t0, t1 = rss[0][0], rss[-1][0]
    third = (t1 - t0) / 3
    return ([k for t, k in rss if t0 + third <= t < t0 + 2 * third], [k for t, k in rss if t >= t0 + 2 * third])


def report(a, stats, wall, rss, pool_after):
    middle, last = thirds(rss)
    r = {"clients": a.clients, "minutes": a.minutes, "wall_s": wall, "outcomes": stats.outcomes,
         "ttft_p50_s": pct(stats.ttft, 0.5), "ttft_p99_s": pct(stats.ttft, 0.99),
         "itl_p50_s": pct(stats.itl, 0.5), "itl_p99_s": pct(stats.itl, 0.99),
         "gen_tok_s": stats.tokens / wall, "rss_at_ready_mib": (rss[0][1] if rss else 0) / 1024,
         "rss_middle_third_max_mib": max(middle or [0]) / 1024, "rss_last_third_max_mib": max(last or [0]) / 1024,
         "rss_max_mib": max([k for _, k in rss] or [0]) / 1024, "kv_memory_mib": parse_bytes(a.kv_memory) / 2**20,
         "kv_pool_reserved_after": pool_after, "later_turns": stats.turns,
         "later_turns_with_cached_tokens": stats.turns_cached, "cached_tokens": stats.cached_tokens,
         "failures": stats.failures[:20]}
    print(json.dumps(r, indent=1))
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-m", "--model", default=os.environ.get("VATP_MODEL", ""))
    p.add_argument("--vatp", default=os.path.join(REPO, "build", "vatp"))
    p.add_argument("--url", default="", help="an already running server (RSS then not sampled)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--kv-memory", default="256MiB")
    p.add_argument("--max-queue", type=int, default=6)
    p.add_argument("--disconnect-every", type=int, default=10)
    p.add_argument("--rss-growth", type=float, default=1.10, help="last third's max RSS / the middle third's")
    p.add_argument("--scratch-mib", type=float, default=128, help="allowed beyond ready RSS + --kv-memory")
    p.add_argument("-t", "--threads", type=int, default=2)
    p.add_argument("--json", default="")
    a = p.parse_args()
    parse_bytes(a.kv_memory)  # a bad size is this script's error, before any server starts
    if not a.url and not os.path.isfile(a.model):
        sys.exit(f"soak_server.py: -m MODEL.gguf not found: {a.model!r} (or give --url)")
    proc, url = (None, a.url) if a.url else start_server(a)
    rss, stop = [], threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(proc.pid, stop, rss)) if proc else None
    if sampler:
        sampler.start()
    stats, words = Stats(), prose()
    t0 = time.monotonic()
    end = t0 + 60 * a.minutes

    async def run_all():
        await asyncio.gather(*(client_loop(i, url, end, words, stats, a.disconnect_every)
                               for i in range(a.clients)))

    try:
        asyncio.run(run_all())
        wall = time.monotonic() - t0
        time.sleep(2)  # dropped streams are noticed within a second
        pool_after = pool_bytes(url)
    finally:
        stop.set()
        if sampler:
            sampler.join()
        if proc:
            proc.terminate()
            proc.wait(60)
    r = report(a, stats, wall, rss, pool_after)
    bad = list(stats.failures)
    if pool_after != 0:
        bad.append(f"KV pool holds {pool_after} bytes (beyond the held conversations) after the load stopped")
    if rss and r["rss_last_third_max_mib"] > a.rss_growth * r["rss_middle_third_max_mib"]:
        bad.append("RSS grew: the last third's max %.0f MiB vs the middle third's %.0f MiB"
                   % (r["rss_last_third_max_mib"], r["rss_middle_third_max_mib"]))
    # The weights are mapped, so they become resident as they are first read.
    model_mib = os.path.getsize(a.model) / 2**20 if os.path.isfile(a.model) else 0
    bound = r["rss_at_ready_mib"] + model_mib + r["kv_memory_mib"] + a.scratch_mib
    r["rss_bound_mib"] = bound
    if rss and r["rss_max_mib"] > bound:
        bad.append("RSS %.0f MiB over the bound %.0f: at ready %.0f + the model file %.0f + --kv-memory %.0f + "
                   "%.0f MiB of scratch" % (r["rss_max_mib"], bound, r["rss_at_ready_mib"], model_mib,
                                            r["kv_memory_mib"], a.scratch_mib))
    r["passed"] = not bad
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    if bad:
        print("soak_server.py: FAILED:\n  " + "\n  ".join(bad[:20]), file=sys.stderr)
        sys.exit(1)
    print("soak_server.py: passed", file=sys.stderr)


if __name__ == "__main__":
    main()
