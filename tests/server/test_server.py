"""vatp serve through the official openai client and raw HTTP: the OpenAI API, per-request
KV policies, batch invariance end to end, disconnects, bad requests, shutdown."""
import concurrent.futures
import json
import socket
import time

import httpx
import openai
import pytest

from conftest import Server, secs, wait_for

LONG = " ".join(
    f"Note {i}: the {c} fox from village {i % 7} carried {i * 3} apples to the market by the river."
    for i, c in zip(range(120), ["red", "quick", "sly", "old", "young", "grey"] * 20))
CHAT = [{"role": "user", "content": "Name three colours of the rainbow."}]


def greedy(**kw):
    return {"temperature": 0, "max_tokens": 24, **kw}


def test_health_models_tokenize(server):
    with server.http() as h:
        assert h.get("/health").json() == {"status": "ok"}
        models = h.get("/v1/models").json()
        assert models["object"] == "list" and models["data"][0]["object"] == "model"
        toks = h.post("/tokenize", json={"content": "Hello world"}).json()["tokens"]
        assert len(toks) >= 2
        assert h.post("/detokenize", json={"tokens": toks}).json()["content"] == "Hello world"


def test_chat_and_completions(server):
    c = server.client()
    r = c.chat.completions.create(model="x", messages=CHAT, **greedy())
    assert r.object == "chat.completion" and r.model == "x"
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 24
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    t = c.completions.create(model="x", prompt="Once upon a time", **greedy(max_tokens=12))
    assert t.object == "text_completion" and t.choices[0].finish_reason == "length"
    assert t.usage.completion_tokens == 12


def test_streaming_equals_non_streaming(server):
    c = server.client()
    full = c.chat.completions.create(model="x", messages=CHAT, **greedy())
    chunks = list(c.chat.completions.create(model="x", messages=CHAT, stream=True,
                                            stream_options={"include_usage": True}, **greedy()))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == full.choices[0].message.content
    finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finish == [full.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    comp = c.completions.create(model="x", prompt="The sea was", **greedy())
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(model="x", prompt="The sea was",
                                                                          stream=True, **greedy()))
    assert streamed == comp.choices[0].text


def test_stop_strings(server):
    c = server.client()
    full = c.completions.create(model="x", prompt="Once upon a time", **greedy(max_tokens=30)).choices[0].text
    words = full.split()
    assert len(words) > 4, full
    stop = " " + words[3]
    cut = full[:full.index(stop)]
    r = c.completions.create(model="x", prompt="Once upon a time", stop=[stop, "zzzz"], **greedy(max_tokens=30))
    assert r.choices[0].text == cut and r.choices[0].finish_reason == "stop"
    s = "".join(ch.choices[0].text for ch in c.completions.create(
        model="x", prompt="Once upon a time", stop=stop, stream=True, **greedy(max_tokens=30)))
    assert s == cut


def test_seed_determinism(server):
    c = server.client()
    kw = dict(model="x", prompt="My favourite food is", max_tokens=16, temperature=1.0)
    a = c.completions.create(seed=7, **kw).choices[0].text
    b = c.completions.create(seed=7, **kw).choices[0].text
    others = {c.completions.create(seed=s, **kw).choices[0].text for s in (8, 9, 10)}
    assert a == b
    assert others != {a}


def test_per_request_kv_policy(server):
    c = server.client()
    msgs = [{"role": "user", "content": LONG[:4000] + "\nWhich fox carried 30 apples?"}]
    full = c.chat.completions.create(model="x", messages=msgs, **greedy(max_tokens=8))
    kv = full.model_extra["usage"]["kv"] if "usage" in full.model_extra else full.usage.model_extra["kv"]
    assert kv["policy"] == "full" and kv["tokens_evicted"] == 0
    assert kv["bytes_held"] == kv["bytes_full_cache"]
    r = c.chat.completions.create(model="x", messages=msgs, extra_body={"kv": {"policy": "vatp", "budget": 128}},
                                  **greedy(max_tokens=8))
    kv = r.usage.model_extra["kv"]
    assert kv["policy"] == "vatp" and kv["tokens_evicted"] > 0
    n = r.usage.prompt_tokens + r.usage.completion_tokens - 1
    # 128 slots held at the end, of the n a full cache would hold.
    assert kv["bytes_held"] * n == pytest.approx(kv["bytes_full_cache"] * 128, rel=0.01)
    # A literal "extra_body" object (clients that do not merge it) means the same.
    with server.http() as h:
        j = h.post("/v1/chat/completions", json={"messages": msgs, **greedy(max_tokens=8),
                                                  "extra_body": {"kv": {"policy": "vatp", "budget": 128}}}).json()
    assert j["usage"]["kv"] == kv
    assert j["choices"][0]["message"]["content"] == r.choices[0].message.content


def test_kv_scope_context_keeps_the_question_whole(server):
    """kv.scope "context": the conversation before the last user message is compressed to
    the budget, the question and the answer are appended whole (kvpress's protocol)."""
    question = "Which village did the red fox come from? Answer briefly."
    msgs = [{"role": "user", "content": LONG[:4000]}, {"role": "assistant", "content": "I have read the notes."},
            {"role": "user", "content": question}]
    c = server.client()

    def held_tokens(scope):
        r = c.chat.completions.create(model="x", messages=msgs, **greedy(max_tokens=6),
                                      extra_body={"kv": {"policy": "vatp", "budget": 128, "scope": scope}})
        kv, n = r.usage.model_extra["kv"], r.usage.prompt_tokens + r.usage.completion_tokens - 1
        assert kv["tokens_evicted"] > 0
        return kv["bytes_held"] * n / kv["bytes_full_cache"], r.usage.completion_tokens

    whole, _ = held_tokens("whole")
    assert whole == pytest.approx(128, abs=0.5)  # vatp keeps its budget while decoding
    context, generated = held_tokens("context")
    with server.http() as h:
        q = len(h.post("/tokenize", json={"content": f"<|im_start|>user\n{question}<|im_end|>\n"
                                                     "<|im_start|>assistant\n"}).json()["tokens"])
    # The budget, then the question (SmolLM2's ChatML turn) and the fed-back tokens on top.
    assert context == pytest.approx(128 + q + generated - 1, abs=0.5)
    with server.http() as h:
        r = h.post("/v1/completions", json={"prompt": "x", "kv": {"policy": "vatp", "scope": "context"}})
        assert r.status_code == 400 and "kv.scope" in r.json()["error"]["message"]


def test_concurrent_equals_sequential(server):
    """16 clients at once get exactly the answers each gets alone (batch invariance)."""
    policies = [None, {"policy": "vatp", "budget": 0.5, "sinks": 4, "recent": 8}, {"policy": "h2o", "budget": 32},
                {"policy": "streaming", "budget": 24}]
    reqs = []
    for i in range(16):
        body = {"model": "x", "prompt": f"Story {i}: " + LONG[: 200 + 60 * i], **greedy(max_tokens=16)}
        if policies[i % 4]:
            body["kv"] = policies[i % 4]
        reqs.append(body)

    def send(body):
        with httpx.Client(base_url=server.url, timeout=secs(600)) as h:
            r = h.post("/v1/completions", json=body)
            assert r.status_code == 200, r.text
            return r.json()["choices"][0]["text"]

    alone = [send(b) for b in reqs]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        together = list(ex.map(send, reqs))
    assert together == alone


def test_disconnect_frees_memory(server):
    held = server.metrics()["vatp:kv_pool_reserved_bytes"]  # conversations held for prompt reuse
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        body = json.dumps({"prompt": LONG[:3000], "max_tokens": 2000, "stream": True, "ignore_eos": True}).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        got = b""
        while got.count(b"data: ") < 3:
            more = s.recv(4096)
            assert more, got
            got += more
        assert wait_for(lambda: server.metrics()["vllm:num_requests_running"] == 1)
        assert server.metrics()["vatp:kv_pool_reserved_bytes"] > held
    assert wait_for(lambda: server.metrics()["vllm:num_requests_running"] == 0, timeout=10)
    m = server.metrics()
    # All of its memory is back (a cancelled request is not held).
    assert m["vatp:kv_pool_reserved_bytes"] == held and m["vatp:kv_allocated_bytes"] == held
    assert m["vllm:request_success_total{finished_reason=abort}"] >= 1


def live_slots(h):
    return [s for s in h.get("/slots").json()["slots"] if s["state"] != "held"]


def test_slots_show_the_live_sequences(server):
    with server.http() as h:
        assert live_slots(h) == []
        body = {"prompt": LONG[:2000], "max_tokens": 2000, "ignore_eos": True, "stream": True,
                "kv": {"policy": "vatp", "budget": 64}}
        with h.stream("POST", "/v1/completions", json=body) as r:
            # Keep the line iterator referenced: breaking out of a `for` over it would close
            # the generator, and httpcore closes the connection on that, so the server
            # (rightly) cancels the request — the flake this test had (request "abort"
            # after 5 tokens in the server's log).
            lines, seen = r.iter_lines(), []
            while len(seen) < 4:
                line = next(lines)
                if line.startswith("data: "):
                    seen.append(line)
            j = h.get("/slots").json()
            j["slots"] = [s for s in j["slots"] if s["state"] != "held"]
        if len(j["slots"]) != 1:  # say everything (pytest.fail is not cut)
            pytest.fail(f"/slots: {j}\nstream so far: {seen}\nserver log: {''.join(server.log[-6:])}")
        slot = j["slots"][0]
        assert slot["state"] == "decode" and slot["policy"] == "vatp" and slot["generated"] >= 3
        assert slot["prompt_done"] == slot["prompt_tokens"] > 300
        assert slot["kv"]["tokens_evicted"] > 0 and slot["kv"]["bytes_held"] < slot["kv"]["bytes_full_cache"]
        assert 0 < slot["kv"]["bytes_allocated"] <= slot["kv"]["bytes_reserved"] <= j["kv_pool"]["reserved_bytes"]
        assert j["kv_pool"]["limit_bytes"] == 256 << 20
        assert wait_for(lambda: live_slots(h) == [], timeout=10)


def test_prompt_reuse_continues_a_held_conversation(server):
    """A chat turn that extends a conversation the server holds prefills only the new part
    (usage.prompt_tokens_details.cached_tokens); with a full cache the answer is the one a
    fresh prefill gives (tests/runtime/engine_test.cc: bit for bit), with a policy the
    compressed cache goes on. /slots lists what is held, /metrics counts the hits."""
    c = server.client()
    notes = "Here are my notes. " + " ".join(f"Note {i}: the fox {i} ran {i * 3} miles." for i in range(30))
    before = server.metrics()
    for kv in (None, {"policy": "vatp", "budget": 64, "schedule": "chunked", "chunk": 64}):
        extra = {"extra_body": {"kv": kv}} if kv else {}
        msgs = [{"role": "user", "content": notes + " How many notes are there?"}]
        first = c.chat.completions.create(model="x", messages=msgs, **greedy(), **extra)
        assert first.usage.prompt_tokens_details.cached_tokens == 0
        msgs += [{"role": "assistant", "content": first.choices[0].message.content},
                 {"role": "user", "content": "Which fox ran the farthest?"}]
        second = c.chat.completions.create(model="x", messages=msgs, **greedy(), **extra)
        cached = second.usage.prompt_tokens_details.cached_tokens
        # Everything up to the first answer (its last token, never fed back, aside).
        assert first.usage.prompt_tokens < cached < second.usage.prompt_tokens, second.usage
        assert cached >= first.usage.prompt_tokens + first.usage.completion_tokens - 2
        no_reuse = {"cache_prompt": False, **({"kv": kv} if kv else {})}
        fresh = c.chat.completions.create(model="x", messages=msgs, **greedy(), extra_body=no_reuse)
        assert fresh.usage.prompt_tokens_details.cached_tokens == 0
        assert fresh.usage.prompt_tokens == second.usage.prompt_tokens
        if kv is None:
            assert second.choices[0].message.content == fresh.choices[0].message.content
        else:  # the held cache was compressed: it stays at the budget, and only the new part came on top
            k = second.usage.model_extra["kv"]
            assert k["tokens_evicted"] > 0 and k["bytes_held"] < k["bytes_full_cache"]
    with server.http() as h:
        held = [s for s in h.get("/slots").json()["slots"] if s["state"] == "held"]
    assert {s["policy"] for s in held} >= {"full", "vatp"}
    assert all(0 < s["kv"]["bytes_allocated"] == s["kv"]["bytes_reserved"] for s in held)
    after = server.metrics()
    assert after["vllm:prefix_cache_hits_total"] - before["vllm:prefix_cache_hits_total"] > 1000
    assert after["vatp:held_sequences"] >= 2


def test_metrics_parse_and_count(server):
    before = server.metrics()
    server.client().completions.create(model="x", prompt="Hello", **greedy(max_tokens=5))
    after = server.metrics()
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == 5
    assert after["vllm:prompt_tokens_total"] > before["vllm:prompt_tokens_total"]
    assert after["vllm:time_to_first_token_seconds_count"] == before["vllm:time_to_first_token_seconds_count"] + 1
    assert after["vllm:e2e_request_latency_seconds_count"] == before["vllm:e2e_request_latency_seconds_count"] + 1
    assert "vllm:kv_cache_usage_perc" in after and "vatp:tokens_evicted_total" in after


BAD = [
    ("/v1/chat/completions", b"{not json", 400, "invalid_json"),
    ("/v1/chat/completions", b"[1, 2]", 400, "invalid_value"),
    ("/v1/chat/completions", b'{"messages": "hi"}', 400, "invalid_value"),
    ("/v1/chat/completions", b'{"prompt": "hi"}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "max_tokens": "ten"}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "temperature": 1e999}', 400, "invalid_json"),
    ("/v1/completions", b'{"prompt": "hi", "kv": {"policy": "vatp", "bogus": 1}}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "kv": {"policy": "nonsense"}}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "kv": {"policy": "h2o", "budget": -3}}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "n": 2}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "frequency_penalty": 0.5}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "unknown_field": 1}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "stream": "yes"}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "cache_prompt": 1}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "kv": {"policy": "full", "min_budget": 64}}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "kv": {"policy": "vatp", "min_budget": "lots"}}', 400, "invalid_value"),
    ("/v1/completions", b'{"prompt": "hi", "max_tokens": 5000}', 400, "context_length_exceeded"),
    ("/v1/completions", json.dumps({"prompt": LONG * 3}).encode(), 400, "context_length_exceeded"),
    ("/v1/completions", json.dumps({"prompt": "x" * 300000}).encode(), 413, "body_too_large"),
    ("/v1/nothing", b"{}", 404, "not_found"),
    ("/tokenize", b'{"content": 3}', 400, "invalid_value"),
    ("/detokenize", b'{"tokens": [1, -5]}', 400, "invalid_value"),
]


@pytest.mark.parametrize("path,body,status,code", BAD, ids=[f"{b[0]}-{b[3]}-{i}" for i, b in enumerate(BAD)])
def test_bad_requests_get_status_and_error_json(server, path, body, status, code):
    with server.http() as h:
        r = h.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status, r.text
        err = r.json()["error"]
        assert err["code"] == code and err["message"] and err["type"]
        # ... and the server keeps serving.
        ok = h.post("/v1/completions", json={"prompt": "Hi", "max_tokens": 2})
        assert ok.status_code == 200


def test_bad_request_streaming_gets_its_status(server):
    with server.http() as h:
        r = h.post("/v1/completions", json={"prompt": "hi", "stream": True, "kv": {"policy": "nope"}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"


def test_openai_client_sees_errors(server):
    with pytest.raises(openai.BadRequestError) as e:
        server.client().completions.create(model="x", prompt="hi", n=3)
    assert "n = 1" in str(e.value)


def test_kv_pressure_compress_lets_a_newcomer_in():
    """--kv-memory holds two requests at budget 256 (chunked, + a chunk of 64); with
    --kv-pressure compress the third makes one of the others, which allows it
    (kv.min_budget 64), drop to 64 and all three run at once; usage.kv and /metrics say so."""
    s = Server("-c", "2048", "--parallel", "4", "--kv-memory", "20MiB", "--kv-pressure", "compress")
    try:
        kv = {"policy": "vatp", "budget": 256, "schedule": "chunked", "chunk": 64, "min_budget": 64}
        prompts = [LONG[i * 900:i * 900 + 2600] for i in range(3)]

        def send(p):
            with httpx.Client(base_url=s.url, timeout=secs(300)) as h:
                return h.post("/v1/completions", json={"prompt": p, "max_tokens": 24, "ignore_eos": True,
                                                       "temperature": 0, "kv": kv})

        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            got = list(ex.map(send, prompts))
        assert all(r.status_code == 200 for r in got), [r.text for r in got]
        kvs = [r.json()["usage"]["kv"] for r in got]
        assert sorted(k["compressions"] for k in kvs) == [0, 0, 1], kvs
        small = next(k for k in kvs if k["compressions"] == 1)
        assert small["bytes_held"] < min(k["bytes_held"] for k in kvs if k["compressions"] == 0)
        assert s.metrics()["vatp:kv_pressure_compressions_total"] == 1
    finally:
        assert s.stop() == 0


def test_api_key():
    s = Server("-c", "512", "--api-key", "s3cret")
    try:
        assert httpx.get(s.url + "/health").status_code == 200  # health needs no key
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cre"},
                        {"Authorization": "s3cret"}):
            r = httpx.get(s.url + "/v1/models", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            s.client(api_key="nope").models.list()
        assert s.client(api_key="s3cret").completions.create(model="x", prompt="Hi", max_tokens=2).choices
    finally:
        assert s.stop() == 0


def test_full_queue_is_503_with_retry_after():
    s = Server("-c", "512", "--max-queue", "0")
    try:
        r = httpx.post(s.url + "/v1/completions", json={"prompt": "Hi", "max_tokens": 2})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "queue_full"
    finally:
        assert s.stop() == 0


def test_sigterm_finishes_running_requests_then_exits_0():
    s = Server("-c", "1024")
    pieces = []
    with httpx.Client(base_url=s.url, timeout=secs(120)) as h:
        with h.stream("POST", "/v1/completions", json={"prompt": "Once upon a time", "max_tokens": 40,
                                                      "ignore_eos": True, "stream": True}) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    pieces.append(line[6:])
                    if len(pieces) == 2:
                        s.proc.send_signal(15)
                        time.sleep(0.3)
                        # Draining: new requests are refused (or the listener is gone).
                        try:
                            late = httpx.post(s.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1})
                            assert late.status_code == 503
                        except httpx.TransportError:
                            pass
    assert pieces[-1] == "[DONE]"
    assert len([p for p in pieces if p != "[DONE]"]) == 41  # 40 tokens + the finish chunk
    assert s.proc.wait(60) == 0, "".join(s.log)
