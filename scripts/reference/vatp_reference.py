"""Plain numpy reimplementation of the official VATP / H2O masking code (the spec).

It follows, step by step, `LlamaAttention_heavy_hitter.forward` of
guozhiyu/vatp@39ea686 `utils_hh/modify_llama.py` as described in specs/vatp.md §1.2
(and FMInference/H2O@ac75c2a `h2o_hf/utils_hh/modify_llama.py` when clone_mask=True,
§2.1). It is written for clarity, not speed: one layer, batch 1, full K/V kept and
pruned tokens only masked, exactly like the reference.

Deviations, all explicit parameters:
  * dtype: float64 by default (the reference computes the softmax in fp32 and keeps
    probabilities and scores in fp16; half=True imitates that by rounding to float16
    where the reference stores fp16 tensors).
  * group > 1 (GQA) is an extension the official code does not have (it is MHA only,
    specs/vatp.md §4.1): the per-query-head column sums of one group are SUMMED to one
    score per KV head, then multiplied by that KV head's value norm; the mask is per KV
    head and shared by the group's query heads. group=1 is the official code.
  * topk ties: torch.topk does not specify an order for ties; here ties keep the lower
    position (stable sort on -score). The generator rejects cases with near-ties.
  * recent == 0 is rejected (the H2O code's `score_mask[:, -0:]` would mark every
    column, a degenerate case no preset uses).
"""

import numpy as np

FP16_MIN = float(np.finfo(np.float16).min)  # -65504, torch.finfo(float16).min
FP16_MAX = float(np.finfo(np.float16).max)  # 65504
SCISSOR_WINDOW = 400  # last prompt queries the "Scissorhands" setting averages over
SCISSOR_RECENT = 10


class HeavyHitterLayer:
    """State of one LlamaAttention_heavy_hitter module between forward calls."""

    def __init__(self, heavy_ratio, recent_ratio=None, h2o=True, applyval=False, sink_len=0,
                 clone_mask=False, group=1, half=False):
        # pred.py forces recent_ratio = heavy_ratio (specs/vatp.md §1.1).
        self.heavy_ratio = heavy_ratio
        self.recent_ratio = heavy_ratio if recent_ratio is None else recent_ratio
        self.h2o = h2o
        self.applyval = applyval
        self.sink_len = sink_len
        self.clone_mask = clone_mask  # True: original H2O (.clone()); False: VATP repo (a view)
        self.group = group
        self.half = half
        self.attention_masks_next = None  # [Hkv, kv_len + 1] after a forward
        self.previous_scores = None  # [Hkv, kv_len]
        self.value_norm = None  # [Hkv, kv_len]
        self.heavy = self.recent = self.cache_budget = None
        self.last_margin = None  # relative gap between the last kept and first dropped heavy score

    def _store(self, x):
        # Where the reference holds an fp16 tensor.
        return x.astype(np.float16).astype(np.float64) if self.half else x

    def forward(self, q, k_all, v_all):
        """q: [Hq, q_len, d] queries of the new tokens; k_all, v_all: [Hkv, kv_len, d], the
        whole cache including the new tokens (the reference concatenates and keeps all).
        Returns the attention probabilities A: [Hq, q_len, kv_len]."""
        hq, q_len, d = q.shape
        hkv, kv_len, _ = k_all.shape
        assert hq == hkv * self.group
        # 1. Value norms (VATP): L1 over head_dim of the new tokens' values, per head.
        value_l1 = self._store(np.abs(v_all[:, kv_len - q_len:, :]).sum(-1))  # [Hkv, q_len]
        if self.value_norm is None:
            self.value_norm = value_l1
        else:
            self.value_norm = np.concatenate([self.value_norm, value_l1], axis=1)

        # 2. Attention: logits + causal mask, then the pruning mask of the previous call.
        k_rep = np.repeat(k_all, self.group, axis=0)  # [Hq, kv_len, d]
        logits = self._store(np.einsum("hqd,hkd->hqk", q, k_rep) / np.sqrt(d))
        qpos = np.arange(kv_len - q_len, kv_len)[:, None]
        kpos = np.arange(kv_len)[None, :]
        logits = np.where(kpos > qpos, FP16_MIN, logits)  # HF causal mask (finfo.min)
        if self.attention_masks_next is not None:
            m = np.repeat(self.attention_masks_next, self.group, axis=0)[:, None, :]  # [Hq, 1, kv_len]
            logits = logits * m + (1 - m) * FP16_MIN
        logits = logits - logits.max(-1, keepdims=True)
        p = np.exp(logits)
        attn = self._store(p / p.sum(-1, keepdims=True))  # softmax in fp32, cast to fp16

        # 3. Column sums over the query axis (reduced over the GQA group, see header).
        def colsum(a):  # [Hq, rows, kv_len] -> [Hkv, kv_len]
            s = a.sum(1)
            return s.reshape(hkv, self.group, kv_len).sum(1)

        cur = self._store(colsum(attn))
        if self.applyval:
            cur = self._store(cur * self.value_norm)

        # 4. Accumulate (decode) or set the budget (prefill, once).
        if self.previous_scores is not None:
            cur[:, :-1] += self.previous_scores
            cur = self._store(cur)
        else:
            if not self.h2o:
                # "Scissorhands": mean over the last 400 prompt queries (divisor 400 even
                # when fewer rows exist); replaces step 3.
                cur = self._store(colsum(attn[:, -SCISSOR_WINDOW:, :]) / SCISSOR_WINDOW)
                if self.applyval:
                    cur = self._store(cur * self.value_norm)
                self.heavy = int(self.heavy_ratio * kv_len) * 2 - SCISSOR_RECENT
                self.recent = SCISSOR_RECENT
            else:
                self.heavy = int(self.heavy_ratio * kv_len)
                self.recent = int(self.recent_ratio * kv_len)
            assert self.recent > 0, "recent == 0 is not supported (see header)"
            assert self.heavy >= 0
            self.cache_budget = self.heavy + self.recent
            if self.applyval:
                cur[:, :self.sink_len] = FP16_MAX  # attention sinks: always win topk

        # 5. Mask for the next call.
        self.previous_scores = cur
        mask = np.ones((hkv, kv_len + 1))
        self.last_margin = None
        if kv_len > self.cache_budget:
            mask[:, :-self.recent] = 0
            selected = self.previous_scores[:, :-self.recent]
            if self.heavy > 0:
                order = np.argsort(-selected, axis=-1, kind="stable")  # ties: lower position
                keep = order[:, :self.heavy]
                rows = np.arange(hkv)[:, None]
                mask[rows, keep] = 1
                if selected.shape[1] > self.heavy:
                    s = np.take_along_axis(selected, order, axis=-1)
                    kth, nxt = s[:, self.heavy - 1], s[:, self.heavy]
                    self.last_margin = float(np.min((kth - nxt) / np.maximum(np.abs(kth), 1e-30)))
        # H2O stores a copy; the VATP repo stores the mask itself, so the write below
        # through score_mask (a view) also un-masks column kv_len - recent for the next call.
        self.attention_masks_next = mask.copy() if self.clone_mask else mask
        score_mask = mask[:, :-1]  # a view, as in PyTorch
        score_mask[:, -self.recent:] = 1
        self.previous_scores = self.previous_scores * score_mask  # evicted scores become 0
        self.score_mask = score_mask.copy()
        return attn

    def retained(self):
        """Per KV head, sorted positions the score mask keeps (score not zeroed): the heavy
        set plus the last `recent` positions — what a physically compacted cache holds.
        (H2O's copy masks position kv_len - recent for one call but keeps its score.)"""
        return [[int(i) for i in np.nonzero(self.score_mask[h])[0]] for h in range(self.score_mask.shape[0])]

    def attended_next(self):
        """Per KV head, sorted past positions the next call will attend (the new token is
        attended in addition)."""
        kv_len = self.previous_scores.shape[1]
        return [[int(i) for i in np.nonzero(self.attention_masks_next[h, :kv_len])[0]]
                for h in range(self.attention_masks_next.shape[0])]


def run(q, k, v, prompt_len, **layer_kwargs):
    """Prefill with the first prompt_len tokens, then one decode call per remaining token.
    q: [Hq, N, d]; k, v: [Hkv, N, d]. Returns (layer, steps), steps[i] = dict(kv_len,
    kept, attended_next, margin) after the prefill (i = 0) and after each decode call."""
    layer = HeavyHitterLayer(**layer_kwargs)
    n = q.shape[1]
    steps = []
    for end in [prompt_len] + list(range(prompt_len + 1, n + 1)):
        start = 0 if end == prompt_len else end - 1
        layer.forward(q[:, start:end], k[:, :end], v[:, :end])
        # Invariant of the official code (checked, not assumed): a kept token's score is
        # never 0 and every evicted score is, so each decode call drops exactly one token.
        steps.append(dict(kv_len=end, kept=layer.retained(), attended_next=layer.attended_next(),
                          margin=layer.last_margin))
    return layer, steps
