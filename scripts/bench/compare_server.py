#!/usr/bin/env python3
"""vatp serve against llama-server: many long-prompt clients in the same KV memory.

Both servers get the same GGUF, thread count and KV memory: the memory llama-server
needs for --slots-full slots of one prompt + generation each (-np S, -c S x ctx). Then
--clients clients send, all at once, a distinct ~--prompt-tokens prompt (a haystack of
notes with a pass key at a random depth, the question at the end) and ask for --gen
tokens (greedy, ignore_eos). Three runs, one after the other:

  llama-server   -np S, its unified per-slot KV: at most S clients at once, the rest queue
  vatp full      --kv-memory M, full caches: admitted while their reservation fits in M
  vatp POLICY    the same M, each request {"kv": {policy, budget, schedule: chunked, chunk}}:
                 reservations of budget + chunk + gen tokens, so more run at once

Reported per run: wall time, aggregate generated tokens/s (all completion tokens over
the wall time from the first request to the last answer), the most requests the server
ran at once (its /metrics, sampled every 0.2 s), peak RSS, p50/max request latency, and
the quality of the answers: pass keys retrieved, and answers identical to vatp's full
cache. Ratios are against llama-server measured in the same invocation.

  scripts/bench/compare_server.py -m MODEL.gguf [--clients 16] [--slots-full 4]
      [--prompt-tokens 3000] [--gen 128] [-t 2] [--policy vatp] [--budget 0.25] [--chunk 64]
      [--vatp build/vatp] [--llama-server PATH] [--json OUT.json]

llama-server comes from scripts/bench/build-llamacpp.sh unless given. Needs httpx and
prometheus-client (scripts/install-deps.sh installs both).
"""
import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from server_proc import free_port, rss_kib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLOURS = ["red", "quick", "sly", "old", "young", "grey", "brown", "swift"]


def haystack(rng, n_notes, key):
    """Notes about foxes and apples with one pass-key sentence at a random depth."""
    notes = [f"Note {i}: the {rng.choice(COLOURS)} fox from village {rng.randrange(50)} carried "
             f"{rng.randrange(1000)} apples to the market by the river." for i in range(n_notes)]
    notes.insert(rng.randrange(n_notes), f"The pass key is {key}. Remember it. {key} is the pass key.")
    return ("There is important information hidden in the notes below. Find it and memorize it.\n"
            + " ".join(notes) + "\nWhat is the pass key? The pass key is")


def tokens_of(vatp, model, text):
    out = subprocess.run([vatp, "tokenize", "-m", model, "--ids"], input=text, capture_output=True,
                         text=True, check=True).stdout
    return len(json.loads(out)) if out.strip().startswith("[") else len(out.split())


def make_prompts(args):
    """One prompt per client of about --prompt-tokens tokens (sized by vatp's tokenizer)."""
    rng = random.Random(args.seed)
    per_note = tokens_of(args.vatp, args.model, haystack(random.Random(0), 100, 12345)) / 100
    n_notes = max(1, int(args.prompt_tokens / per_note))
    prompts = []
    for _ in range(args.clients):
        key = rng.randrange(10000, 100000)
        prompts.append((haystack(rng, n_notes, key), str(key)))
    return prompts


def kv_bytes_per_token(vatp, model):
    info = json.loads(subprocess.run([vatp, "info", "-m", model, "--json"], capture_output=True,
                                     text=True, check=True).stdout)
    return info["block_count"] * 2 * info["head_count_kv"] * info["head_dim"] * 2  # K and V, f16


class Server:
    """A server process on a free port; its stderr is kept for the report."""

    def __init__(self, argv, port):
        self.port = port
        self.log = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: [self.log.append(line) for line in self.proc.stderr], daemon=True).start()
        end = time.time() + 300
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited:\n" + "".join(self.log[-30:]))
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{argv[0]} did not become healthy:\n" + "".join(self.log[-30:]))

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


RUNNING_METRIC = {"vatp": "vllm:num_requests_running", "llama": "llamacpp:requests_processing"}


def running_now(server, kind):
    try:
        text = httpx.get(server.url + "/metrics", timeout=5).text
    except httpx.TransportError:
        return 0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == RUNNING_METRIC[kind]:
                return int(s.value)
    return 0


async def one_request(client, prompt, args, kv):
    body = {"prompt": prompt, "max_tokens": args.gen, "temperature": 0, "ignore_eos": True}
    if kv:
        body["kv"] = kv
    t0 = time.time()
    r = await client.post("/v1/completions", json=body)
    if r.status_code != 200:
        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
    j = r.json()
    return {"text": j["choices"][0]["text"], "completion_tokens": j["usage"]["completion_tokens"],
            "prompt_tokens": j["usage"]["prompt_tokens"], "seconds": time.time() - t0,
            "kv": j["usage"].get("kv")}


async def all_requests(server, prompts, args, kv):
    limits = httpx.Limits(max_connections=len(prompts) + 4)
    async with httpx.AsyncClient(base_url=server.url, timeout=3600, limits=limits) as client:
        return await asyncio.gather(*(one_request(client, p, args, kv) for p, _ in prompts))


def measure(server, kind, prompts, args, kv=None):
    """Sends every prompt at once; samples running requests and RSS while they run."""
    asyncio.run(all_requests(server, prompts[:1], argparse.Namespace(gen=2), kv))  # warm up
    peak = {"running": 0, "rss": server.rss_kib()}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["running"] = max(peak["running"], running_now(server, kind))
            peak["rss"] = max(peak["rss"], server.rss_kib())
            done.wait(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.time()
    try:
        answers = asyncio.run(all_requests(server, prompts, args, kv))
    finally:
        wall = time.time() - t0
        done.set()
        sampler.join()
    lat = sorted(a["seconds"] for a in answers)
    return {"wall_s": wall, "gen_tok_s": sum(a["completion_tokens"] for a in answers) / wall,
            "max_running": peak["running"], "peak_rss_mib": peak["rss"] / 1024,
            "p50_latency_s": statistics.median(lat), "max_latency_s": lat[-1],
            "prompt_tokens_mean": statistics.mean(a["prompt_tokens"] for a in answers),
            "completion_tokens": sum(a["completion_tokens"] for a in answers),
            "passkeys": sum(key in a["text"] for a, (_, key) in zip(answers, prompts)),
            "answers": [a["text"] for a in answers], "kv": [a["kv"] for a in answers]}


def run_llama(args, prompts, ctx_per_slot):
    port = free_port()
    s = Server([args.llama_server, "-m", args.model, "-t", str(args.threads), "-np", str(args.slots_full),
                "-c", str(args.slots_full * ctx_per_slot), "--host", "127.0.0.1", "--port", str(port),
                "--metrics", "--no-webui"], port)
    try:
        r = measure(s, "llama", prompts, args)
        kv_line = [line.strip() for line in s.log if "KV buffer size" in line or "KV self size" in line]
        r["kv_log"] = kv_line[:2]
        return r
    finally:
        s.stop()


def run_vatp(args, prompts, kv_memory, kv=None):
    port = free_port()
    s = Server([args.vatp, "serve", "-m", args.model, "-t", str(args.threads), "--parallel", str(args.clients),
                "--kv-memory", str(kv_memory), "-c", str(args.ctx), "--port", str(port)], port)
    try:
        return measure(s, "vatp", prompts, args, kv)
    finally:
        s.stop()


def identical_to(a, b):
    return sum(x == y for x, y in zip(a["answers"], b["answers"]))


def report(args, runs, kv_memory, rev):
    base_name = next(iter(runs))
    base = runs[base_name]
    lines = [f"{args.clients} clients at once, ~{args.prompt_tokens}-token prompts "
             f"(mean {base['prompt_tokens_mean']:.0f} tokens), {args.gen} generated tokens each, "
             f"-t {args.threads}, KV memory {kv_memory / 2**20:.1f} MiB (= llama-server -np {args.slots_full} "
             f"-c {args.slots_full * args.ctx_slot}), vatp {rev}", "",
             f"| server | wall s | gen tok/s | × {base_name} | most at once | × | peak RSS MiB "
             "| p50 / max latency s | pass keys | = vatp full |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in runs.items():
        same = identical_to(r, runs["vatp full"]) if "vatp full" in runs else 0
        lines.append(f"| {name} | {r['wall_s']:.1f} | {r['gen_tok_s']:.2f} | {r['gen_tok_s'] / base['gen_tok_s']:.2f} "
                     f"| {r['max_running']} | {r['max_running'] / max(1, base['max_running']):.2f} "
                     f"| {r['peak_rss_mib']:.0f} | {r['p50_latency_s']:.1f} / {r['max_latency_s']:.1f} "
                     f"| {r['passkeys']}/{args.clients} | {same}/{args.clients} |")
    return "\n".join(lines)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--slots-full", type=int, default=4, help="full-cache slots the KV memory holds")
    p.add_argument("--prompt-tokens", type=int, default=3000)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("-t", "--threads", type=int, default=2)
    p.add_argument("--policy", default="vatp")
    p.add_argument("--budget", type=float, default=0.25)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--seed", type=int, default=20261204)
    p.add_argument("--vatp", default=os.path.join(REPO, "build", "vatp"))
    p.add_argument("--llama-server", default="")
    p.add_argument("--only", default="", help="comma list of runs to do: llama,full,policy (default all)")
    p.add_argument("--json", default="", help="also write every figure and answer here")
    args = p.parse_args()
    for path, what in [(args.model, "-m MODEL.gguf"), (args.vatp, "--vatp")]:
        if not os.path.isfile(path):
            sys.exit(f"compare_server.py: {what} not found: {path}")
    if not args.llama_server:
        bench = subprocess.run(["bash", os.path.join(HERE, "build-llamacpp.sh")], capture_output=True,
                               text=True, check=True).stdout.strip()
        args.llama_server = os.path.join(os.path.dirname(bench), "llama-server")
    return args


def main():
    args = parse_args()
    prompts = make_prompts(args)
    # A slot holds the longest prompt (by vatp's count, + 5 % for the other tokenizer) and its generation.
    longest = max(tokens_of(args.vatp, args.model, p) for p, _ in prompts)
    args.ctx_slot = int(longest * 1.05) + args.gen
    args.ctx = args.ctx_slot
    kv_memory = args.slots_full * args.ctx_slot * kv_bytes_per_token(args.vatp, args.model)
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    only = set(args.only.split(",")) if args.only else {"llama", "full", "policy"}
    kv = {"policy": args.policy, "budget": args.budget, "schedule": "chunked", "chunk": args.chunk}
    runs = {}
    if "llama" in only:
        runs["llama-server"] = run_llama(args, prompts, args.ctx_slot)
        print("llama-server done", runs["llama-server"]["kv_log"], file=sys.stderr)
    if "full" in only:
        runs["vatp full"] = run_vatp(args, prompts, kv_memory)
        print("vatp full done", file=sys.stderr)
    if "policy" in only:
        runs[f"vatp {args.policy} {args.budget:g} chunked {args.chunk}"] = run_vatp(args, prompts, kv_memory, kv)
    print(report(args, runs, kv_memory, rev))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "kv_memory": kv_memory, "revision": rev, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
