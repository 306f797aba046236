"""Publish/subscribe (CONTRACT: Messages on the socket; Admin listener publish/topics).
Deselect with -m "not pubsub" until pub/sub lands."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

import herald_e2e as H

pytestmark = pytest.mark.pubsub

ALLOWED_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:@/"


@pytest.fixture
def ws(herald):
    with H.RawWS.open(herald.port, "/ws") as c:
        yield c


def subscribe(ws: H.RawWS, topic: str) -> dict:
    ws.send_json({"type": "subscribe", "topic": topic})
    msg = ws.recv_json()
    assert msg.get("type") == "subscribed" and msg.get("topic") == topic, msg
    assert isinstance(msg.get("seq"), int), msg
    return msg


def publish(h: H.HeraldProcess, topic: str, body: bytes | str, content_type: str = "application/json",
            token: str | None = None) -> dict:
    r = publish_raw(h, topic, body, content_type, token)
    assert r.status == 200, f"publish {topic} -> {r.status} {r.body[:200]!r}"
    out = r.json()
    assert out.get("topic") == topic and isinstance(out.get("seq"), int), out
    return out


def publish_raw(h, topic, body, content_type="application/json", token=None) -> H.AdminResponse:
    if isinstance(body, str):
        body = body.encode()
    q = urllib.parse.quote(topic, safe="")
    return H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={q}", body=body,
                           content_type=content_type, token=token)


def expect_message(ws: H.RawWS, topic: str, seq: int, data, timeout: float = 5.0) -> None:
    msg = ws.recv_json(timeout)
    assert msg == {"type": "message", "topic": topic, "seq": seq, "data": data}, msg


def expect_nothing_but_pong(ws: H.RawWS, settle: float = 0.3) -> None:
    """No message is pending: a ping round trip returns pong first, and nothing follows."""
    time.sleep(settle)
    ws.send_json({"type": "ping"})
    msg = ws.recv_json()
    assert msg == {"type": "pong"}, f"unexpected message: {msg}"
    try:
        extra = ws.recv_frame(timeout=settle)
        pytest.fail(f"unexpected frame: {extra!r}")
    except TimeoutError:
        pass


# ---------------------------------------------------------------- subscribe / unsubscribe

def test_subscribe_new_topic_seq_0(ws):
    assert H.no_epoch(subscribe(ws, "news")) == {"type": "subscribed", "topic": "news", "seq": 0}


def test_unsubscribe(ws):
    subscribe(ws, "news")
    ws.send_json({"type": "unsubscribe", "topic": "news"})
    assert ws.recv_json() == {"type": "unsubscribed", "topic": "news"}


@pytest.mark.parametrize("topic", ["a", "x" * 128, ALLOWED_CHARS[:128], "user@host:room/1.a_b-c"],
                         ids=["1-byte", "128-bytes", "all-classes", "mixed"])
def test_valid_topic_names(ws, topic):
    subscribe(ws, topic)


@pytest.mark.parametrize("topic", ["", "x" * 129, "a b", "é", "a#b", "a?b", "a,b", "a*", "tab\t", "a%20b"],
                         ids=["empty", "129-bytes", "space", "non-ascii", "hash", "question", "comma",
                              "star", "tab", "percent"])
@pytest.mark.parametrize("kind", ["subscribe", "unsubscribe"])
def test_bad_topic(ws, kind, topic):
    ws.send_json({"type": kind, "topic": topic})
    msg = ws.recv_json()
    assert msg.get("type") == "error" and msg.get("code") == "bad_topic", msg
    assert isinstance(msg.get("message"), str)
    ws.send_json({"type": "ping"})
    assert ws.recv_json() == {"type": "pong"}


@pytest.mark.parametrize("obj", [{"type": "subscribe"}, {"type": "subscribe", "topic": 5},
                                 {"type": "subscribe", "topic": None}], ids=["missing", "number", "null"])
def test_subscribe_topic_not_a_string(ws, obj):
    ws.send_json(obj)
    msg = ws.recv_json()
    assert msg.get("type") == "error" and msg.get("code") in ("bad_topic", "bad_json"), msg
    ws.send_json({"type": "ping"})
    assert ws.recv_json() == {"type": "pong"}


def test_topics_per_connection_max(start_herald):
    h = start_herald("--topics-per-connection-max", "2")
    with H.RawWS.open(h.port, "/ws") as ws:
        subscribe(ws, "t1")
        subscribe(ws, "t2")
        ws.send_json({"type": "subscribe", "topic": "t3"})
        msg = ws.recv_json()
        assert msg.get("type") == "error", msg
        ws.send_json({"type": "unsubscribe", "topic": "t1"})
        assert ws.recv_json() == {"type": "unsubscribed", "topic": "t1"}
        subscribe(ws, "t3")


# ---------------------------------------------------------------- publish and deliver

def test_publish_json_delivered(herald, ws):
    subscribe(ws, "news")
    out = publish(herald, "news", '{"headline":"hi","n":[1,2,3]}')
    assert H.no_epoch(out) == {"topic": "news", "seq": 1}
    expect_message(ws, "news", 1, {"headline": "hi", "n": [1, 2, 3]})


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8", None],
                         ids=["text-plain", "text-plain-charset", "urllib-default-form"])
def test_publish_non_json_arrives_as_string(herald, ws, content_type):
    subscribe(ws, "chat")
    r = H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=chat", body="héllo {not json}".encode(),
                        content_type=content_type)
    assert r.status == 200, r.body
    expect_message(ws, "chat", 1, "héllo {not json}")


def test_publish_json_scalars(herald, ws):
    subscribe(ws, "s")
    for i, (body, value) in enumerate([("42", 42), ('"str"', "str"), ("null", None), ("true", True)], 1):
        assert publish(herald, "s", body)["seq"] == i
        expect_message(ws, "s", i, value)


def test_seq_counts_without_gaps(herald, ws):
    subscribe(ws, "counter")
    for i in range(1, 21):
        assert publish(herald, "counter", json.dumps({"i": i}))["seq"] == i
    for i in range(1, 21):
        expect_message(ws, "counter", i, {"i": i})


def test_subscribe_reports_last_seq(herald):
    for _ in range(3):
        publish(herald, "hist", "{}")
    with H.RawWS.open(herald.port, "/ws") as ws:
        assert subscribe(ws, "hist")["seq"] == 3
        publish(herald, "hist", '{"after":true}')
        expect_message(ws, "hist", 4, {"after": True})


def test_publish_without_subscribers_still_counts(herald):
    assert publish(herald, "empty", "1")["seq"] == 1
    assert publish(herald, "empty", "2")["seq"] == 2


def test_unsubscribe_stops_delivery(herald, ws):
    subscribe(ws, "news")
    publish(herald, "news", "1")
    expect_message(ws, "news", 1, 1)
    ws.send_json({"type": "unsubscribe", "topic": "news"})
    assert ws.recv_json() == {"type": "unsubscribed", "topic": "news"}
    publish(herald, "news", "2")
    expect_nothing_but_pong(ws)


def test_only_subscribers_receive(herald):
    with H.RawWS.open(herald.port, "/ws") as a, H.RawWS.open(herald.port, "/ws") as b, \
            H.RawWS.open(herald.port, "/ws") as c:
        subscribe(a, "t")
        subscribe(b, "t")
        subscribe(c, "other")
        publish(herald, "t", '{"x":1}')
        expect_message(a, "t", 1, {"x": 1})
        expect_message(b, "t", 1, {"x": 1})
        expect_nothing_but_pong(c)


def test_many_subscribers_across_shards(herald):
    conns = [H.RawWS.open(herald.port, "/ws") for _ in range(40)]
    try:
        for c in conns:
            subscribe(c, "fanout")
        for i in range(1, 4):
            publish(herald, "fanout", str(i))
        for c in conns:
            for i in range(1, 4):
                expect_message(c, "fanout", i, i)
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------- topics= query

def test_topics_query_subscribes_on_open(herald):
    with H.RawWS.open(herald.port, "/ws?topics=a,b") as ws:
        publish(herald, "a", "1")
        publish(herald, "b", "2")
        got = sorted((m["topic"], m["seq"], m["data"]) for m in (ws.recv_json(), ws.recv_json()))
        assert got == [("a", 1, 1), ("b", 1, 2)]


def test_topics_query_percent_decoded(herald):
    with H.RawWS.open(herald.port, "/ws?topics=x%2Fy,z%3A1&other=1") as ws:
        publish(herald, "x/y", '"one"')
        expect_message(ws, "x/y", 1, "one")
        publish(herald, "z:1", '"two"')
        expect_message(ws, "z:1", 1, "two")


def test_topics_query_bad_topic_rejected(herald):
    # A bad name in topics= must not be subscribed. Either the handshake is
    # refused (400) or the socket opens and reports bad_topic; never a delivery.
    raw = H.upgrade_request("/ws?topics=ok,bad%20name", f"127.0.0.1:{herald.port}", H.make_key())
    with H.connect(herald.port) as sock:
        sock.sendall(raw)
        reader = H.SockReader(sock)
        resp = H.read_http_response(reader, head_only=True)
        if resp.status == 101:
            ws = H.RawWS(sock, reader.buf, resp)
            msg = ws.recv_json()
            assert msg.get("type") == "error" and msg.get("code") == "bad_topic", msg
        else:
            assert resp.status == 400, resp.raw_head


# ---------------------------------------------------------------- admin publish API

def test_publish_json_body_single_topic(herald, ws):
    subscribe(ws, "j")
    r = H.admin_request(herald.admin_port, "POST", "/v1/publish",
                        body=json.dumps({"topic": "j", "data": {"k": "v"}}).encode(),
                        content_type="application/json")
    assert r.status == 200, r.body
    assert H.no_epoch(r.json()) == {"results": [{"topic": "j", "seq": 1}]}
    expect_message(ws, "j", 1, {"k": "v"})


def test_publish_json_body_many_topics(herald, ws):
    subscribe(ws, "a")
    subscribe(ws, "b")
    publish(herald, "b", "0")  # b is at seq 1 now
    expect_message(ws, "b", 1, 0)
    r = H.admin_request(herald.admin_port, "POST", "/v1/publish",
                        body=json.dumps({"topics": ["a", "b"], "data": [1, 2]}).encode(),
                        content_type="application/json")
    assert r.status == 200, r.body
    assert sorted(H.no_epoch(r.json()["results"]), key=lambda x: x["topic"]) == [{"topic": "a", "seq": 1}, {"topic": "b", "seq": 2}]
    got = sorted((m["topic"], m["seq"], tuple(m["data"])) for m in (ws.recv_json(), ws.recv_json()))
    assert got == [("a", 1, (1, 2)), ("b", 2, (1, 2))]


def test_topic_info(herald):
    with H.RawWS.open(herald.port, "/ws") as a, H.RawWS.open(herald.port, "/ws") as b:
        subscribe(a, "info")
        subscribe(b, "info")
        publish(herald, "info", "1")
        r = H.admin_get(herald.admin_port, "/v1/topics/info")
        assert r.status == 200
        assert H.no_epoch(r.json()) == {"topic": "info", "subscribers": 2, "seq": 1}


def test_binary_publish_arrives_as_binary_frame(herald, ws):
    subscribe(ws, "bin")
    payload = bytes(range(256))
    r = publish_raw(herald, "bin", payload, content_type="application/octet-stream")
    assert r.status == 200 and r.json()["seq"] == 1, r.body
    op, data = ws.recv_message()
    assert op == H.OP_BINARY, f"binary publish arrived as opcode {op}"
    assert payload in data, "published bytes not found in the binary envelope (layout: Docs/PROTOCOL.md)"


@pytest.mark.parametrize("case", ["bad-topic", "no-topic", "empty-topic", "bad-json-body", "missing-body",
                                  "json-body-bad-topic"])
def test_publish_errors_400(herald, case):
    port = herald.admin_port
    if case == "bad-topic":
        r = publish_raw(herald, "bad topic", "1")
    elif case == "no-topic":
        r = H.admin_request(port, "POST", "/v1/publish?x=1", body=b"1", content_type="text/plain")
    elif case == "empty-topic":
        r = H.admin_request(port, "POST", "/v1/publish?topic=", body=b"1", content_type="application/json")
    elif case == "bad-json-body":
        r = H.admin_request(port, "POST", "/v1/publish", body=b"{nope", content_type="application/json")
    elif case == "missing-body":
        r = H.admin_request(port, "POST", "/v1/publish", body=b"", content_type="application/json")
    else:
        r = H.admin_request(port, "POST", "/v1/publish", body=json.dumps({"topic": "a b", "data": 1}).encode(),
                            content_type="application/json")
    assert r.status == 400, f"{case}: {r.status} {r.body[:200]!r}"
    assert isinstance(r.json().get("error"), str), r.body


def test_publish_too_large_413(start_herald):
    h = start_herald("--publish-bytes-max", "1024")
    assert publish_raw(h, "t", b'"' + b"a" * 1000 + b'"').status == 200
    r = publish_raw(h, "t", b'"' + b"a" * 2000 + b'"')
    assert r.status == 413, r.status
    assert isinstance(r.json().get("error"), str)


def test_publish_requires_token(start_herald):
    h = start_herald("--admin-token", "tok")
    assert publish_raw(h, "t", "1").status == 401
    assert publish_raw(h, "t", "1", token="tok").status == 200


def test_publish_get_is_405(herald):
    r = H.admin_get(herald.admin_port, "/v1/publish?topic=t")
    assert r.status == 405


def test_pubsub_stats(herald, ws):
    subscribe(ws, "st")
    subscribe(ws, "st2")
    publish(herald, "st", "1")
    expect_message(ws, "st", 1, 1)
    s = H.wait_stat(herald.admin_port, lambda s: s.get("messages_delivered_total", 0) >= 1, desc="delivered")
    for key in ("topics", "subscriptions", "messages_published_total", "messages_delivered_total"):
        assert isinstance(s.get(key), int), f"{key}: {s.get(key)!r}"
    assert s["subscriptions"] == 2
    assert s["topics"] >= 2
    assert s["messages_published_total"] == 1
    assert s["messages_delivered_total"] == 1
