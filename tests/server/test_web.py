"""The built-in chat page (GET /): served, and working in a real browser.

The browser test drives headless Chromium (Debian package `chromium`) over the DevTools
protocol (PyPI `websocket-client`): it loads the page, picks a KV policy and budget,
sends a message, waits for the streamed answer and its usage line, and checks what the
page shows against what the server reports. It skips, saying why, when Chromium is not
installed. VATP_WEB_SCREENSHOT=PATH also saves a screenshot there (docs/img/web.png).
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import secs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_page_is_served_without_a_key_and_lists_the_registry(server):
    with server.http() as h:
        r = h.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "<title>vatp</title>" in r.text and "/v1/chat/completions" in r.text
        p = h.get("/v1/kv/policies").json()
    names = [row["name"] for row in p["presets"]]
    assert {"full", "vatp", "h2o", "snapkv", "vatp-snapkv", "streaming"} <= set(names)
    assert all(row["description"] and row["settings"] for row in p["presets"])
    assert {"accum-attention", "window-attention", "key-norm"} <= {s["name"] for s in p["scorers"]}


class DevTools:
    """A minimal DevTools-protocol client: one page target, commands by id."""

    def __init__(self, ws_url):
        import websocket  # websocket-client
        self.ws = websocket.create_connection(ws_url, timeout=secs(60), suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.js(expr):
                return True
            time.sleep(0.2)
        return False


@pytest.fixture
def browser():
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/install-deps.sh does)")
    pytest.importorskip("websocket", reason="PyPI websocket-client is not installed")
    profile = tempfile.mkdtemp(prefix="vatp-chromium-")
    # --disable-dev-shm-usage: containers often have a 64 MB /dev/shm, too small for Chromium.
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-dev-shm-usage",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1200,760",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "err"), "w"))
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.time() + secs(60)
    while not os.path.exists(port_file) and time.time() < end and proc.poll() is None:
        time.sleep(0.1)
    try:
        if not os.path.exists(port_file):
            pytest.fail("chromium did not start:\n" + open(os.path.join(profile, "err")).read()[-3000:])
        port = open(port_file).read().split()[0]
        import httpx
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
        page = next(t for t in targets if t["type"] == "page")
        yield DevTools(page["webSocketDebuggerUrl"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def test_chat_in_headless_chromium(server, browser):
    b = browser
    b.call("Page.enable")
    b.call("Page.navigate", url=server.url + "/")
    assert b.wait_for("document.querySelectorAll('#policy option').length > 5", secs(30)), \
        "the page did not load the policy list"
    b.js("document.getElementById('policy').value = 'vatp';"
         "document.getElementById('policy').dispatchEvent(new Event('change'));"
         "document.getElementById('budget').value = '64';"
         "document.getElementById('max-tokens').value = '24';")
    with server.http() as h:
        vatp_row = next(r for r in h.get("/v1/kv/policies").json()["presets"] if r["name"] == "vatp")
    assert b.js("document.getElementById('policy-hint').textContent") == vatp_row["description"]
    long_question = ("Here are my notes. " + " ".join(f"Note {i}: the fox {i} ran {i * 3} miles." for i in range(30))
                     + " How many notes are there?")
    b.js(f"document.getElementById('input').value = {json.dumps(long_question)};"
         "document.getElementById('form').requestSubmit();")
    b.wait_for("document.querySelector('.assistant .stats') !== null || document.querySelector('.msg.error')",
               secs(120))
    assert b.js("document.querySelector('.assistant .stats') !== null"), b.js("document.getElementById('log').innerText")
    stats = b.js("document.querySelector('.assistant .stats').textContent")
    answer = b.js("document.querySelector('.assistant').firstChild.textContent")
    live = b.js("document.getElementById('live').textContent")
    assert answer.strip(), "no answer text streamed into the page"
    # The usage line is the server's usage: the policy ran and evicted down to the budget.
    assert "KV vatp" in stats and " evicted" in stats and "24 generated" in stats, stats
    evicted = int(stats.split(", ")[-1].split()[0])
    assert evicted > 0, stats
    assert live.startswith("last answer: held"), live
    # A second turn continues the conversation (the page sends the whole history).
    b.js("document.getElementById('input').value = 'Thanks.'; document.getElementById('form').requestSubmit();")
    b.wait_for("document.querySelectorAll('.assistant .stats').length == 2 || document.querySelector('.msg.error')",
               secs(120))
    assert b.js("document.querySelectorAll('.assistant .stats').length") == 2, \
        b.js("document.getElementById('log').innerText")
    assert b.js("document.querySelectorAll('.msg.user').length") == 2
    # ... from the server's held cache of the first: only the new turn was prefilled.
    second = b.js("document.querySelectorAll('.assistant .stats')[1].textContent")
    cached = int(second.split("(")[1].split()[0])
    assert cached > 200, second
    shot = os.environ.get("VATP_WEB_SCREENSHOT")
    if shot:
        time.sleep(0.5)  # the KV bar's transition
        png = b.call("Page.captureScreenshot", format="png")["data"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))


def test_page_shows_server_errors(server, browser):
    b = browser
    b.call("Page.navigate", url=server.url + "/")
    assert b.wait_for("document.querySelectorAll('#policy option').length > 5", secs(30))
    b.js("document.getElementById('policy').value = 'vatp'; document.getElementById('budget').value = '-3';"
         "document.getElementById('input').value = 'hi'; document.getElementById('form').requestSubmit();")
    assert b.wait_for("document.querySelector('.msg.error') !== null", secs(30))
    assert "budget" in b.js("document.querySelector('.msg.error').textContent")
