"""The JavaScript client in a real browser: Debian's Chromium, headless,
driven over the DevTools protocol (a WebSocket, spoken here with the same
`websockets` package the other tests use, so no chromedriver/selenium).

A page served from loopback imports Clients/js/herald.js as an ES module
(and loads herald.global.js as a plain <script>), takes its connection
token from a token endpoint (`getToken`), and records every callback. The
server then cuts the connection (POST /v1/disconnect) while messages are
published, and later restarts: the page must recover exactly the missed
messages, in order, and report the restart as a reset.

`make test` installs chromium (Makefile `browser-deps`) and sets
HERALD_REQUIRE_BROWSER=1, so there a missing browser fails instead of
skipping."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect

import herald_e2e as H
from test_clients import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "browser-secret"


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def signed(claims: dict) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>herald browser test</title>
<script src="herald.global.js"></script>
</head><body>
<script type="module">
import { HeraldClient } from "./herald.js";
window.events = [];
window.globalBuild = typeof window.Herald === "object" && typeof window.Herald.HeraldClient === "function";
const record = (event) => window.events.push(event);
window.client = new HeraldClient("ws://127.0.0.1:%(port)d/ws", {
  minDelayMs: 100, maxDelayMs: 400,
  %(auth)s,
  onUnauthorized: (u) => record({ event: "unauthorized", ...u }),
  onState: (s) => record({ event: "state", ...s }),
  onOpen: () => window.client.subscribe("browser"),
  onMessage: (m) => record({ event: "message", seq: m.seq, data: m.data }),
  onBinary: (m) => record({ event: "binary", seq: m.seq, data: Array.from(m.data) }),
  onReset: (r) => record({ event: "reset", reason: r.reason, seq: r.seq }),
  onGap: (g) => record({ event: "gap", ...g }),
  onError: (e) => record({ event: "error", code: e.code }),
});
</script></body></html>
"""


GET_TOKEN = "getToken: () => fetch(\"/token\").then((response) => response.text())"


class PageServer:
    """Serves the page, the client modules and `/token` on loopback. The
    token endpoint answers only while `gate` is set, which lets the test
    hold a reconnect (the client asks for a token before every connect)."""

    def __init__(self, ws_port: int, auth: str = GET_TOKEN):
        self.gate = threading.Event()
        self.gate.set()
        self.tokens_issued = 0
        files = {
            "/": (PAGE % {"port": ws_port, "auth": auth}).encode(),
            "/herald.js": (ROOT / "Clients/js/herald.js").read_bytes(),
            "/herald.global.js": (ROOT / "Clients/js/herald.global.js").read_bytes(),
        }
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 — the http.server API
                if self.path == "/token":
                    if not outer.gate.wait(30):
                        self.send_error(503)
                        return
                    outer.tokens_issued += 1
                    body = signed({"sub": "page", "topics": ["browser"], "exp": int(time.time()) + 3600}).encode()
                    kind = "text/plain"
                elif self.path in files:
                    body = files[self.path]
                    kind = "text/html" if self.path == "/" else "text/javascript"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """Headless Chromium with the DevTools protocol on a loopback port."""

    def __init__(self, binary: str, url: str, extra_args: tuple[str, ...] = ()):
        self.profile = tempfile.mkdtemp(prefix="herald-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", *extra_args, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = Path(self.profile) / "DevToolsActivePort"
        H.wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 60,
                     desc="chromium's DevTools port")
        devtools = int(port_file.read_text().split()[0])

        def page_target():
            with urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json/list", timeout=5) as response:
                pages = [t for t in json.loads(response.read()) if t.get("type") == "page" and t["url"] == url]
            return pages[0]["webSocketDebuggerUrl"] if pages else None
        self.target = H.wait_until(page_target, 30, desc="the test page in chromium")
        self.calls = 0

    def evaluate(self, expression: str):
        async def call():
            async with ws_connect(self.target, max_size=None) as devtools:
                self.calls += 1
                await devtools.send(json.dumps({"id": self.calls, "method": "Runtime.evaluate",
                                                "params": {"expression": expression, "returnByValue": True}}))
                while True:
                    reply = json.loads(await devtools.recv())
                    if reply.get("id") == self.calls:
                        break
            result = reply["result"]
            assert "exceptionDetails" not in result, result
            return result["result"].get("value")
        return asyncio.run(asyncio.wait_for(call(), 20))

    def events(self) -> list[dict]:
        return json.loads(self.evaluate("JSON.stringify(window.events || [])"))

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def publish(admin_port: int, data: object) -> None:
    response = H.admin_request(admin_port, "POST", "/v1/publish?topic=browser", body=json.dumps(data).encode(),
                               content_type="application/json")
    assert response.status == 200, response.body


@pytest.fixture
def chromium():
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("HERALD_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed (make test installs it: see the Makefile's browser-deps)")
        pytest.skip("chromium is not installed")
    return binary


def test_the_js_client_in_chromium_recovers_what_it_missed_and_reports_a_restart(start_herald, chromium):
    port = free_port()
    herald = start_herald("--listen", f"127.0.0.1:{port}", "--jwt-secret", SECRET)
    pages = PageServer(port)
    browser = Browser(chromium, f"http://127.0.0.1:{pages.port}/")
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/browser").json()["subscribers"] == 1, 30,
                     desc="the page subscribed")
        assert browser.evaluate("window.globalBuild") is True, "herald.global.js did not define window.Herald"

        def messages() -> list[tuple[int, object]]:
            return [(e["seq"], e["data"]) for e in browser.events() if e["event"] == "message"]

        for n in (1, 2, 3):
            publish(herald.admin_port, {"n": n})
        H.wait_until(lambda: len(messages()) == 3, 15, desc="three live messages in the page")

        # The server cuts the connection; the page's reconnect waits for a
        # token, which is held until three more messages are published.
        pages.gate.clear()
        cut = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"sub":"page"}',
                              content_type="application/json")
        assert cut.status == 200 and cut.json() == {"closed": 1}, cut.body
        for n in (4, 5, 6):
            publish(herald.admin_port, {"n": n})
        pages.gate.set()
        H.wait_until(lambda: len(messages()) >= 6, 20, desc="the missed messages recovered in the page")
        assert messages() == [(n, {"n": n}) for n in range(1, 7)], browser.events()
        samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
        assert H.prom_value(samples, "herald_messages_replayed_total") == 3
        assert H.prom_value(samples, "herald_recoveries_total", result="recovered") == 1

        # A restart is a new epoch: the page is told to reload (reset),
        # then live messages of the new sequence arrive.
        assert herald.stop() == 0
        restarted = start_herald("--listen", f"127.0.0.1:{port}", "--jwt-secret", SECRET)
        H.wait_until(lambda: H.admin_get(restarted.admin_port, "/v1/topics/browser").json()["subscribers"] == 1,
                     30, desc="the page re-subscribed after the restart")
        publish(restarted.admin_port, "after")
        H.wait_until(lambda: (1, "after") in messages()[6:], 15, desc="a live message after the restart")
        events = browser.events()
        assert [e for e in events if e["event"] == "reset"] == [{"event": "reset", "reason": "epoch", "seq": 0}], events
        assert not [e for e in events if e["event"] in ("gap", "error")], events
        closes = [e.get("code") for e in events if e["event"] == "state" and e["state"] == "disconnected"]
        assert closes == [4000, 1001], events
        assert pages.tokens_issued == 3, "a token is fetched before every connect"
    finally:
        browser.close()
        pages.close()


def test_the_demo_page_served_by_herald_shows_messages_live(start_herald, chromium):
    # The page at / (served by herald itself, with /herald.global.js)
    # subscribes to ?topic= and shows each message with its seq.
    herald = start_herald()
    browser = Browser(chromium, f"http://127.0.0.1:{herald.port}/?topic=live-demo")
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/live-demo").json()["subscribers"] == 1, 30,
                     desc="the demo page subscribed")
        assert browser.evaluate("document.getElementById('state').textContent") == "connected"
        # herald serves the zstd decoder next to its binary (make builds it):
        # the page asks for zstd and gets it.
        assert browser.evaluate("document.getElementById('codec').textContent") == "zstd (herald.zstd.v1)"
        for n in (1, 2):
            r = H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=live-demo",
                                body=json.dumps({"n": n}).encode(), content_type="application/json")
            assert r.status == 200
        H.wait_until(lambda: browser.evaluate("document.getElementById('count').textContent") == "2", 15,
                     desc="two messages on the page")
        rows = json.loads(browser.evaluate(
            "JSON.stringify([...document.querySelectorAll('#messages tr')].map(r => [...r.cells].map(c => c.textContent)))"))
        assert rows == [["live-demo", "2", '{"n":2}'], ["live-demo", "1", '{"n":1}']], rows
        assert "topic=live-demo" in browser.evaluate("document.getElementById('curl').textContent")
    finally:
        browser.close()


def test_the_js_client_in_chromium_stops_on_a_refused_token(start_herald, chromium):
    herald = start_herald("--jwt-secret", SECRET)
    pages = PageServer(herald.port, auth='token: "not-a-token"')
    browser = Browser(chromium, f"http://127.0.0.1:{pages.port}/")
    try:
        # The browser never sees an HTTP status of a failed upgrade: the
        # server upgrades and closes 4001, and the client stops there.
        H.wait_until(lambda: any(e["event"] == "unauthorized" for e in browser.events()), 30,
                     desc="onUnauthorized in the page")
        events = browser.events()
        assert [e for e in events if e["event"] == "unauthorized"] == [
            {"event": "unauthorized", "code": 4001, "reason": "unauthorized"}], events
        assert [e["state"] for e in events if e["event"] == "state"] == ["connecting", "connected", "disconnected"], events
        assert browser.evaluate("window.client.closedByUser") is True, "the client would reconnect"
        samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
        assert H.prom_value(samples, "herald_closes_total", code="4001") == 1
    finally:
        browser.close()
        pages.close()


def test_the_demo_page_over_https_uses_wss(start_herald, chromium, tmp_path):
    # An https page may only open wss:// (mixed content): the page, the
    # client script and the WebSocket all come over herald's TLS listener.
    from test_tls import make_certificate
    cert, key = make_certificate(tmp_path)
    herald = start_herald("--tls-cert", cert, "--tls-key", key)
    url = f"https://127.0.0.1:{herald.port}/?topic=secure-demo"
    # The certificate is self-signed for this run: the browser is told to
    # accept it (what a real deployment's CA-signed certificate makes moot).
    browser = Browser(chromium, url, extra_args=("--ignore-certificate-errors",))
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/secure-demo").json()["subscribers"] == 1, 30,
                     desc="the https demo page subscribed over wss")
        assert browser.evaluate("location.protocol") == "https:"
        r = H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=secure-demo",
                            body=b'{"n":1}', content_type="application/json")
        assert r.status == 200
        H.wait_until(lambda: browser.evaluate("document.getElementById('count').textContent") == "1", 15,
                     desc="the message on the page")
        samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
        assert (H.prom_value(samples, "herald_tls_handshakes_total") or 0) >= 2  # the page and its WebSocket
    finally:
        browser.close()


def zstd_options(extra: str = "") -> str:
    return GET_TOKEN + ', compression: "zstd"' + extra


def test_the_js_client_in_chromium_decodes_zstd_with_trained_dictionaries(start_herald, chromium):
    # libzstd's decoder compiled to WebAssembly (herald-zstd.wasm, built by
    # make from Debian's libzstd source) loaded from herald itself (another
    # origin than the page: CORS), a dictionary trained by the 20th message,
    # a cut connection recovered (the replay in zstd frames), the dictionary
    # kept across the reconnect and listed in zstd_dicts= so it is not sent
    # again, and binary publishes through zstd too.
    from test_zstd import chat_event
    port = free_port()
    herald = start_herald("--listen", f"127.0.0.1:{port}", "--jwt-secret", SECRET, "--history-size", "100",
                          "--zstd-train-after", "20")
    pages = PageServer(port, auth=zstd_options())
    browser = Browser(chromium, f"http://127.0.0.1:{pages.port}/")
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/browser").json()["subscribers"] == 1, 30,
                     desc="the page subscribed")
        assert browser.evaluate("window.client.socket.protocol") == "herald.zstd.v1"

        def messages() -> list[tuple[int, object]]:
            return [(e["seq"], e["data"]) for e in browser.events() if e["event"] == "message"]

        def metric(name: str) -> float:
            samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
            return H.prom_value(samples, name) or 0

        events = [chat_event(i) for i in range(40)]
        for event in events[:20]:
            publish(herald.admin_port, event)
        # The 20th queued the training; it runs on the trainer thread.
        H.wait_until(lambda: metric("herald_zstd_trainings_total") == 1, 30, desc="the trained dictionary")
        for event in events[20:25]:
            publish(herald.admin_port, event)
        H.wait_until(lambda: len(messages()) == 25, 15, desc="25 messages in the page")
        assert metric("herald_zstd_dictionaries_sent_total") == 1
        held = browser.evaluate("JSON.stringify(window.client.zstd.heldIds(16))")
        assert len(json.loads(held)) == 1, held
        zstd_bytes = json.loads(browser.evaluate("JSON.stringify(window.client.zstdBytes)"))
        assert 0 < zstd_bytes["received"] < zstd_bytes["decoded"], zstd_bytes

        pages.gate.clear()
        cut = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"sub":"page"}',
                              content_type="application/json")
        assert cut.status == 200 and cut.json() == {"closed": 1}, cut.body
        for event in events[25:30]:
            publish(herald.admin_port, event)
        pages.gate.set()
        H.wait_until(lambda: len(messages()) >= 30, 20, desc="the missed messages recovered in the page")
        for event in events[30:]:
            publish(herald.admin_port, event)
        H.wait_until(lambda: len(messages()) >= 40, 15, desc="live zstd messages after the reconnect")
        assert messages() == [(n + 1, event) for n, event in enumerate(events)], browser.events()
        assert metric("herald_zstd_dictionaries_sent_total") == 1, "the held dictionary was sent again"
        assert metric("herald_messages_replayed_total") == 5

        binary = bytes(range(256)) * 4
        r = H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=browser", body=binary,
                            content_type="application/octet-stream")
        assert r.status == 200, r.body
        H.wait_until(lambda: any(e["event"] == "binary" for e in browser.events()), 15, desc="a binary publish")
        got = [e for e in browser.events() if e["event"] == "binary"]
        assert got == [{"event": "binary", "seq": 41, "data": list(binary)}], got
        everything = browser.events()
        assert not [e for e in everything if e["event"] in ("gap", "error", "reset")], everything
        assert json.loads(browser.evaluate("JSON.stringify(window.client.zstdBytes)"))["received"] > zstd_bytes["received"]
    finally:
        browser.close()
        pages.close()


def test_the_js_client_keeps_deflate_when_the_zstd_decoder_cannot_load(start_herald, chromium):
    port = free_port()
    herald = start_herald("--listen", f"127.0.0.1:{port}", "--jwt-secret", SECRET)
    pages = PageServer(port, auth=zstd_options(', zstdDecoderUrl: "/no-such-decoder.wasm"'))
    browser = Browser(chromium, f"http://127.0.0.1:{pages.port}/")
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/browser").json()["subscribers"] == 1, 30,
                     desc="the page subscribed")
        assert [e for e in browser.events() if e["event"] == "error"] == [{"event": "error", "code": "zstd_unavailable"}]
        assert browser.evaluate("window.client.socket.protocol") == ""
        assert "permessage-deflate" in browser.evaluate("window.client.socket.extensions")
        publish(herald.admin_port, {"n": 1})
        H.wait_until(lambda: any(e["event"] == "message" for e in browser.events()), 15, desc="a message")
    finally:
        browser.close()
        pages.close()
