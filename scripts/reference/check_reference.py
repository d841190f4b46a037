#!/usr/bin/env python3
"""Checks vatp_reference.py against the closed-form statements of specs/vatp.md, computed
independently from the attention matrices the reference returns:

  §1.2  H2O w/ VATP:   score_k = ||v_k||_1 · Σ_{all queries so far} A_{q,k}      (kept, non-sink)
        Scissorhands:  score_k = ||v_k||_1 · [(1/400) Σ_{last 400 prompt q} A + Σ_decode A]
        sinks (VATP only): score = fp16 max; evicted scores are 0
  §1.4  one eviction per head per decode step; attended = heavy + recent + 1 (VATP repo,
        view aliasing) or heavy + recent (H2O's .clone(), the current token included)
  §1.5  heavy/recent integer formulas

  python3 scripts/reference/check_reference.py      (exit 1 on a failure)
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vatp_reference as ref  # noqa: E402


def run_collect(q, k, v, L, **kw):
    layer = ref.HeavyHitterLayer(**kw)
    attns, steps = [], []
    n = q.shape[1]
    for end in [L] + list(range(L + 1, n + 1)):
        start = 0 if end == L else end - 1
        attns.append(layer.forward(q[:, start:end], k[:, :end], v[:, :end]))
        steps.append((end, layer.retained(), layer.attended_next(), layer.previous_scores.copy()))
    return layer, attns, steps


def check(variant, clone, ratio, sinks, L, T, seed):
    rng = np.random.default_rng(seed)
    H, d = 2, 8
    q, k = rng.normal(size=(H, L + T, d)), rng.normal(size=(H, L + T, d))
    v = rng.normal(size=(H, L + T, d)) * np.exp(rng.normal(size=(H, L + T, 1)))
    h2o, applyval = variant in ("h2o", "vatp"), variant.startswith("vatp")
    layer, attns, steps = run_collect(q, k, v, L, heavy_ratio=ratio, h2o=h2o, applyval=applyval, sink_len=sinks,
                                      clone_mask=clone)
    r = ratio
    want_heavy, want_recent = (int(r * L), int(r * L)) if h2o else (2 * int(r * L) - 10, 10)
    assert (layer.heavy, layer.recent) == (want_heavy, want_recent), (layer.heavy, layer.recent)
    vnorm = np.abs(v).sum(-1)  # [H, N]
    # Independent accumulation of the spec's formula.
    acc = np.zeros((H, L + T))
    first = attns[0]  # [H, L, L]
    acc[:, :L] = first[:, -400:, :].sum(1) / 400 if not h2o else first.sum(1)
    budget = want_heavy + want_recent
    for i, (kv_len, kept, att, prev) in enumerate(steps):
        if i > 0:
            acc[:, :kv_len] += attns[i][:, 0, :]
        score = acc[:, :kv_len] * (vnorm[:, :kv_len] if applyval else 1)
        for h in range(H):
            for p in range(kv_len):
                if p in kept[h]:
                    if applyval and p < sinks:
                        assert prev[h, p] >= ref.FP16_MAX, (i, h, p)
                    else:
                        assert np.isclose(prev[h, p], score[h, p], rtol=1e-9), (variant, i, h, p, prev[h, p], score[h, p])
                else:
                    assert prev[h, p] == 0, (i, h, p)
            if kv_len > budget:
                assert len(kept[h]) == budget
                n_att = len(att[h]) + 1  # + the next token
                assert n_att == (budget if clone else budget + 1), (clone, n_att, budget)
            if i > 0 and kv_len - 1 > budget:  # one eviction per decode step
                before = set(steps[i - 1][1][h]) | {kv_len - 1}
                assert len(before - set(kept[h])) == 1 and set(kept[h]) <= before
    return True


def main():
    cases = [("h2o", False, 0.25, 0, 80, 10), ("h2o", True, 0.25, 0, 80, 10), ("vatp", False, 0.25, 20, 120, 10),
             ("scissorhands", False, 0.25, 0, 90, 10), ("vatp-scissorhands", False, 0.25, 20, 90, 10),
             ("scissorhands", False, 0.2, 0, 450, 6), ("vatp-scissorhands", True, 0.2, 8, 450, 6)]
    for i, c in enumerate(cases):
        check(*c, seed=100 + i)
        print("ok", c)


if __name__ == "__main__":
    main()
