"""The client libraries in Clients/ against the real binary: the Python
client (asyncio) and the JavaScript client under Node's WebSocket."""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import herald_e2e as H

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Clients/python"))

from herald_client import (ConnectionState, Gap, HeraldClient, Message, Reset, ServerError,  # noqa: E402
                           Unauthorized, publish)
from test_auth import token as signed_token  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_node_client(path: Path, script: str, port: int) -> subprocess.Popen:
    """Runs `script` (with %(module)s and %(port)d filled in) under Node;
    skips when there is no node. Node ≥ 22 has WebSocket built in, 20 and
    21 need the flag."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the JS client needs a WebSocket runtime)")
    builtin = subprocess.run([node, "-e", "process.stdout.write(typeof WebSocket)"], capture_output=True,
                             text=True, timeout=30).stdout == "function"
    path.write_text(script % {"module": (ROOT / "Clients/js/herald.js").as_uri(), "port": port})
    return subprocess.Popen([node, *([] if builtin else ["--experimental-websocket"]), "--no-warnings", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_python_client_receives_resubscribes_and_reports_gaps(start_herald):
    port = free_port()
    herald = start_herald("--listen", f"127.0.0.1:{port}")
    admin = f"http://127.0.0.1:{herald.admin_port}"

    async def go():
        async with HeraldClient(f"ws://127.0.0.1:{port}/ws", min_delay=0.1, max_delay=0.5) as client:
            await client.subscribe("py")
            with pytest.raises(ValueError):
                await client.subscribe("bad topic")
            await client._send({"type": "nonsense"})
            error = await asyncio.wait_for(client.events.get(), 5)
            assert isinstance(error, ServerError) and error.code == "unknown_type"
            H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/py").json()["subscribers"] == 1, 5)
            for n in range(3):
                assert publish(admin, "py", {"n": n}) == n + 1
            for n in range(3):
                event = await asyncio.wait_for(client.events.get(), 5)
                assert event == Message("py", n + 1, {"n": n})
            # The connection drops (the server restarts on the same port).
            # Blocking helpers run in threads so the client's loop keeps
            # answering the close and reconnecting.
            assert await asyncio.to_thread(herald.stop) == 0
            restarted = await asyncio.to_thread(start_herald, "--listen", f"127.0.0.1:{port}")
            # The client reconnects and re-subscribes by itself.
            await asyncio.to_thread(
                H.wait_until,
                lambda: H.admin_get(restarted.admin_port, "/v1/topics/py").json()["subscribers"] == 1, 10,
                desc="client re-subscribed")
            # A restarted server is a new epoch: the client reports a Reset
            # (reload from the application), then live messages follow.
            reset = await asyncio.wait_for(client.events.get(), 5)
            assert isinstance(reset, Reset) and reset.reason == "epoch", reset
            await asyncio.to_thread(publish, f"http://127.0.0.1:{restarted.admin_port}", "py", "after")
            event = await asyncio.wait_for(client.events.get(), 5)
            assert isinstance(event, Message) and event.data == "after", event

    H.run_async(go(), 40)


def test_python_client_recovers_what_it_missed_and_resets_on_a_new_epoch(start_herald):
    port = free_port()
    herald = start_herald("--listen", f"127.0.0.1:{port}")
    admin = f"http://127.0.0.1:{herald.admin_port}"

    async def go():
        async with HeraldClient(f"ws://127.0.0.1:{port}/ws", min_delay=0.3, max_delay=0.5) as client:
            await client.subscribe("rec")
            H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/rec").json()["subscribers"] == 1, 5)
            await asyncio.to_thread(publish, admin, "rec", 0)
            assert await asyncio.wait_for(client.events.get(), 5) == Message("rec", 1, 0)
            # The connection drops; while the client waits to reconnect,
            # three messages are published. It recovers them, in order.
            await client._socket.close()
            for n in (1, 2, 3):
                await asyncio.to_thread(publish, admin, "rec", n)
            got = [await asyncio.wait_for(client.events.get(), 10) for _ in range(3)]
            assert got == [Message("rec", 2, 1), Message("rec", 3, 2), Message("rec", 4, 3)]
            # A restart starts a new epoch: the client says so (Reset), and
            # live messages follow.
            assert await asyncio.to_thread(herald.stop) == 0
            restarted = await asyncio.to_thread(start_herald, "--listen", f"127.0.0.1:{port}")
            reset = await asyncio.wait_for(client.events.get(), 15)
            assert isinstance(reset, Reset) and reset.topic == "rec" and reset.reason == "epoch", reset
            await asyncio.to_thread(publish, f"http://127.0.0.1:{restarted.admin_port}", "rec", "new")
            assert await asyncio.wait_for(client.events.get(), 5) == Message("rec", 1, "new")

    H.run_async(go(), 40)


def test_python_client_stops_on_a_refused_token(start_herald):
    herald = start_herald("--jwt-secret", "s")

    async def go():
        with pytest.raises(Unauthorized):
            async with HeraldClient(f"ws://127.0.0.1:{herald.port}/ws", token="bad", min_delay=0.1) as client:
                await client.subscribe("x")
                async for _ in client:
                    pass

    H.run_async(go(), 20)


def test_python_client_refreshes_before_exp_and_reports_its_state(start_herald):
    # Each token lives 8 s on the server (exp 22 s ago, 30 s leeway) and
    # would close the connection with 4002; the client refreshes in-band
    # ahead of exp (here as soon as it may, after 1 s) and never reconnects.
    herald = start_herald("--jwt-secret", "s3cret", "--ping-interval", "0.5", "--pong-timeout", "5")
    issued: list[str] = []
    states: list[ConnectionState] = []

    def get_token() -> str:
        issued.append(signed_token({"sub": "pat", "topics": ["*"], "exp": int(time.time()) - 22}, secret="s3cret"))
        return issued[-1]

    async def go():
        async with HeraldClient(f"ws://127.0.0.1:{herald.port}/ws", get_token=get_token, on_state=states.append,
                                min_delay=0.1) as client:
            await client.subscribe("live")
            await asyncio.to_thread(
                H.wait_until, lambda: (H.prom_value(H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode()),
                                    "herald_token_refreshes_total") or 0) >= 4, 30,
                desc="four in-band refreshes")
            await asyncio.to_thread(publish, f"http://127.0.0.1:{herald.admin_port}", "live", "still here")
            event = await asyncio.wait_for(client.events.get(), 5)
            assert event == Message("live", 1, "still here"), event
        return client

    client = H.run_async(go(), 60)
    # One connection all along, its token taken before the connect and
    # renewed in-band; the close is the client's own.
    assert [s.state for s in states] == ["connecting", "connected", "disconnected"], states
    assert states[-1].code == 1000, states
    assert len(issued) >= 5 and client.token == issued[-1]
    assert H.get_stats(herald.admin_port)["connections"] == 0


def test_python_client_reports_a_server_restart_as_disconnected_then_connecting(start_herald):
    port = free_port()
    herald = start_herald("--listen", f"127.0.0.1:{port}")
    states: list[ConnectionState] = []

    async def go():
        async with HeraldClient(f"ws://127.0.0.1:{port}/ws", on_state=states.append, min_delay=0.2,
                                max_delay=0.5) as client:
            assert client.state == "connected"
            assert await asyncio.to_thread(herald.stop) == 0
            restarted = await asyncio.to_thread(start_herald, "--listen", f"127.0.0.1:{port}")
            await asyncio.to_thread(H.wait_until, lambda: client.state == "connected" and len(states) >= 4, 15,
                                    desc="client reconnected")
            assert H.get_stats(restarted.admin_port)["connections"] == 1

    H.run_async(go(), 40)
    assert [s.state for s in states[:2]] == ["connecting", "connected"], states
    assert states[2].state == "disconnected" and states[2].code == 1001, states
    # Zero or more refused attempts while the server was down, then back.
    assert [s.state for s in states[3:]][-3:-1] == ["connecting", "connected"], states


def test_python_client_gap_accounting_without_a_server():
    client = HeraldClient("ws://unused")
    client.topics["t"] = None
    client._handle(json.dumps({"type": "subscribed", "topic": "t", "seq": 4}))
    client._handle(json.dumps({"type": "message", "topic": "t", "seq": 5, "data": 1}))
    client._handle(json.dumps({"type": "message", "topic": "t", "seq": 8, "data": 2}))   # 6, 7 missing
    client._handle(json.dumps({"type": "gap", "topic": "t", "from": 9, "to": 12}))
    client._handle(json.dumps({"type": "subscribed", "topic": "t", "seq": 20}))          # after a reconnect
    events = [client.events.get_nowait() for _ in range(client.events.qsize())]
    assert events == [Message("t", 5, 1), Gap("t", 6, 7), Message("t", 8, 2), Gap("t", 9, 12), Gap("t", 13, 20)]


NODE_SCRIPT = r"""
import { HeraldClient } from "%(module)s";
const client = new HeraldClient("ws://127.0.0.1:%(port)d/ws", {
  onOpen: () => { client.subscribe("js"); console.log(JSON.stringify({ event: "open" })); },
  onMessage: (m) => console.log(JSON.stringify({ event: "message", topic: m.topic, seq: m.seq, data: m.data })),
  onBinary: (m) => console.log(JSON.stringify({ event: "binary", topic: m.topic, seq: m.seq, data: Array.from(m.data) })),
  onGap: (g) => console.log(JSON.stringify({ event: "gap", ...g })),
});
setTimeout(() => { client.close(); process.exit(0); }, 8000);
"""


def test_javascript_client_under_node(herald, tmp_path):
    process = start_node_client(tmp_path / "client.mjs", NODE_SCRIPT, herald.port)
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/js").json()["subscribers"] == 1, 10,
                     desc="node client subscribed")
        admin = f"http://127.0.0.1:{herald.admin_port}"
        publish(admin, "js", {"hello": "node"})
        H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=js", body=b"\x00\xff",
                        content_type="application/octet-stream")
        output, errors = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert events[0] == {"event": "open"}, (events, errors)
    assert {"event": "message", "topic": "js", "seq": 1, "data": {"hello": "node"}} in events, (events, errors)
    assert {"event": "binary", "topic": "js", "seq": 2, "data": [0, 255]} in events, (events, errors)


NODE_RECOVERY_SCRIPT = r"""
import { HeraldClient } from "%(module)s";
let dropped = false;
const client = new HeraldClient("ws://127.0.0.1:%(port)d/ws", {
  minDelayMs: 1500, maxDelayMs: 1500,
  onOpen: () => { if (!dropped) client.subscribe("jsr"); console.log(JSON.stringify({ event: "open" })); },
  onMessage: (m) => {
    console.log(JSON.stringify({ event: "message", seq: m.seq, data: m.data }));
    if (m.seq === 1 && !dropped) { dropped = true; client.socket.close(); console.log(JSON.stringify({ event: "dropped" })); }
  },
  onReset: (r) => console.log(JSON.stringify({ event: "reset", ...r })),
  onGap: (g) => console.log(JSON.stringify({ event: "gap", ...g })),
});
setTimeout(() => { client.close(); process.exit(0); }, 8000);
"""


def test_javascript_client_recovers_after_a_reconnect(herald, tmp_path):
    process = start_node_client(tmp_path / "recover.mjs", NODE_RECOVERY_SCRIPT, herald.port)
    lines: list[str] = []
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/jsr").json()["subscribers"] == 1, 10,
                     desc="node client subscribed")
        admin = f"http://127.0.0.1:{herald.admin_port}"
        publish(admin, "jsr", 1)
        # Published while the client is away (it reconnects after 1.5 s).
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/jsr").json()["subscribers"] == 0, 5,
                     desc="node client dropped its connection")
        publish(admin, "jsr", 2)
        publish(admin, "jsr", 3)
        output, errors = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(line) for line in output.splitlines() if line.strip()]
    messages = [e for e in events if e["event"] == "message"]
    assert [(m["seq"], m["data"]) for m in messages] == [(1, 1), (2, 2), (3, 3)], (events, errors)
    assert not [e for e in events if e["event"] in ("reset", "gap")], events


NODE_REFRESH_SCRIPT = r"""
import { createHmac } from "node:crypto";
import { HeraldClient } from "%(module)s";
const b64 = (s) => Buffer.from(s).toString("base64url");
let issued = 0;
// Each token lives 8 s on the server (exp 22 s ago, 30 s leeway).
function getToken() {
  issued += 1;
  const head = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64(JSON.stringify({ sub: "pat", topics: ["*"], exp: Math.floor(Date.now() / 1000) - 22 }));
  const mac = createHmac("sha256", "s3cret").update(`${head}.${body}`).digest("base64url");
  return Promise.resolve(`${head}.${body}.${mac}`);
}
const client = new HeraldClient("ws://127.0.0.1:%(port)d/ws", {
  getToken,
  onState: (s) => {
    console.log(JSON.stringify({ event: "state", ...s }));
    if (s.state === "disconnected") process.exit(0);
  },
  onOpen: () => client.subscribe("jst"),
  onMessage: (m) => {
    console.log(JSON.stringify({ event: "message", seq: m.seq, data: m.data, issued }));
    client.close();
  },
});
setTimeout(() => process.exit(3), 40000);
"""


def test_javascript_client_takes_tokens_from_get_token_and_refreshes_before_exp(start_herald, tmp_path):
    herald = start_herald("--jwt-secret", "s3cret", "--ping-interval", "0.5", "--pong-timeout", "5")
    process = start_node_client(tmp_path / "refresh.mjs", NODE_REFRESH_SCRIPT, herald.port)
    try:
        H.wait_until(lambda: (H.prom_value(H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode()),
                                           "herald_token_refreshes_total") or 0) >= 4, 30,
                     desc="four in-band refreshes")
        publish(f"http://127.0.0.1:{herald.admin_port}", "jst", "still here")
        output, errors = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    events = [json.loads(line) for line in output.splitlines() if line.strip()]
    # One connection all along: the token was renewed in-band, never by a
    # 4002 close and a reconnect.
    assert [e["state"] for e in events if e["event"] == "state"] == ["connecting", "connected", "disconnected"], events
    assert events[-1]["state"] == "disconnected" and events[-1]["code"] == 1000, events
    message = next(e for e in events if e["event"] == "message")
    assert message["seq"] == 1 and message["data"] == "still here" and message["issued"] >= 5, events


def test_javascript_global_build_is_current_and_defines_herald():
    # herald.global.js (plain <script>) is generated from the ES module.
    import runpy
    module = runpy.run_path(str(ROOT / "Clients/js/make-global.py"))
    assert (ROOT / "Clients/js/herald.global.js").read_text() == module["render"](), \
        "herald.global.js is out of date: run python3 Clients/js/make-global.py"
    assert (ROOT / "Sources/HeraldEngine/PublicAssets.swift").read_text() == module["render_assets"](), \
        "PublicAssets.swift is out of date: run python3 Clients/js/make-global.py"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    check = ("const vm=require('vm'),fs=require('fs');const c={setTimeout,clearTimeout,TextDecoder,WebSocket:class{}};"
             "vm.createContext(c);vm.runInContext(fs.readFileSync(process.argv[1],'utf8'),c);"
             "console.log(typeof c.Herald.HeraldClient+' '+typeof c.Herald.decodeBinaryEnvelope)")
    out = subprocess.run([node, "-e", check, str(ROOT / "Clients/js/herald.global.js")], capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.strip() == "function function", out.stderr


def test_python_client_honours_retry_after_on_503(start_herald):
    # One place (--connections-max 1) held by another client: the Python
    # client's upgrade gets 503 with Retry-After: 1. It must wait that long
    # between attempts (its own back-off here would retry every 0.1 s),
    # then connect once the place is free.
    herald = start_herald("--connections-max", "1")
    holder = H.RawWS.open(herald.port, "/ws")
    states: list[ConnectionState] = []

    async def go():
        client = HeraldClient(f"ws://127.0.0.1:{herald.port}/ws", on_state=states.append, min_delay=0.05,
                              max_delay=0.1)
        task = asyncio.create_task(client.__aenter__())
        await asyncio.sleep(2.5)
        refused = [s for s in states if s.state == "disconnected"]
        await asyncio.to_thread(holder.close)
        await asyncio.wait_for(task, 15)
        await client.close()
        return refused

    refused = H.run_async(go(), 30)
    assert refused and all(s.reason == "HTTP 503" for s in refused), states
    # In 2.5 s: at most one attempt per Retry-After second, plus the first.
    assert len(refused) <= 4, f"{len(refused)} attempts: Retry-After was not honoured"
    assert "connected" in [s.state for s in states]


def test_the_js_zstd_decoder_load_gives_up_on_a_stuck_server(tmp_path):
    # A server that accepts and never answers: loadZstdDecoder fails after
    # its timeout (and the client would connect with deflate), not never.
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(4)
    script = """
import { loadZstdDecoder } from "%(module)s";
const started = Date.now();
loadZstdDecoder("http://127.0.0.1:%(port)d/herald-zstd.wasm", 300).then(
  () => console.log("loaded"),
  (error) => console.log(JSON.stringify({ failed: String(error), ms: Date.now() - started })));
"""
    try:
        proc = start_node_client(tmp_path / "stuck.mjs", script, stuck.getsockname()[1])
        out, err = proc.communicate(timeout=30)
        result = json.loads(out.strip().splitlines()[-1])
        assert "abort" in result["failed"].lower(), result
        assert result["ms"] >= 300, result
    finally:
        stuck.close()
