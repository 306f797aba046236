"""POST /v1/publish/batch (CONTRACT v2): NDJSON, one {"topic"|"topics",
"data"} per line, each line published in order with its own result; a bad
line gets an error entry and the others are published."""
from __future__ import annotations

import http.client
import json

import herald_e2e as H


def batch(port: int, body: bytes, headers: dict[str, str] | None = None) -> H.AdminResponse:
    return H.admin_request(port, "POST", "/v1/publish/batch", body=body, content_type="application/x-ndjson",
                           headers=headers)


def test_a_batch_reaches_subscribers_in_order_with_a_result_per_line(start_herald):
    herald = start_herald("--publish-bytes-max", "4096", "--batch-bytes-max", "1048576")
    with H.RawWS.open(herald.port, "/ws?topics=b1,b2") as ws:
        H.wait_until(lambda: H.get_stats(herald.admin_port)["subscriptions"] == 2, 5)
        lines = [json.dumps({"topic": "b1" if n % 2 else "b2", "data": {"n": n, "pad": "x" * 100}})
                 for n in range(2000)]
        lines.insert(7, '{"topic":"b1"}')
        lines.insert(9, json.dumps({"topic": "b1", "data": "y" * 5000}))
        body = ("\n".join(lines) + "\n").encode()
        assert len(body) > 4096, "bigger than one publish may be"
        response = batch(herald.admin_port, body)
        assert response.status == 200, response.body
        results = response.json()["results"]
        assert len(results) == 2002
        assert results[7] == {"error": 'line 8: missing "data"'}
        assert results[9] == {"error": "line 10: data over --publish-bytes-max (4096 bytes)"}
        published = [r for r in results if "seq" in r]
        assert len(published) == 2000
        assert [r["seq"] for r in published if r["topic"] == "b1"] == list(range(1, 1001))
        received = {"b1": [], "b2": []}
        for _ in range(2000):
            message = ws.recv_json(10)
            received[message["topic"]].append((message["seq"], message["data"]["n"]))
        assert received["b1"] == [(k + 1, 2 * k + 1) for k in range(1000)]
        assert received["b2"] == [(k + 1, 2 * k) for k in range(1000)]


def test_batch_limits_and_chunked_bodies(start_herald):
    # (A batch body may always be as large as one publish.)
    herald = start_herald("--publish-bytes-max", "4096", "--batch-bytes-max", "65536")
    too_big = b'{"topic":"t","data":1}\n' * 4000
    response = batch(herald.admin_port, too_big)
    assert response.status == 413, response.body
    assert H.admin_get(herald.admin_port, "/v1/topics/t").json()["seq"] == 0, "nothing published"
    # Chunked transfer coding, on a keep-alive connection that goes on.
    connection = http.client.HTTPConnection("127.0.0.1", herald.admin_port, timeout=10)
    lines = (f'{{"topics":["c1","c2"],"data":{n}}}\n'.encode() for n in range(3))
    connection.request("POST", "/v1/publish/batch", body=lines, encode_chunked=True,
                       headers={"Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"})
    reply = connection.getresponse()
    assert reply.status == 200
    results = json.loads(reply.read())["results"]
    assert [[r["seq"] for r in entry["results"]] for entry in results] == [[1, 1], [2, 2], [3, 3]]
    connection.request("GET", "/healthz")
    assert connection.getresponse().read() == b"ok"


def test_a_repeated_batch_with_the_same_idempotency_key_publishes_once(herald):
    body = b'{"topic":"idem","data":1}\n{"topic":"idem","data":2}\n'
    first = batch(herald.admin_port, body, headers={"Idempotency-Key": "batch-1"})
    again = batch(herald.admin_port, body, headers={"Idempotency-Key": "batch-1"})
    assert first.status == again.status == 200
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert H.admin_get(herald.admin_port, "/v1/topics/idem").json()["seq"] == 2
