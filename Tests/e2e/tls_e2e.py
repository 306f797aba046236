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

    def ready(proc: H.HeraldProcess) -> None:
        H.TLS_PORTS[proc.port] = context

    def stop(proc: H.HeraldProcess) -> None:
        H.TLS_PORTS.pop(getattr(proc, "port", None), None)

    yield from H.herald_starter(request, herald_bin, prefix=("--tls-cert", cert, "--tls-key", key),
                                on_ready=ready, on_stop=stop)
