"""--admin-threads: the admin API served by several threads, each with its
own SO_REUSEPORT listener on the one port. Per-topic order, idempotency
and the stats must not depend on which thread took a request."""
from __future__ import annotations

import http.client
import json
import threading

import herald_e2e as H


def post(connection: http.client.HTTPConnection, topic: str, body: bytes,
         headers: dict[str, str] | None = None) -> tuple[int, dict, dict[str, str]]:
    connection.request("POST", f"/v1/publish?topic={topic}", body=body,
                       headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    return response.status, json.loads(response.read()), {k.lower(): v for k, v in response.getheaders()}


def test_concurrent_publishers_on_several_admin_threads_keep_one_order(start_herald):
    herald = start_herald("--admin-threads", "3")
    assert "admin-threads=3" in herald.stderr_text()
    per_connection, connections = 150, 8
    results: list[list[int]] = [[] for _ in range(connections)]
    with H.RawWS.open(herald.port, "/ws?topics=many") as ws:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/many").json()["subscribers"] == 1, 5)

        def publisher(slot: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", herald.admin_port, timeout=10)
            for n in range(per_connection):
                status, body, _ = post(connection, "many", json.dumps({"c": slot, "n": n}).encode())
                assert status == 200, body
                results[slot].append(body["seq"])
            connection.close()

        H.run_in_threads(publisher, connections)
        total = per_connection * connections
        assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1)), "one seq each, no gap"
        for seqs in results:
            assert seqs == sorted(seqs), "a connection's publishes are sequenced in its order"
        received = [ws.recv_json(10) for _ in range(total)]
        assert [m["seq"] for m in received] == list(range(1, total + 1))
        # Each publisher's messages reach the subscriber in the order it sent them.
        for slot in range(connections):
            assert [m["data"]["n"] for m in received if m["data"]["c"] == slot] == list(range(per_connection))
    stats = H.get_stats(herald.admin_port)
    assert stats["messages_published_total"] == total


def test_one_idempotency_key_publishes_once_across_admin_threads(start_herald):
    herald = start_herald("--admin-threads", "4")
    outcomes: list[tuple[int, dict, dict[str, str]]] = []
    barrier = threading.Barrier(12)
    lock = threading.Lock()

    def retry() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", herald.admin_port, timeout=10)
        connection.connect()
        barrier.wait(10)
        outcome = post(connection, "idem", b'"once"', headers={"Idempotency-Key": "k-1"})
        with lock:
            outcomes.append(outcome)
        connection.close()

    threads = [threading.Thread(target=retry) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 12 and all(status == 200 for status, _, _ in outcomes)
    assert {body["seq"] for _, body, _ in outcomes} == {1}, outcomes
    assert sum(1 for _, _, headers in outcomes if headers.get("idempotent-replayed") == "true") == 11
    assert H.admin_get(herald.admin_port, "/v1/topics/idem").json()["seq"] == 1
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_idempotent_replays_total") == 11
