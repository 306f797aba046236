"""Connection auth (CONTRACT "Security"): --jwt-secret makes /ws require an
HS256 token; `topics` (names or prefixes ending in *) bounds what the
connection may subscribe to; `exp` is honoured. Tokens are signed here with
Python's hmac/hashlib, independently of the server's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.parse

import pytest

import herald_e2e as H

SECRET = "e2e-secret"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims: dict, secret: str = SECRET, alg: str = "HS256") -> str:
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def upgrade_status(port: int, path: str) -> int:
    raw = H.upgrade_request(path, f"127.0.0.1:{port}", H.make_key())
    with H.connect(port) as sock:
        sock.sendall(raw)
        return H.read_http_response(H.SockReader(sock), head_only=True).status


@pytest.fixture
def secured(start_herald):
    return start_herald("--jwt-secret", SECRET)


def close_after_upgrade(port: int, path: str) -> H.Frame:
    """Upgrades (101) and returns the close frame the server sends at once."""
    with H.RawWS.open(port, path) as ws:
        assert ws.response.status == 101
        return ws.expect_close(timeout=5)


def test_missing_bad_and_expired_tokens_upgrade_then_close_4001_or_4002(secured):
    # CONTRACT "Security": browsers never see an HTTP status of a failed
    # upgrade, so the upgrade succeeds and the close code says why.
    for path in ("/ws", "/ws?token=garbage", "/ws?token=" + token({"sub": "u"}, secret="wrong"),
                 "/ws?topics=a&token=" + token({"sub": "u"}, alg="none")):
        frame = close_after_upgrade(secured.port, path)
        assert frame.close_code == 4001 and frame.close_reason == b"unauthorized", (path, frame)
    frame = close_after_upgrade(secured.port, "/ws?token=" + token({"sub": "u", "exp": int(time.time()) - 3600}))
    assert frame.close_code == 4002 and frame.close_reason == b"token expired"
    stats = H.get_stats(secured.admin_port)
    assert stats["handshakes_failed"]["unauthorized"] == 5
    H.wait_until(lambda: H.get_stats(secured.admin_port)["closes"]["4001"] == 4, 5, desc="4001 closes counted")
    assert H.get_stats(secured.admin_port)["closes"]["4002"] == 1
    assert H.get_stats(secured.admin_port)["subscriptions"] == 0, "a refused token subscribes to nothing"


def test_refresh_extends_the_connection_for_the_same_sub(start_herald):
    herald = start_herald("--jwt-secret", SECRET, "--ping-interval", "0.5", "--pong-timeout", "5")
    # Valid at the upgrade, about to expire (just past the 30 s leeway in 2 s).
    short = token({"sub": "dora", "topics": ["a"], "exp": int(time.time()) - 28})
    with H.RawWS.open(herald.port, "/ws?token=" + short) as ws:
        later = int(time.time()) + 3600
        ws.send_json({"type": "refresh", "token": token({"sub": "dora", "topics": ["a", "b"], "exp": later})})
        assert ws.recv_json() == {"type": "refreshed", "exp": later}
        # The new grant applies, and the connection outlives the old exp.
        ws.send_json({"type": "subscribe", "topic": "b"})
        assert ws.recv_json()["type"] == "subscribed"
        # Another sub, a bad token: refused, and the connection keeps its token.
        ws.send_json({"type": "refresh", "token": token({"sub": "eve", "exp": later})})
        other = ws.recv_json()
        assert other["type"] == "error" and other["code"] == "unauthorized" and "sub" in other["message"]
        ws.send_json({"type": "refresh", "token": "garbage"})
        assert ws.recv_json()["code"] == "unauthorized"
        time.sleep(3)
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}, "refreshed connection closed at the old exp"
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_token_refreshes_total") == 1
    assert H.prom_value(samples, "herald_token_refreshes_refused_total") == 2


def test_valid_token_subscribes_within_its_topics(secured):
    jwt = token({"sub": "alice", "topics": ["news", "prices/*"], "exp": int(time.time()) + 3600})
    with H.RawWS.open(secured.port, "/ws?token=" + urllib.parse.quote(jwt)) as ws:
        for topic in ("news", "prices/eur"):
            ws.send_json({"type": "subscribe", "topic": topic})
            assert H.no_epoch(ws.recv_json()) == {"type": "subscribed", "topic": topic, "seq": 0}
        ws.send_json({"type": "subscribe", "topic": "secrets"})
        refused = ws.recv_json()
        assert refused["type"] == "error" and refused["code"] == "forbidden", refused
        # The socket stays open and still works.
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}
        H.admin_request(secured.admin_port, "POST", "/v1/publish?topic=prices/eur", body=b"1.08",
                        content_type="application/json")
        assert ws.recv_json() == {"type": "message", "topic": "prices/eur", "seq": 1, "data": 1.08}


def test_url_topics_outside_the_token_are_forbidden_subscribes(secured):
    # URL topics are subscribes like any other: the allowed one is
    # subscribed, the other answered with `forbidden`, the socket stays open.
    jwt = token({"sub": "bob", "topics": ["a"]})
    with H.RawWS.open(secured.port, f"/ws?token={jwt}&topics=a,b") as ws:
        refused = ws.recv_json()
        assert refused["type"] == "error" and refused["code"] == "forbidden", refused
        H.admin_request(secured.admin_port, "POST", "/v1/publish?topic=b", body=b"0", content_type="application/json")
        H.admin_request(secured.admin_port, "POST", "/v1/publish?topic=a", body=b"1", content_type="application/json")
        assert ws.recv_json() == {"type": "message", "topic": "a", "seq": 1, "data": 1}
    assert H.get_stats(secured.admin_port)["handshakes_failed"]["unauthorized"] == 0


def test_expiry_closes_a_live_connection(start_herald):
    herald = start_herald("--jwt-secret", SECRET, "--ping-interval", "0.5", "--pong-timeout", "5")
    # exp just past the server's 30 s leeway: valid at the handshake, expired 2 s later.
    jwt = token({"sub": "carol", "topics": ["*"], "exp": int(time.time()) - 28})
    with H.RawWS.open(herald.port, "/ws?token=" + jwt) as ws:
        frame = ws.expect_close(timeout=10)
        assert frame.close_code == 4002 and b"expired" in frame.close_reason
    assert H.get_stats(herald.admin_port)["closes"]["4002"] >= 1


def test_without_a_secret_no_token_is_needed(herald):
    assert upgrade_status(herald.port, "/ws") == 101


def test_admin_disconnect_by_sub_closes_every_connection_of_that_user(start_herald):
    herald = start_herald("--jwt-secret", SECRET)
    later = int(time.time()) + 3600
    mallory = [H.RawWS.open(herald.port, "/ws?token=" + token({"sub": "mallory", "topics": ["*"], "exp": later}))
               for _ in range(3)]
    alice = H.RawWS.open(herald.port, "/ws?token=" + token({"sub": "alice", "topics": ["*"], "exp": later}))
    try:
        r = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"sub":"mallory"}',
                            content_type="application/json")
        assert r.status == 200 and r.json() == {"closed": 3}
        for ws in mallory:
            frame = ws.expect_close(timeout=5)
            assert frame.close_code == 4000 and frame.close_reason == b"disconnected by server"
        alice.send_json({"type": "ping"})
        assert alice.recv_json() == {"type": "pong"}, "another user's connection was closed"
        again = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"sub":"nobody"}',
                                content_type="application/json")
        assert again.json() == {"closed": 0}
        bad = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"user":1}',
                              content_type="application/json")
        assert bad.status == 400
    finally:
        for ws in mallory + [alice]:
            ws.close()
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_admin_disconnects_total") == 3


def test_a_disconnect_pipelined_between_publishes_is_answered_in_order(start_herald):
    """The admin thread does not wait for the shards' replies to
    /v1/disconnect (it goes on serving other connections); on the
    connection that asked, the answers still come in request order, the
    publish after it read only once it is answered."""
    herald = start_herald("--jwt-secret", SECRET)
    later = int(time.time()) + 3600
    victims = [H.RawWS.open(herald.port, "/ws?token=" + token({"sub": "eve", "topics": ["*"], "exp": later}))
               for _ in range(2)]
    try:
        requests = b""
        for path, body in (("/v1/publish?topic=t", b'{"n":1}'), ("/v1/disconnect", b'{"sub":"eve"}'),
                           ("/v1/publish?topic=t", b'{"n":2}'), ("/v1/disconnect", b'{"sub":"eve"}'),
                           ("/healthz", None)):
            if body is None:
                requests += f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
            else:
                requests += (f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        with socket.create_connection(("127.0.0.1", herald.admin_port), timeout=10) as sock:
            sock.sendall(requests)  # all five in one write
            answers = read_http_answers(sock, 5)
        assert [status for status, _ in answers] == [200, 200, 200, 200, 200], answers
        assert json.loads(answers[0][1])["seq"] == 1
        assert json.loads(answers[1][1]) == {"closed": 2}
        assert json.loads(answers[2][1])["seq"] == 2
        assert json.loads(answers[3][1]) == {"closed": 0}  # already gone
        assert answers[4][1] == b"ok"
        for ws in victims:
            assert ws.expect_close(timeout=5).close_code == 4000
    finally:
        for ws in victims:
            ws.close()


def read_http_answers(sock, count: int) -> list[tuple[int, bytes]]:
    """`count` HTTP/1.1 answers with Content-Length bodies, in order."""
    data = b""
    answers = []
    while len(answers) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end].decode()
            length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n")
                          if line.lower().startswith("content-length:"))
            if len(data) >= end + 4 + length:
                answers.append((int(head.split(" ")[1]), data[end + 4:end + 4 + length]))
                data = data[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(answers)} answers"
        data += chunk
    return answers
