#!/usr/bin/env python3
"""`vatp batch` on 64 requests of mixed lengths and KV policies under a --kv-memory bound
that holds only a quarter of them with full caches. Checks that all finish, that every
output equals `vatp run` of the same request alone (same tokens), and reports the peak
RSS of the batch against the bound + a one-request run's RSS (model + scratch).

  scripts/bench/batch_memory.py -m MODEL.gguf [--vatp build/vatp] [-n 64] [-t 2] [--singles 64]
"""
import argparse, json, os, random, re, subprocess, sys, tempfile

POLICIES = [None, ("h2o", 0.5), ("vatp", 0.25), ("snapkv", 0.5), ("tova", 0.3), ("streaming", 0.25),
            ("vatp", 0.5)]


def words(repo):
    with open(os.path.join(repo, "tests/data/jargon-4.4.7-prose.txt"), encoding="utf-8") as f:
        return f.read().split()


def requests(repo, n, seed):
    rng, w = random.Random(seed), words(repo)
    out = []
    for i in range(n):
        length = rng.choice([40, 80, 150, 300, 500, 900])
        start = rng.randrange(0, len(w) - length)
        r = {"id": i, "prompt": " ".join(w[start:start + length]), "max_tokens": rng.choice([8, 16, 32]),
             "temperature": 0}
        pol = POLICIES[i % len(POLICIES)]
        if pol:
            r["kv"] = {"policy": pol[0], "budget": pol[1]}
            if pol[0] == "snapkv":
                r["kv"].update({"recent": 8, "window": 8})
        out.append(r)
    return out


def run(cmd):
    """Runs under /usr/bin/time -v; returns (exit code, stderr, peak RSS in bytes)."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return p.returncode, p.stderr, int(m.group(1)) * 1024 if m else 0


def batch(vatp, model, reqs, out, threads, extra):
    with open(out + ".req", "w") as f:
        for r in reqs:
            f.write(json.dumps(r) + "\n")
    rc, err, rss = run([vatp, "batch", "-m", model, "--requests", out + ".req", "-o", out, "-t", str(threads),
                        "-q", "--parallel", "16", "-c", "2048"] + extra)
    if rc != 0:
        sys.exit("vatp batch failed:\n" + err)
    with open(out) as f:
        return [json.loads(l) for l in f], rss, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", required=True)
    ap.add_argument("--vatp", default=None)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("--singles", type=int, default=64, help="requests also run alone and compared")
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    vatp = a.vatp or os.path.join(repo, "build/vatp")
    tmp = tempfile.mkdtemp()
    reqs = requests(repo, a.n, 7)
    full = [{k: v for k, v in r.items() if k != "kv"} for r in reqs]
    lines, _, _ = batch(vatp, a.m, full, tmp + "/full.jsonl", a.t, [])
    full_bytes = [l["kv_bytes_reserved"] for l in lines]
    limit = max(sum(full_bytes) // 4, max(full_bytes))
    lines, rss, err = batch(vatp, a.m, reqs, tmp + "/mixed.jsonl", a.t, ["--kv-memory", str(limit)])
    summary = err.strip().splitlines()[0]
    ok = sum(1 for l in lines if "text" in l)
    rc, _, rss_one = run([vatp, "run", "-m", a.m, "-p", "hi", "-n", "1", "-t", str(a.t), "--no-stats", "-c", "2048"])
    same = 0
    for r, l in list(zip(reqs, lines))[: a.singles]:
        cmd = [vatp, "run", "-m", a.m, "-p", r["prompt"], "-n", str(r["max_tokens"]), "--temp", "0", "-t", str(a.t),
               "--no-stats", "-c", "2048", "--json", tmp + "/one.json"]
        if "kv" in r:
            cmd += ["--kv-policy", r["kv"]["policy"], "--kv-budget", str(r["kv"]["budget"])]
            for k in ("recent", "window"):
                if k in r["kv"]:
                    cmd += ["--kv-" + k, str(r["kv"][k])]
        subprocess.run(cmd, check=True, capture_output=True)
        with open(tmp + "/one.json") as f:
            same += json.load(f)["generated_ids"] == l["tokens"]
    mib = lambda b: b / 1048576
    print(f"requests: {a.n}, finished: {ok}; {summary}")
    print(f"full-cache reservations: sum {mib(sum(full_bytes)):.1f} MiB, largest {mib(max(full_bytes)):.1f} MiB; "
          f"--kv-memory {mib(limit):.1f} MiB")
    print(f"outputs equal to the request run alone: {same}/{min(a.singles, a.n)}")
    print(f"peak RSS: batch {mib(rss):.1f} MiB; one-request run (model + scratch) {mib(rss_one):.1f} MiB; "
          f"batch - one-request = {mib(rss - rss_one):.1f} MiB vs bound {mib(limit):.1f} MiB")
    sys.exit(0 if ok == a.n and same == min(a.singles, a.n) else 1)


if __name__ == "__main__":
    main()
