"""Shared by the test_over_tls_*.py modules: a `start_herald` fixture
whose heralds all run with TLS, and whose public ports the raw-socket
helpers wrap in TLS (`H.TLS_PORTS`)."""

from __future__ import annotations

import ssl

import pytest

import herald_e2e as H
from test_tls import make_certificate


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def start_herald(request, herald_bin, tls_files):
    cert, key = tls_files
    context = ssl.create_default_context(cafile=cert)
    started: list[H.HeraldProcess] = []
    request.node._heralds = started

    def start(*args: str, env: dict[str, str] | None = None, defaults: bool = True, wait_ready: bool = True,
              rlimit_nofile: int | None = None, ready_timeout: float = 20.0) -> H.HeraldProcess:
        argv = [str(herald_bin), "--tls-cert", cert, "--tls-key", key]
        if defaults:
            for flag, value in (("--listen", "127.0.0.1:0"), ("--admin-listen", "127.0.0.1:0"), ("--shards", "2")):
                if flag not in args and not any(a.startswith(flag + "=") for a in args):
                    argv += [flag, value]
        argv += list(args)
        proc = H.HeraldProcess(argv, H.clean_env(env), rlimit_nofile=rlimit_nofile)
        started.append(proc)
        if wait_ready:
            proc.wait_ready(ready_timeout)
            H.TLS_PORTS[proc.port] = context
        return proc

    yield start
    for proc in started:
        H.TLS_PORTS.pop(getattr(proc, "port", None), None)
        proc.kill()
