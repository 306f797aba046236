"""A real `redis-server` (Debian's) for the multi-node tests: started on a
free loopback port with persistence off, so a restart loses everything (the
harshest case for recovery). Never a system service, never a mock."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port: int | None = None, password: str | None = None):
        self.password = password
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise AssertionError("redis-server not found: `make test` installs Debian's redis-server")
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="herald-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--protected-mode", "no",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        """Kills the server and removes its working directory."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        self.kill()
        self.start()

    def command(self, *args: str | bytes, timeout: float = 5.0):
        """One command over RESP2 on a fresh connection; the reply decoded
        (bulk strings as str, arrays as lists, errors raised)."""
        if self.password:
            return self.commands([("AUTH", self.password), args], timeout=timeout)[1]
        return self.commands([args], timeout=timeout)[0]

    def commands(self, commands, timeout: float = 5.0) -> list:
        """Several commands on one connection, in order (an AUTH holds for
        the ones after it)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            reader = sock.makefile("rb")
            replies = []
            for args in commands:
                out = b"*%d\r\n" % len(args)
                for arg in args:
                    data = arg.encode() if isinstance(arg, str) else arg
                    out += b"$%d\r\n%s\r\n" % (len(data), data)
                sock.sendall(out)
                replies.append(_read_reply(reader))
            return replies


def _read_reply(reader):
    line = reader.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = reader.read(n + 2)[:-2]
        return data.decode("utf-8", "replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(reader) for _ in range(n)]
    raise RuntimeError(f"unexpected reply {line!r}")
