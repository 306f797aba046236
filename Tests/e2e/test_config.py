"""Flags, env twins, config file, precedence, refusal of unsafe admin binds."""

from __future__ import annotations

import pytest

import herald_e2e as H

EVERY_FLAG = [
    "--listen", "--admin-listen", "--shards", "--connections-max", "--handshake-timeout",
    "--ping-interval", "--pong-timeout", "--message-bytes-max", "--enable-echo",
    "--shutdown-timeout", "--admin-token", "--config",
]

LOOPBACK = {"HERALD_LISTEN": "127.0.0.1:0", "HERALD_ADMIN_LISTEN": "127.0.0.1:0"}


def shard_count(h: H.HeraldProcess, token: str | None = None) -> int:
    return len(H.get_stats(h.admin_port, token=token)["shards"])


def token_works(h: H.HeraldProcess, token: str) -> bool:
    return H.admin_get(h.admin_port, "/v1/stats", token=token).status == 200


# ---------------------------------------------------------------- --help, bad flags

def test_help_lists_every_flag(herald_bin):
    r = H.run_herald_once(herald_bin, ["--help"])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    text = (r.stdout + r.stderr).decode(errors="replace")
    missing = [f for f in EVERY_FLAG if f not in text]
    assert not missing, f"--help does not mention {missing}:\n{text}"


@pytest.mark.parametrize("args", [
    ["--no-such-flag"],
    ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--bogus", "1"],
    ["-z"],
    ["positional-argument"],
], ids=["unknown", "unknown-after-valid", "unknown-short", "positional"])
def test_unknown_flag_exits_2(herald_bin, args):
    r = H.run_herald_once(herald_bin, args)
    assert r.returncode == 2, f"exit {r.returncode}; stderr: {r.stderr!r}"
    assert r.stderr.strip(), "no message on stderr"


@pytest.mark.parametrize("args", [
    ["--shards", "abc"],
    ["--shards", "-1"],
    ["--connections-max", "many"],
    ["--listen", "nohostport"],
    ["--listen", "127.0.0.1:99999"],
    ["--admin-listen", "127.0.0.1:notaport"],
    ["--handshake-timeout", "soon"],
    ["--ping-interval", "abc"],
    ["--pong-timeout", "-1"],
    ["--message-bytes-max", "lots"],
    ["--shutdown-timeout", "x"],
    ["--shards"],  # missing value
], ids=lambda a: "_".join(a).lstrip("-"))
def test_bad_value_exits_2(herald_bin, args):
    base = {"--listen": "127.0.0.1:0", "--admin-listen": "127.0.0.1:0"}
    # valid loopback listeners first, the bad flag last (so "missing value" is really missing)
    argv = [x for k, v in base.items() if k != args[0] for x in (k, v)] + args
    r = H.run_herald_once(herald_bin, argv)
    assert r.returncode == 2, f"{argv}: exit {r.returncode}; stderr: {r.stderr!r}"
    assert r.stderr.strip(), "no message on stderr"


def test_bad_env_value_refused(herald_bin):
    r = H.run_herald_once(herald_bin, [], env={**LOOPBACK, "HERALD_SHARDS": "abc"})
    assert r.returncode != 0, "HERALD_SHARDS=abc accepted"
    assert r.stderr.strip()


def test_missing_config_file_refused(herald_bin, tmp_path):
    r = H.run_herald_once(herald_bin, ["--config", str(tmp_path / "nope.conf"),
                                       "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
    assert r.returncode != 0
    assert r.stderr.strip()


# ---------------------------------------------------------------- env twins

def test_env_twins_listen_and_shards(start_herald):
    h = start_herald(defaults=False, env={**LOOPBACK, "HERALD_SHARDS": "3"})
    assert shard_count(h) == 3


def test_env_twin_admin_token(start_herald):
    h = start_herald(env={"HERALD_ADMIN_TOKEN": "envtok"})
    assert not token_works(h, "wrong")
    assert H.admin_get(h.admin_port, "/v1/stats").status == 401
    assert token_works(h, "envtok")


def test_env_twin_message_bytes_max(start_herald):
    h = start_herald("--enable-echo", env={"HERALD_MESSAGE_BYTES_MAX": "100"})
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.roundtrip(H.OP_BINARY, b"a" * 100)
        ws.send_binary(b"a" * 101)
        ws.expect_close_code(1009)


# ---------------------------------------------------------------- config file

def write_conf(tmp_path, text: str) -> str:
    p = tmp_path / "herald.conf"
    p.write_text(text)
    return str(p)


def test_config_file(start_herald, tmp_path):
    conf = write_conf(tmp_path, """
# Herald test config
listen = 127.0.0.1:0
admin-listen = 127.0.0.1:0

shards = 3
   # indented comment
admin-token = filetok
message-bytes-max = 100
""")
    h = start_herald("--config", conf, defaults=False)
    assert shard_count(h, token="filetok") == 3
    assert H.admin_get(h.admin_port, "/v1/stats").status == 401
    assert token_works(h, "filetok")
    with H.RawWS.open(h.port, "/ws") as ws:
        ws.send_text(b'{"type":"ping","pad":"' + b"x" * 100 + b'"}')
        ws.expect_close_code(1009)


def test_config_file_bad_value_refused(herald_bin, tmp_path):
    conf = write_conf(tmp_path, "listen = 127.0.0.1:0\nadmin-listen = 127.0.0.1:0\nshards = lots\n")
    r = H.run_herald_once(herald_bin, ["--config", conf])
    assert r.returncode != 0
    assert r.stderr.strip()


# ---------------------------------------------------------------- precedence

def test_env_beats_file(start_herald, tmp_path):
    conf = write_conf(tmp_path, "shards = 3\nadmin-token = filetok\n")
    h = start_herald(
        "--config", conf, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
        defaults=False, env={"HERALD_SHARDS": "1", "HERALD_ADMIN_TOKEN": "envtok"})
    assert token_works(h, "envtok")
    assert not token_works(h, "filetok")
    assert shard_count(h, token="envtok") == 1


def test_flag_beats_env_and_file(start_herald, tmp_path):
    conf = write_conf(tmp_path, "shards = 3\nadmin-token = filetok\nlisten = 127.0.0.1:1\n")
    h = start_herald(
        "--config", conf, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
        "--shards", "2", "--admin-token", "flagtok",
        defaults=False, env={"HERALD_SHARDS": "1", "HERALD_ADMIN_TOKEN": "envtok",
                             "HERALD_LISTEN": "127.0.0.1:2"})
    assert token_works(h, "flagtok")
    assert not token_works(h, "envtok") and not token_works(h, "filetok")
    assert shard_count(h, token="flagtok") == 2
    assert h.port not in (1, 2)


def test_single_shard_flag(start_herald):
    h = start_herald("--shards", "1")
    assert shard_count(h) == 1


# ---------------------------------------------------------------- admin bind safety

def test_non_loopback_admin_without_token_refused(herald_bin):
    r = H.run_herald_once(herald_bin, ["--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0"])
    assert r.returncode != 0, "admin listener on 0.0.0.0 without a token was accepted"
    assert r.stderr.strip(), "refused without a message"


def test_non_loopback_admin_via_env_without_token_refused(herald_bin):
    r = H.run_herald_once(herald_bin, [], env={"HERALD_LISTEN": "127.0.0.1:0",
                                               "HERALD_ADMIN_LISTEN": "0.0.0.0:0"})
    assert r.returncode != 0
    assert r.stderr.strip()


def test_non_loopback_admin_with_token_starts(start_herald):
    h = start_herald("--admin-listen", "0.0.0.0:0", "--admin-token", "tok")
    r = H.admin_get(h.admin_port, "/healthz", token="tok")
    assert r.status == 200
    assert H.admin_get(h.admin_port, "/healthz").status == 401


# ---------------------------------------------------------------- limits

def test_connections_max_honoured(start_herald):
    h = start_herald("--enable-echo", "--connections-max", "2")
    a = H.RawWS.open(h.port, "/echo")
    b = H.RawWS.open(h.port, "/echo")
    try:
        H.wait_stat(h.admin_port, lambda s: s["connections"] == 2, desc="2 connections")
        # The third is refused: no 101, or (if upgraded) closed straight away.
        refused = False
        try:
            c = H.RawWS.open(h.port, "/echo", timeout=3)
        except (AssertionError, EOFError, TimeoutError, OSError):
            refused = True
        else:
            with c:
                try:
                    c.expect_close(timeout=3)
                    refused = True
                except (AssertionError, TimeoutError):
                    refused = c.wait_eof(0.1)
        assert refused, "a third WebSocket was accepted with --connections-max 2"
        s = H.get_stats(h.admin_port)
        assert s["connections"] <= 2, s
        a.roundtrip(H.OP_TEXT, b"still fine")
    finally:
        a.close()
        b.close()
    H.wait_stat(h.admin_port, lambda s: s["connections"] == 0, desc="0 connections")
    with H.RawWS.open(h.port, "/echo") as d:  # room again
        d.roundtrip(H.OP_TEXT, b"room again")


def test_past_connections_max_is_503_with_retry_after(start_herald):
    # The budget is one global count, so this holds whichever shard the
    # second connection lands on.
    h = start_herald("--connections-max", "1")
    with H.RawWS.open(h.port, "/ws"):
        raw = H.upgrade_request("/ws", f"127.0.0.1:{h.port}", H.make_key())
        with H.connect(h.port) as sock:
            sock.sendall(raw)
            resp = H.read_http_response(H.SockReader(sock), head_only=True)
        assert resp.status == 503, resp.raw_head
        assert resp.header("retry-after") == "1", resp.raw_head
    assert H.get_stats(h.admin_port)["handshakes_failed"]["capacity"] == 1
