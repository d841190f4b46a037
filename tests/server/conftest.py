"""Fixtures for the vatp serve tests: a real `vatp serve` on loopback with SmolLM2.

VATP_BIN names the binary (ctest sets it), VATP_MODEL the GGUF (scripts/test.sh sets
it). Each server picks a free port (--port 0) and prints it on stderr.
"""
import os
import re
import subprocess
import threading
import time

import httpx
import openai
import pytest

MODEL = os.environ.get("VATP_MODEL") or os.path.join(
    os.environ.get("VATP_CACHE", os.path.expanduser("~/.cache/vatp")), "SmolLM2-135M-Instruct.Q4_1.gguf")
BIN = os.environ.get("VATP_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "vatp"))
# A sanitizer build runs 5-20x slower (and CI runs it next to other tests on 2 cores);
# ctest sets VATP_TEST_TIME_SCALE there so that every wait stretches, not the work.
TIME_SCALE = float(os.environ.get("VATP_TEST_TIME_SCALE", "1"))


def secs(t):
    """t seconds of patience on a Release build, scaled for this build."""
    return t * TIME_SCALE


class Server:
    def __init__(self, *flags, env=None):
        if not MODEL or not os.path.exists(MODEL):
            pytest.skip("SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model.sh)")
        self.proc = subprocess.Popen([BIN, "serve", "-m", MODEL, "--port", "0", "-t", "2", *flags],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **(env or {})})
        self.log = []
        self.port = None
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"listening on http://[^:]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                if "vatp serve: ready" in line or "error" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(secs(120)) or self.port is None or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("vatp serve did not start:\n" + "".join(self.log))
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, api_key="none", **kw):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0, timeout=secs(300), **kw)

    def http(self, **kw):
        return httpx.Client(base_url=self.url, timeout=secs(300), **kw)

    def metrics(self):
        from prometheus_client.parser import text_string_to_metric_families
        text = httpx.get(self.url + "/metrics", timeout=secs(30)).text
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else "")
                out[key] = s.value
        return out

    def stop(self, sig=15, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(secs(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="session")
def server():
    s = Server("-c", "4096", "--parallel", "16", "--max-body", "256KiB", "--kv-memory", "256MiB")
    yield s
    assert s.stop() == 0, "".join(s.log)


def wait_for(pred, timeout=20.0, step=0.05):
    end = time.time() + secs(timeout)
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
