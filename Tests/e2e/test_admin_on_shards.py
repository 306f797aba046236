"""--admin-threads 0: the shard threads serve the admin API, each on its own
SO_REUSEPORT admin listener. A publish taken by one shard reaches the
subscribers of every shard, in one seq order; the slow admin work (a
dictionary's training, a disconnect waiting for the shards) never holds a
shard; a cluster, whose publishes wait for Redis, refuses the mode.

`make test` also runs the admin, auth, batch, hostile-HTTP, pub/sub,
shutdown and zstd modules with HERALD_E2E_ADMIN_THREADS=0."""
from __future__ import annotations

import http.client
import json
import socket

import herald_e2e as H


def shard_connections(herald: H.HeraldProcess) -> list[int]:
    return [shard["connections"] for shard in H.get_stats(herald.admin_port)["shards"]]


def test_publishes_taken_by_either_shard_reach_every_shard_in_one_order(start_herald):
    herald = start_herald("--admin-threads", "0", "--shards", "2")
    assert "admin-threads=0" in herald.stderr_text()
    subscribers: list[H.RawWS] = []
    try:
        # Until both shards hold a subscriber (the kernel spreads
        # connections by their ports; bounded).
        for _ in range(64):
            subscribers.append(H.RawWS.open(herald.port, "/ws?topics=t"))
            H.wait_until(lambda: sum(shard_connections(herald)) == len(subscribers), 5)
            if all(count > 0 for count in shard_connections(herald)):
                break
        assert all(count > 0 for count in shard_connections(herald)), "every subscriber landed on one shard"
        per_connection, connections = 100, 6
        results: list[list[int]] = [[] for _ in range(connections)]
        errors: list[str] = []

        def publisher(slot: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", herald.admin_port, timeout=10)
            for n in range(per_connection):
                connection.request("POST", "/v1/publish?topic=t", body=json.dumps({"c": slot, "n": n}).encode(),
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                body = json.loads(response.read())
                if response.status != 200:
                    errors.append(f"{response.status} {body}")
                    return
                results[slot].append(body["seq"])
            connection.close()

        H.run_in_threads(publisher, connections)
        assert not errors, errors
        total = per_connection * connections
        assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1))
        for seqs in results:
            assert seqs == sorted(seqs), "a connection's publishes are sequenced in its order"
        for ws in subscribers:
            received = [ws.recv_json(10) for _ in range(total)]
            assert [m["seq"] for m in received] == list(range(1, total + 1))
            for slot in range(connections):
                assert [m["data"]["n"] for m in received if m["data"]["c"] == slot] == list(range(per_connection))
    finally:
        for ws in subscribers:
            ws.close()
    stats = H.get_stats(herald.admin_port)
    assert stats["messages_published_total"] == total
    assert sum(shard["messages_delivered_total"] for shard in stats["shards"]) == total * len(subscribers)


def test_admin_connections_are_spread_over_the_shards_and_each_serves_them(start_herald):
    """Each shard's admin server answers on its own: a request pipelined on
    many connections is answered on every one, and the ready line names
    one admin address."""
    herald = start_herald("--admin-threads", "0", "--shards", "2")
    sockets = []
    try:
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", herald.admin_port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n" * 3)
            sockets.append(s)
        for s in sockets:
            reader = H.SockReader(s)
            for _ in range(3):
                response = H.read_http_response(reader, 5)
                assert response.status == 200 and response.body == b"ok"
    finally:
        for s in sockets:
            s.close()


def test_a_dictionary_training_is_answered_and_does_not_hold_the_shard(start_herald):
    """One shard serves both the admin API and the subscriber: while the
    training is handed to the trainer thread, the same shard answers
    another admin connection and delivers to its subscriber; the training's
    answer then comes on its connection, before the request pipelined
    behind it."""
    herald = start_herald("--admin-threads", "0", "--shards", "1", "--history-size", "500")
    with H.RawWS.open(herald.port, "/ws?topics=room") as ws:
        connection = http.client.HTTPConnection("127.0.0.1", herald.admin_port, timeout=10)
        for n in range(300):
            connection.request("POST", "/v1/publish?topic=room",
                               body=json.dumps({"user": f"u{n % 5}", "text": f"hello number {n % 7}"}).encode(),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
        for _ in range(300):
            ws.recv_json(10)
        with H.connect(herald.admin_port) as trainer:
            trainer.sendall(b"POST /v1/topics/room/dictionary HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
                            b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            reader = H.SockReader(trainer)
            # Meanwhile (or after: the assertions hold either way) the shard
            # serves others.
            assert H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=room", body=b'"during"',
                                   content_type="application/json").status == 200
            assert ws.recv_json(10)["data"] == "during"
            trained = H.read_http_response(reader, 30)
            assert trained.status == 200, trained.body
            body = json.loads(trained.body)
            assert body["topic"] == "room" and body["samples"] >= 300
            after = H.read_http_response(reader, 5)
            assert after.status == 200 and after.body == b"ok", "the pipelined request is answered after it"
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_zstd_dictionaries") == 1


def test_refused_with_redis(herald_bin):
    r = H.run_herald_once(herald_bin, ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                                       "--admin-threads", "0", "--redis", "redis://127.0.0.1:1"])
    assert r.returncode != 0, "--admin-threads 0 with --redis was accepted"
    assert "--admin-threads 0 cannot be used with --redis" in r.stderr.decode(errors="replace")
