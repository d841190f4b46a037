"""logprobs and echo: the numbers equal `vatp ppl`'s, and the shapes are OpenAI's and
what lm-evaluation-harness's local-completions model reads (log-likelihood tasks)."""
import json
import math
import subprocess

import pytest

from conftest import BIN, MODEL

TEXT = " ".join(f"In year {1700 + i} the harbour of town {i % 9} shipped {i * 7} barrels of salted fish and "
                f"{i * 3} crates of wool to the northern markets." for i in range(40))


def completion(server, **body):
    with server.http() as h:
        r = h.post("/v1/completions", json={"model": "x", **body})
        assert r.status_code == 200, r.text
        return r.json()


def test_echo_logprobs_equal_vatp_ppl(server, tmp_path):
    """The prompt's logprobs are −nll of llama-perplexity's protocol, bit for bit: the
    first 64-token chunk scored at positions 33..63."""
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT)
    out = tmp_path / "ppl.json"
    subprocess.run([BIN, "ppl", "-m", MODEL, "-f", str(text_file), "-c", "64", "--chunks", "1", "-t", "2",
                    "--json", str(out)], check=True, capture_output=True)
    ppl = json.loads(out.read_text())
    with server.http() as h:
        ids = h.post("/tokenize", json={"content": TEXT, "add_special": True}).json()["tokens"][:64]
    j = completion(server, prompt=ids, echo=True, logprobs=1, max_tokens=0)
    lp = j["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == 64
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    scored = lp["token_logprobs"][33:64]
    assert ppl["n_scored"] == len(scored) == 31
    assert ppl["targets"] == ids[33:64]
    assert -sum(scored) / 31 == ppl["nll_mean"]
    assert j["usage"]["completion_tokens"] == 0 and j["usage"]["prompt_tokens"] == 64


def test_lm_eval_loglikelihood_request(server):
    """The request local-completions sends: token ids (a list of one list), echo,
    logprobs 1, max_tokens 1; it sums token_logprobs[ctxlen:-1] and checks greediness
    against max(top_logprobs[i].values())."""
    with server.http() as h:
        ctx = h.post("/tokenize", json={"content": "The capital of France is"}).json()["tokens"]
        cont = h.post("/tokenize", json={"content": " Paris"}).json()["tokens"]
    j = completion(server, prompt=[ctx + cont], echo=True, logprobs=1, max_tokens=1, temperature=0, seed=1234)
    choice = j["choices"][0]
    lp = choice["logprobs"]
    assert len(lp["token_logprobs"]) == len(ctx) + len(cont) + 1
    cont_lp = lp["token_logprobs"][len(ctx):-1]
    assert len(cont_lp) == len(cont) and all(x < 0 for x in cont_lp)
    for tok_lp, top in zip(cont_lp, lp["top_logprobs"][len(ctx):-1]):
        assert len(top) == 1 and max(top.values()) >= tok_lp
    assert choice["text"].startswith("The capital of France is Paris")
    # The offsets walk the token pieces.
    assert lp["text_offset"][0] == 0
    assert all(b - a == len(t.encode()) for a, b, t in zip(lp["text_offset"], lp["text_offset"][1:], lp["tokens"]))


def test_completion_logprobs_and_echo(server):
    j = completion(server, prompt="Once upon a time", max_tokens=8, temperature=0, logprobs=3, ignore_eos=True)
    lp = j["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == 8 == j["usage"]["completion_tokens"]
    assert "".join(lp["tokens"]) == j["choices"][0]["text"]
    for chosen, tok, top in zip(lp["token_logprobs"], lp["tokens"], lp["top_logprobs"]):
        assert len(top) == 3 and top[tok] == chosen == max(top.values())  # greedy: the top token
        assert sum(math.exp(v) for v in top.values()) <= 1.0 + 1e-9
    e = completion(server, prompt="Once upon a time", max_tokens=8, temperature=0, echo=True, ignore_eos=True)
    assert e["choices"][0]["text"] == "Once upon a time" + j["choices"][0]["text"]
    assert e["choices"][0]["logprobs"] is None


def test_echo_streams_the_prompt_first(server):
    with server.http() as h:
        with h.stream("POST", "/v1/completions",
                      json={"prompt": "The sea was", "max_tokens": 4, "echo": True, "stream": True}) as r:
            data = [json.loads(line[6:]) for line in r.iter_lines()
                    if line.startswith("data: ") and line != "data: [DONE]"]
    assert data[0]["choices"][0]["text"] == "The sea was"


def stream_chunks(server, path, body):
    with server.http() as h:
        with h.stream("POST", path, json={**body, "stream": True}) as r:
            assert r.status_code == 200
            return [json.loads(line[6:]) for line in r.iter_lines()
                    if line.startswith("data: ") and line != "data: [DONE]"]


@pytest.mark.parametrize("stop", [None, " the"])
def test_streamed_completion_logprobs_equal_the_whole_response(server, stop):
    """Each chunk carries its tokens' logprobs; together (with the finish chunk's, for
    tokens a stop string withheld) they are the non-streaming response's, offsets too."""
    body = {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "logprobs": 2, "ignore_eos": True}
    if stop:
        body["stop"] = stop
    whole = completion(server, **body)["choices"][0]
    chunks = stream_chunks(server, "/v1/completions", body)
    got = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for c in chunks:
        lp = c["choices"][0]["logprobs"]
        if lp:
            for k in got:
                got[k] += lp[k]
    assert got == whole["logprobs"]
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["text"]
    assert len(got["tokens"]) > 0


def joined_logprobs(chunks, index=0):
    got = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for c in chunks:
        for ch in c["choices"]:
            if ch["index"] == index and ch["logprobs"]:
                for k in got:
                    got[k] += ch["logprobs"][k]
    return got


@pytest.mark.parametrize("max_tokens", [0, 1, 6])
def test_streamed_echo_and_logprobs_equal_the_whole_response(server, max_tokens):
    """echo + logprobs while streaming (lm-eval's scoring request, streamed): the first
    chunk is the prompt with its logprobs, once the prefill has them; then the
    generated tokens'. Joined, they are the non-streaming response's, offsets too."""
    body = {"prompt": "The quick brown fox jumps over", "max_tokens": max_tokens, "temperature": 0,
            "logprobs": 3, "echo": True, "ignore_eos": True}
    whole = completion(server, **body)["choices"][0]
    chunks = stream_chunks(server, "/v1/completions", body)
    assert chunks[0]["choices"][0]["text"] == "The quick brown fox jumps over"
    assert chunks[0]["choices"][0]["logprobs"]["token_logprobs"][0] is None  # nothing predicts the first
    assert joined_logprobs(chunks) == whole["logprobs"]
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["text"]


def test_streamed_batched_prompts_equal_one_request_each(server):
    """Several prompts while streaming: chunks of choice i (prompt i) interleave as they
    come; each choice's text and logprobs are what prompt i alone gets; one finish chunk
    each; the usage chunk sums them."""
    prompts = ["Once upon a time", "The capital of France is", "1, 2, 3,"]
    body = dict(max_tokens=8, temperature=0, logprobs=1, ignore_eos=True)
    alone = [completion(server, prompt=p, **body) for p in prompts]
    chunks = stream_chunks(server, "/v1/completions",
                           {"prompt": prompts, "stream_options": {"include_usage": True}, **body})
    for i, want in enumerate(alone):
        mine = [ch for c in chunks for ch in c["choices"] if ch["index"] == i]
        assert "".join(ch["text"] for ch in mine) == want["choices"][0]["text"]
        assert [ch["finish_reason"] for ch in mine if ch["finish_reason"]] == [want["choices"][0]["finish_reason"]]
        assert joined_logprobs(chunks, i) == want["choices"][0]["logprobs"]
    assert chunks[-1]["choices"] == []
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"]:
        assert chunks[-1]["usage"][k] == sum(a["usage"][k] for a in alone)


def test_streamed_chat_logprobs_through_the_openai_client(server):
    args = dict(model="x", messages=[{"role": "user", "content": "Count to five."}], temperature=0, max_tokens=12,
                logprobs=True, top_logprobs=3)
    whole = server.client().chat.completions.create(**args).choices[0].logprobs.content
    streamed = []
    for chunk in server.client().chat.completions.create(stream=True, **args):
        if chunk.choices and chunk.choices[0].logprobs and chunk.choices[0].logprobs.content:
            streamed += chunk.choices[0].logprobs.content
    assert [(t.token, t.logprob, [(a.token, a.logprob) for a in t.top_logprobs]) for t in streamed] == \
        [(t.token, t.logprob, [(a.token, a.logprob) for a in t.top_logprobs]) for t in whole]
    assert len(whole) > 0


def test_chat_logprobs_through_the_openai_client(server):
    r = server.client().chat.completions.create(
        model="x", messages=[{"role": "user", "content": "Count to five."}], temperature=0, max_tokens=10,
        logprobs=True, top_logprobs=4)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for t in content:
        assert len(t.top_logprobs) == 4
        assert [a.logprob for a in t.top_logprobs] == sorted((a.logprob for a in t.top_logprobs), reverse=True)
        assert t.logprob == t.top_logprobs[0].logprob and t.token == t.top_logprobs[0].token
        assert bytes(t.bytes).decode(errors="replace") == t.token or not t.bytes
    assert "".join(t.token for t in content).startswith(r.choices[0].message.content)


def test_batched_prompts_equal_one_request_each(server):
    """A list of prompts (lm-eval's local-completions batches them): choices[i] is what
    prompt i alone gets, logprobs and echo included; usage is the sum."""
    prompts = ["Once upon a time", "The capital of France is", [1, 504, 3458, 282, 4649, 314]]
    body = dict(max_tokens=6, temperature=0, logprobs=2, echo=True, ignore_eos=True)
    both = completion(server, prompt=prompts, **body)
    alone = [completion(server, prompt=p, **body) for p in prompts]
    assert [c["index"] for c in both["choices"]] == [0, 1, 2]
    for got, want in zip(both["choices"], alone):
        w = want["choices"][0]
        assert got["text"] == w["text"] and got["logprobs"] == w["logprobs"]
        assert got["finish_reason"] == w["finish_reason"]
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"]:
        assert both["usage"][k] == sum(a["usage"][k] for a in alone)
    assert both["usage"]["kv"]["bytes_full_cache"] == sum(a["usage"]["kv"]["bytes_full_cache"] for a in alone)


@pytest.mark.parametrize("body,message", [
    ({"prompt": ["a"] * 65}, "at most 64 prompts"),
    ({"prompt": ["a", 3]}, "prompt[1]"),
    ({"prompt": ["a", [1, 99999999]]}, "prompt[1]"),
])
def test_bad_batched_prompts(server, body, message):
    with server.http() as h:
        r = h.post("/v1/completions", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("path,body", [
    ("/v1/completions", {"prompt": "hi", "logprobs": 21}),
    ("/v1/completions", {"prompt": "hi", "logprobs": True}),
    ("/v1/completions", {"prompt": "hi", "top_logprobs": 2}),
    ("/v1/completions", {"prompt": "hi", "echo": "yes"}),
    ("/v1/completions", {"prompt": [1, 99999999]}),
    ("/v1/completions", {"prompt": []}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "logprobs": 2}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "echo": True}),
])
def test_bad_logprob_requests(server, path, body):
    with server.http() as h:
        r = h.post(path, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_value" and r.json()["error"]["message"]
