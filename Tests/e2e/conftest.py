"""Fixtures for the Herald end-to-end tests.

- `start_herald(*args, env=None, defaults=True, wait_ready=True, rlimit_nofile=None)`
  starts the binary and returns a `HeraldProcess` (.port, .admin_port, .proc,
  .stderr_text(), .stop(sig)). With defaults=True it adds
  `--listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --shards 2` for every one of
  those flags not already in args. Every process is killed at test end; when a
  test fails, the server's stderr tail is attached to the report.
- `herald` (plain) and `echo_herald` (`--enable-echo`) are ready-made instances.
- Every test runs under a wall-clock bound (SIGALRM): 60 s by default,
  `@pytest.mark.e2e_timeout(S)` to change it, env HERALD_E2E_TEST_TIMEOUT to
  override the default.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import herald_e2e as H  # noqa: E402

DEFAULT_TEST_TIMEOUT = float(os.environ.get("HERALD_E2E_TEST_TIMEOUT", "60"))


@pytest.fixture(scope="session")
def herald_bin() -> Path:
    path = H.find_binary()
    if path is None:
        pytest.fail(H.binary_missing_message(), pytrace=False)
    return path


@pytest.fixture
def start_herald(request, herald_bin):
    yield from H.herald_starter(request, herald_bin)


@pytest.fixture
def herald(start_herald) -> H.HeraldProcess:
    return start_herald()


@pytest.fixture
def echo_herald(start_herald) -> H.HeraldProcess:
    return start_herald("--enable-echo")


# ---------------------------------------------------------------- reporting

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.failed:
        for i, proc in enumerate(getattr(item, "_heralds", [])):
            status = proc.proc.poll()
            title = f"herald #{i} stderr tail (exit status: {'running' if status is None else status})"
            rep.sections.append((title, f"argv: {' '.join(proc.argv)}\n{proc.output_tail()}"))
    return rep


# ---------------------------------------------------------------- per-test wall-clock bound

class E2ETimeout(Exception):
    pass


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    marker = item.get_closest_marker("e2e_timeout")
    seconds = float(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise E2ETimeout(f"test exceeded its {seconds:.0f}s wall-clock bound")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
