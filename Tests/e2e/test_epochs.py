"""Epochs, topic collection and `since` (issue 8, first step): every reply
that states a seq names its epoch; a restart or a collected topic starts a
new epoch; idle topics are freed so invented names cannot fill
--topics-max for good; a subscribe with `since` is `recovered: true` only
when the client missed nothing (no history is kept yet)."""

from __future__ import annotations

import time

import pytest

import herald_e2e as H


def publish(h: H.HeraldProcess, topic: str, body: bytes = b"1") -> dict:
    r = H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={topic}", body=body,
                        content_type="application/json")
    assert r.status == 200, r.body
    return r.json()


def subscribe(ws: H.RawWS, topic: str, since: dict | None = None) -> dict:
    message = {"type": "subscribe", "topic": topic}
    if since is not None:
        message["since"] = since
    ws.send_json(message)
    return ws.recv_json()


def test_every_seq_comes_with_the_same_epoch(herald):
    with H.RawWS.open(herald.port, "/ws") as ws:
        reply = subscribe(ws, "e")
        first = publish(herald, "e")
        assert reply["epoch"] == first["epoch"] and first["seq"] == 1
        assert ws.recv_json()["seq"] == 1
        info = H.admin_get(herald.admin_port, "/v1/topics/e").json()
        assert info["epoch"] == first["epoch"] and info["seq"] == 1
        multi = H.admin_request(herald.admin_port, "POST", "/v1/publish", body=b'{"topics":["e"],"data":2}',
                                content_type="application/json").json()
        assert multi["results"][0]["epoch"] == first["epoch"]
    assert H.admin_get(herald.admin_port, "/v1/topics/never").json()["epoch"] is None


def test_a_restart_starts_a_new_epoch(start_herald):
    first = start_herald()
    before = publish(first, "r")
    first.stop()
    second = start_herald()
    after = publish(second, "r")
    assert after["seq"] == 1
    assert after["epoch"] != before["epoch"], "seq restarted under the same epoch"


@pytest.mark.e2e_timeout(60)
def test_idle_topics_are_collected_and_names_stop_filling_the_limit(start_herald):
    h = start_herald("--topic-idle-seconds", "1", "--topics-max", "20")
    with H.RawWS.open(h.port, "/ws") as ws:
        # One anonymous connection cycling names: subscribe, unsubscribe.
        for i in range(20):
            assert subscribe(ws, f"n{i}")["type"] == "subscribed"
            ws.send_json({"type": "unsubscribe", "topic": f"n{i}"})
            assert ws.recv_json()["type"] == "unsubscribed"
        refused = subscribe(ws, "one-more")
        assert refused["type"] == "error" and refused["code"] == "topic_limit"
        # After the idle period they are freed: the limit holds again.
        H.wait_until(lambda: H.get_stats(h.admin_port)["topics"] == 0, 15, desc="idle topics collected")
        assert subscribe(ws, "one-more")["type"] == "subscribed"
    samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_topics_collected_total") >= 20


@pytest.mark.e2e_timeout(60)
def test_a_collected_topic_comes_back_in_a_new_epoch(start_herald):
    # Kept history keeps a topic alive: it is collected once its last kept
    # message has expired too.
    h = start_herald("--topic-idle-seconds", "1", "--history-ttl", "1")
    before = publish(h, "c")
    H.wait_until(lambda: H.admin_get(h.admin_port, "/v1/topics/c").json()["epoch"] is None, 15,
                 desc="topic collected")
    after = publish(h, "c")
    assert after["seq"] == 1 and after["epoch"] != before["epoch"]


def test_subscribed_topics_are_kept(start_herald):
    h = start_herald("--topic-idle-seconds", "1")
    with H.RawWS.open(h.port, "/ws?topics=kept") as ws:
        first = publish(h, "kept")
        time.sleep(2.5)
        second = publish(h, "kept")
        assert second == {"topic": "kept", "seq": 2, "epoch": first["epoch"]}
        assert [ws.recv_json()["seq"] for _ in range(2)] == [1, 2]


def test_since_without_history_recovers_only_when_nothing_was_missed(start_herald):
    herald = start_herald("--history-size", "0")
    with H.RawWS.open(herald.port, "/ws") as ws:
        position = publish(herald, "s")
        # Up to date (seq 1 of this epoch): recovered, and live from seq 2.
        reply = subscribe(ws, "s", {"seq": 1, "epoch": position["epoch"]})
        assert reply == {"type": "subscribed", "topic": "s", "seq": 1, "epoch": position["epoch"], "recovered": True}
        publish(herald, "s")
        assert ws.recv_json()["seq"] == 2
    with H.RawWS.open(herald.port, "/ws") as ws:
        # Missed seq 2 (no history kept), another epoch, or ahead: not recovered.
        for since in ({"seq": 1, "epoch": position["epoch"]}, {"seq": 2, "epoch": "other"},
                      {"seq": 9, "epoch": position["epoch"]}):
            reply = subscribe(ws, "s", since)
            assert reply["recovered"] is False and reply["seq"] == 2, reply
            ws.send_json({"type": "unsubscribe", "topic": "s"})
            assert ws.recv_json()["type"] == "unsubscribed"
        ws.send_json({"type": "subscribe", "topic": "s", "since": {"seq": -1}})
        error = ws.recv_json()
        assert error["type"] == "error" and error["code"] == "bad_since"
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_recoveries_total", result="recovered") == 1
    assert H.prom_value(samples, "herald_recoveries_total", result="not_recovered") == 3


def test_a_reconnecting_client_gets_exactly_what_it_missed(herald):
    with H.RawWS.open(herald.port, "/ws") as ws:
        subscribe(ws, "r")
        for n in range(3):
            publish(herald, "r", str(n).encode())
        got = [ws.recv_json() for _ in range(3)]
        last = got[-1]
    # Away: five more messages.
    for n in range(3, 8):
        position = publish(herald, "r", str(n).encode())
    with H.RawWS.open(herald.port, "/ws") as ws:
        reply = subscribe(ws, "r", {"seq": last["seq"], "epoch": position["epoch"]})
        assert reply["recovered"] is True and reply["seq"] == 8
        replayed = [ws.recv_json() for _ in range(5)]
        assert [m["seq"] for m in replayed] == [4, 5, 6, 7, 8]
        assert [m["data"] for m in replayed] == [3, 4, 5, 6, 7]
        publish(herald, "r", b"8")
        assert ws.recv_json()["seq"] == 9, "live messages follow, no duplicate"
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_messages_replayed_total") == 5


def test_recovery_past_the_history_is_refused_cleanly(start_herald):
    h = start_herald("--history-size", "4", "--history-ttl", "2")
    first = publish(h, "p")
    for _ in range(5):
        publish(h, "p")
    with H.RawWS.open(h.port, "/ws") as ws:
        # Seq 2 is no longer kept (only 3..6): not recovered, live from 7.
        reply = subscribe(ws, "p", {"seq": 1, "epoch": first["epoch"]})
        assert reply["recovered"] is False and reply["seq"] == 6
        publish(h, "p")
        assert ws.recv_json()["seq"] == 7, "nothing replayed"
    time.sleep(2.5)
    with H.RawWS.open(h.port, "/ws") as ws:
        # Past --history-ttl: not recoverable either.
        reply = subscribe(ws, "p", {"seq": 6, "epoch": first["epoch"]})
        assert reply["recovered"] is False and reply["seq"] == 7


@pytest.mark.e2e_timeout(90)
def test_no_gap_and_no_duplicate_at_the_seam_under_load(start_herald):
    # A publisher keeps publishing while a client drops and resubscribes
    # with `since` again and again: across all its sessions it must see
    # every seq exactly once, in order.
    import http.client
    import threading

    h = start_herald("--history-size", "100000")
    total = 3000
    done = threading.Event()

    def publisher():
        connection = http.client.HTTPConnection("127.0.0.1", h.admin_port, timeout=10)
        for n in range(total):
            connection.request("POST", "/v1/publish?topic=seam", body=str(n),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200
        connection.close()
        done.set()

    seen: list[int] = []
    epoch = None
    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    sessions = 0
    deadline = time.monotonic() + 60
    while len(seen) < total and time.monotonic() < deadline:
        sessions += 1
        with H.RawWS.open(h.port, "/ws") as ws:
            since = {"seq": seen[-1], "epoch": epoch} if seen else None
            reply = subscribe(ws, "seam", since)
            if since is None:
                epoch = reply["epoch"]
                seen.extend(range(1, reply["seq"] + 1))  # before we joined: not ours to check
            else:
                assert reply["recovered"] is True, reply
            # Read a while, then drop the connection mid-stream.
            for _ in range(150):
                if len(seen) >= total:
                    break
                message = ws.recv_json(10)
                assert message["type"] == "message", message
                seen.append(message["seq"])
    thread.join(30)
    assert done.is_set()
    assert seen == list(range(1, total + 1)), "a gap or a duplicate at a seam"
    assert sessions >= 5


def test_history_and_listing_endpoints(start_herald):
    h = start_herald("--history-size", "3")
    for body, ctype in ((b'{"a":1}', "application/json"), (b"hello", "text/plain"), (b"\x00\x01\xff", "application/octet-stream"),
                        (b"[4]", "application/json")):
        r = H.admin_request(h.admin_port, "POST", "/v1/publish?topic=room/1", body=body, content_type=ctype)
        assert r.status == 200
    publish(h, "room/2")
    publish(h, "other")
    page = H.admin_get(h.admin_port, "/v1/topics/room/1/history").json()
    epoch = page["epoch"]
    assert page == {"topic": "room/1", "epoch": epoch, "seq": 4, "messages": [
        {"seq": 2, "data": "hello"}, {"seq": 3, "data": "AAH/", "binary": True}, {"seq": 4, "data": [4]}]}
    later = H.admin_get(h.admin_port, "/v1/topics/room/1/history?since=3&limit=5").json()
    assert later["messages"] == [{"seq": 4, "data": [4]}]
    assert H.admin_get(h.admin_port, "/v1/topics/room/1/history?since=2&limit=1").json()["messages"] == [
        {"seq": 3, "data": "AAH/", "binary": True}]
    assert H.admin_get(h.admin_port, "/v1/topics/nope/history").status == 404
    assert H.admin_get(h.admin_port, "/v1/topics/room/1/history?limit=0").status == 400
    listing = H.admin_get(h.admin_port, "/v1/topics?prefix=room/").json()
    assert [(t["topic"], t["seq"]) for t in listing["topics"]] == [("room/1", 4), ("room/2", 1)]
    assert listing["topics"][0]["epoch"] == epoch and listing["topics"][0]["subscribers"] == 0
    assert [t["topic"] for t in H.admin_get(h.admin_port, "/v1/topics?limit=1").json()["topics"]] == ["other"]
    assert H.admin_get(h.admin_port, "/v1/topics?limit=5000").status == 400


def test_subscribe_churn_is_rate_limited(start_herald):
    h = start_herald("--subscribe-burst", "10", "--subscribes-per-second", "2")
    with H.RawWS.open(h.port, "/ws") as ws:
        replies = []
        for i in range(12):
            ws.send_json({"type": "subscribe", "topic": f"churn{i}"})
            replies.append(ws.recv_json())
        assert [r["type"] for r in replies[:10]] == ["subscribed"] * 10
        assert all(r["type"] == "error" and r["code"] == "rate_limited" for r in replies[10:]), replies[10:]
        assert [r["topic"] for r in replies[10:]] == ["churn10", "churn11"], "errors name the topic"
        # The connection stays open and recovers at the rate.
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}
        time.sleep(1.2)
        assert subscribe(ws, "later")["type"] == "subscribed"
    samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_subscribes_rate_limited_total") == 2


def test_a_recovery_waits_while_the_queue_is_over_its_limit(start_herald):
    # A client that asks for many replies without reading takes its queue
    # over --send-queue-bytes-max; a subscribe with `since` behind them in
    # the same write must not pile a replay on top. It waits (counted) until
    # the queue is back under the limit, then replays exactly what was
    # missed, after the replies that were queued first.
    herald = start_herald("--send-queue-bytes-max", "4096", "--history-size", "64")
    for n in range(20):
        position = publish(herald, "w", str(n).encode())
    with H.RawWS.open(herald.port, "/ws") as ws:
        pings = b"".join(H.build_frame(0x1, b'{"type":"ping"}', mask=True) for _ in range(80))
        since = {"type": "subscribe", "topic": "w", "since": {"seq": 5, "epoch": position["epoch"]}}
        ws.send_raw(pings + H.build_frame(0x1, json_bytes(since), mask=True))
        for _ in range(80):
            assert ws.recv_json() == {"type": "pong"}
        reply = ws.recv_json()
        assert reply["type"] == "subscribed" and reply["recovered"] is True and reply["seq"] == 20, reply
        assert [ws.recv_json()["seq"] for _ in range(15)] == list(range(6, 21))
        publish(herald, "w", b"20")
        assert ws.recv_json()["seq"] == 21, "live messages follow, no duplicate"
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_recoveries_deferred_total") == 1
    assert H.prom_value(samples, "herald_messages_replayed_total") == 15


def test_an_unsubscribe_cancels_a_waiting_recovery(start_herald):
    herald = start_herald("--send-queue-bytes-max", "4096", "--history-size", "64")
    for n in range(5):
        position = publish(herald, "u", str(n).encode())
    with H.RawWS.open(herald.port, "/ws") as ws:
        pings = b"".join(H.build_frame(0x1, b'{"type":"ping"}', mask=True) for _ in range(80))
        since = {"type": "subscribe", "topic": "u", "since": {"seq": 1, "epoch": position["epoch"]}}
        ws.send_raw(pings + H.build_frame(0x1, json_bytes(since), mask=True)
                    + H.build_frame(0x1, json_bytes({"type": "unsubscribe", "topic": "u"}), mask=True))
        for _ in range(80):
            assert ws.recv_json() == {"type": "pong"}
        assert ws.recv_json() == {"type": "unsubscribed", "topic": "u"}
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}, "nothing replayed for a topic the client left"
        assert H.admin_get(herald.admin_port, "/v1/topics/u").json()["subscribers"] == 0



def test_waiting_recoveries_are_bounded_per_connection(start_herald):
    # A client that keeps its queue over the limit cannot make the server
    # hold more waiting recoveries than it may hold topics: past
    # --topics-per-connection-max the subscribe is refused at once.
    herald = start_herald("--send-queue-bytes-max", "4096", "--history-size", "64",
                          "--topics-per-connection-max", "2")
    epochs = {topic: publish(herald, topic)["epoch"] for topic in ("w1", "w2", "w3")}
    with H.RawWS.open(herald.port, "/ws") as ws:
        pings = b"".join(H.build_frame(0x1, b'{"type":"ping"}', mask=True) for _ in range(80))
        subscribes = b"".join(
            H.build_frame(0x1, json_bytes({"type": "subscribe", "topic": topic,
                                           "since": {"seq": 0, "epoch": epochs[topic]}}), mask=True)
            for topic in ("w1", "w2", "w3"))
        ws.send_raw(pings + subscribes)
        replies = [ws.recv_json() for _ in range(80 + 1 + 2 * 2)]
    assert replies[:80] == [{"type": "pong"}] * 80
    assert replies[80]["type"] == "error" and replies[80]["code"] == "too_many_topics" and replies[80]["topic"] == "w3"
    subscribed = [r for r in replies[81:] if r["type"] == "subscribed"]
    assert [(r["topic"], r["recovered"]) for r in subscribed] == [("w1", True), ("w2", True)]
    assert [r["seq"] for r in replies[81:] if r["type"] == "message"] == [1, 1]
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_recoveries_deferred_total") == 2

def json_bytes(value: object) -> bytes:
    import json
    return json.dumps(value).encode()
