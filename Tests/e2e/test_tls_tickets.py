"""TLS session tickets (issue 10, item 4): stateless tickets sealed with
keys herald rotates in memory, or with `--tls-ticket-key-file` keys that
several nodes share so a client resumes on any of them. Resumption skips
the certificate signature (`herald_tls_handshakes_resumed_total`)."""

from __future__ import annotations

import os
import signal
import socket

import herald_e2e as H
from test_tls import certificate, client_context, metric  # noqa: F401 (fixture)


def visit(port: int, context, session=None):
    """One /healthz over TLS 1.3; returns the session (its ticket) and whether it resumed."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")  # the tickets came before it
            return tls.session, tls.session_reused


def tls_args(certificate, *extra):
    return ("--tls-cert", certificate[0], "--tls-key", certificate[1], *extra)


def test_nodes_sharing_a_ticket_key_file_resume_each_others_clients(start_herald, certificate, tmp_path):
    keys = tmp_path / "tickets.key"
    keys.write_bytes(os.urandom(80) + os.urandom(80))
    a = start_herald(*tls_args(certificate, "--tls-ticket-key-file", str(keys)))
    b = start_herald(*tls_args(certificate, "--tls-ticket-key-file", str(keys)))
    alone = start_herald(*tls_args(certificate))
    context = client_context(certificate[0])
    session, reused = visit(a.port, context)
    assert not reused
    _, reused = visit(b.port, context, session)
    assert reused
    assert metric(b, "herald_tls_handshakes_resumed_total") == 1
    # A node with keys of its own cannot open the ticket: a full handshake, which works.
    _, reused = visit(alone.port, context, session)
    assert not reused
    assert metric(alone, "herald_tls_handshakes_total") == 1
    assert metric(alone, "herald_tls_handshakes_resumed_total") == 0


def test_sessions_resume_across_a_certificate_reload(start_herald, certificate):
    herald = start_herald(*tls_args(certificate))
    context = client_context(certificate[0])
    session, _ = visit(herald.port, context)
    herald.send_signal(signal.SIGHUP)
    H.wait_until(lambda: metric(herald, "herald_tls_reloads_total", result="ok") == 1, 10, desc="the reload")
    _, reused = visit(herald.port, context, session)
    assert reused


def test_a_ticket_key_file_is_checked_at_start_and_on_sighup(start_herald, herald_bin, certificate, tmp_path):
    keys = tmp_path / "tickets.key"
    keys.write_bytes(os.urandom(79))
    refused = H.run_herald_once(herald_bin, [*tls_args(certificate, "--tls-ticket-key-file", str(keys)),
                                             "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
    assert refused.returncode != 0 and b"80-byte" in refused.stderr
    first = os.urandom(80)
    keys.write_bytes(first)
    herald = start_herald(*tls_args(certificate, "--tls-ticket-key-file", str(keys)))
    context = client_context(certificate[0])
    old_session, _ = visit(herald.port, context)
    # Rotation by the operator: a new key first, the old one after it.
    keys.write_bytes(os.urandom(80) + first)
    herald.send_signal(signal.SIGHUP)
    H.wait_until(lambda: metric(herald, "herald_tls_reloads_total", result="ok") == 1, 10, desc="the reload")
    new_session, reused = visit(herald.port, context, old_session)
    assert reused  # the old key still opens
    # A broken file: the reload fails, the keys in use stay.
    keys.write_bytes(b"short")
    herald.send_signal(signal.SIGHUP)
    H.wait_until(lambda: metric(herald, "herald_tls_reloads_total", result="failed") == 1, 10,
                 desc="the failed reload")
    _, reused = visit(herald.port, context, new_session)
    assert reused
    # The old key dropped from the file: its tickets no longer open.
    keys.write_bytes(os.urandom(80))
    herald.send_signal(signal.SIGHUP)
    H.wait_until(lambda: metric(herald, "herald_tls_reloads_total", result="ok") == 2, 10, desc="the reload")
    _, reused = visit(herald.port, context, old_session)
    assert not reused
