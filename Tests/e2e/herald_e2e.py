"""Shared helpers for the Herald end-to-end tests.

Everything here is plain Python (no pytest import at module level) so that the
capacity worker script can import it too.  One frame builder (`build_frame`),
one frame parser (`parse_frame`), one HTTP head parser (`parse_http_head`);
the sync raw client (`RawWS`) and the async helpers are thin layers on those.

Every wait is bounded: each blocking call takes a timeout and raises
TimeoutError (or AssertionError with context) when it runs out.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import resource
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]  # Tests/e2e -> Tests -> repo root

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

HTTP_HEAD_LIMIT = 1 << 20  # what *we* accept from the server, not the server's limit


# --------------------------------------------------------------------------
# binary discovery and process management
# --------------------------------------------------------------------------

def find_binary() -> Path | None:
    """HERALD_BIN, else .build/release/herald, else .build/debug/herald."""
    env = os.environ.get("HERALD_BIN")
    if env:
        p = Path(env)
        return p if p.is_file() else None
    for sub in ("release", "debug"):
        p = REPO_ROOT / ".build" / sub / "herald"
        if p.is_file():
            return p
    return None


def binary_missing_message() -> str:
    env = os.environ.get("HERALD_BIN")
    if env:
        return f"HERALD_BIN={env!r} is not a file"
    return (
        "herald binary not found: looked for HERALD_BIN, "
        f"{REPO_ROOT / '.build/release/herald'} and {REPO_ROOT / '.build/debug/herald'}; "
        "build it with `swift build -c release` (or set HERALD_BIN)"
    )


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test runner's environment without any HERALD_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    if extra:
        env.update(extra)
    return env


_LISTEN_RE = re.compile(r"(?<![\w-])listen=(\S+)")
_ADMIN_RE = re.compile(r"(?<![\w-])admin=(\S+)")


def split_hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


class HeraldStartError(AssertionError):
    pass


class HeraldProcess:
    """A running herald. stderr (and stdout) are drained by background threads."""

    def __init__(self, argv: list[str], env: dict[str, str], rlimit_nofile: int | None = None):
        self.argv = argv
        self.port: int | None = None
        self.admin_port: int | None = None
        self.host = "127.0.0.1"
        self.admin_host = "127.0.0.1"
        self.ready_line: str | None = None
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._ready = threading.Event()
        self._stderr_eof = threading.Event()

        def set_nofile() -> None:  # runs in the child before exec
            resource.setrlimit(resource.RLIMIT_NOFILE, (rlimit_nofile, rlimit_nofile))

        preexec = set_nofile if rlimit_nofile is not None else None
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=preexec,
            start_new_session=True,  # a ^C at the terminal must not reach it
        )
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stderr, self._stderr, True), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stdout, self._stdout, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- output ----------------------------------------------------------
    def _drain(self, pipe, sink: list[str], is_stderr: bool) -> None:
        try:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._lock:
                    sink.append(line)
                if is_stderr and not self._ready.is_set() and "ready" in line:
                    lm, am = _LISTEN_RE.search(line), _ADMIN_RE.search(line)
                    if lm and am:
                        self.host, self.port = split_hostport(lm.group(1))
                        self.admin_host, self.admin_port = split_hostport(am.group(1))
                        self.ready_line = line
                        self._ready.set()
        except (ValueError, OSError):
            pass
        finally:
            if is_stderr:
                self._stderr_eof.set()

    def stderr_text(self) -> str:
        with self._lock:
            return "\n".join(self._stderr)

    def stdout_text(self) -> str:
        with self._lock:
            return "\n".join(self._stdout)

    def output_tail(self, lines: int = 60) -> str:
        with self._lock:
            err = self._stderr[-lines:]
            out = self._stdout[-lines:]
        text = "\n".join(err) or "(no stderr)"
        if out:
            text += "\n--- stdout ---\n" + "\n".join(out)
        return text

    # -- lifecycle -------------------------------------------------------
    def wait_ready(self, timeout: float = 20.0) -> "HeraldProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return self
            if self.proc.poll() is not None:
                self._stderr_eof.wait(2)
                raise HeraldStartError(
                    f"herald exited with status {self.proc.returncode} before logging its ready line\n"
                    f"argv: {self.argv}\n{self.output_tail()}"
                )
        self.kill()
        raise HeraldStartError(
            f"herald did not log a ready line with listen=IP:PORT admin=IP:PORT within {timeout}s\n"
            f"argv: {self.argv}\n{self.output_tail()}"
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"herald did not exit within {timeout}s\n{self.output_tail()}"
            ) from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig`, wait for exit (bounded), return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for t in self._threads:
            t.join(2)
        for pipe in (self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    def url(self, path: str = "/ws") -> str:
        return f"ws://{self.host}:{self.port}{path}"


def run_herald_once(binary: Path, args: Iterable[str], env: dict[str, str] | None = None,
                    timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Run herald expecting it to exit by itself (--help, bad flags, refused configs)."""
    argv = [str(binary), *args]
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              env=clean_env(env), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"{argv} did not exit within {timeout}s (it should refuse/exit by itself); "
            f"stderr so far: {e.stderr!r}"
        ) from None


# --------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------

def process_cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (/proc/PID/stat utime + stime),
    for the measurement scripts in LoadGen/scripts."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_in_threads(target: Callable[[int], Any], count: int, timeout: float = 60.0) -> None:
    """Runs target(0) … target(count - 1) on as many threads at once and
    joins them (each join bounded by `timeout`)."""
    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


def wait_until(fn: Callable[[], Any], timeout: float, interval: float = 0.05, desc: str = "condition") -> Any:
    """Call fn until it returns a truthy value; return it. AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {desc}; last value: {last!r}")
        time.sleep(interval)


async def within(aw, timeout: float = 5.0):
    """Await with a bound (asyncio.TimeoutError -> AssertionError with context)."""
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"nothing within {timeout}s") from None


def run_async(coro, timeout: float = 30.0):
    """Run a coroutine with a hard bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --------------------------------------------------------------------------
# raw HTTP
# --------------------------------------------------------------------------

@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]          # lower-case name -> value (repeated headers joined by ", ")
    body: bytes
    raw_head: bytes
    closed: bool | None = None       # did the server close the TCP connection afterwards (None: not checked)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def header_tokens(self, name: str) -> set[str]:
        v = self.header(name) or ""
        return {t.strip().lower() for t in v.split(",") if t.strip()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def build_request(method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes = b"",
                  version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_http_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError(f"malformed HTTP status line from server: {lines[0]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise AssertionError(f"malformed header line from server: {line!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return status, reason, headers


class SockReader:
    """Buffered, deadline-bounded reads from a blocking socket."""

    def __init__(self, sock: socket.socket, buf: bytes = b""):
        self.sock = sock
        self.buf = buf

    def _fill(self, deadline: float) -> bool:
        """Read more; False on EOF/reset. TimeoutError when the deadline passes."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out reading from server")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out reading from server") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return False
        if not data:
            return False
        self.buf += data
        return True

    def read_until(self, delim: bytes, deadline: float, limit: int = HTTP_HEAD_LIMIT) -> bytes:
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out, self.buf = self.buf[: i + len(delim)], self.buf[i + len(delim):]
                return out
            if len(self.buf) > limit:
                raise AssertionError(f"no {delim!r} within {limit} bytes")
            if not self._fill(deadline):
                raise EOFError(f"connection closed before {delim!r}; got {self.buf[:200]!r}")

    def read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError(f"connection closed with {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self, deadline: float) -> bytes:
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def wait_eof(self, timeout: float) -> bool:
        """True if the peer closes (EOF or reset) within timeout; extra bytes are kept in buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except TimeoutError:
            return False


def read_http_response(reader: SockReader, timeout: float = 5.0, head_only: bool = False) -> HttpResponse:
    deadline = time.monotonic() + timeout
    head = reader.read_until(b"\r\n\r\n", deadline)
    status, reason, headers = parse_http_head(head[:-4])
    body = b""
    if not head_only and status != 101 and status != 204 and status != 304 and not (100 <= status < 200):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size_line = reader.read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                chunk = reader.read_exact(size + 2, deadline)
                if size == 0:
                    # trailers (rare): consume until the empty line
                    while chunk != b"\r\n":
                        chunk = reader.read_until(b"\r\n", deadline)
                    break
                body += chunk[:-2]
        elif "content-length" in headers:
            body = reader.read_exact(int(headers["content-length"]), deadline)
        else:
            body = reader.read_to_eof(deadline)
    return HttpResponse(status, reason, headers, body, head)


# Public ports of heralds started with TLS (test_over_tls.py): `connect`
# wraps connections to them in TLS, so the raw-socket helpers (RawWS,
# http_exchange) run the same cases over wss:// unchanged.
TLS_PORTS: dict[int, "ssl.SSLContext"] = {}


def connect(port: int, host: str = "127.0.0.1", timeout: float = 5.0,
            source: str | None = None) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    context = TLS_PORTS.get(port)
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    return sock


def http_exchange(port: int, raw: bytes, *, timeout: float = 5.0, check_close: bool = False,
                  close_timeout: float = 3.0, host: str = "127.0.0.1") -> HttpResponse:
    """Send raw bytes as a request, read one response, optionally check the server closes."""
    with connect(port, host, timeout) as sock:
        sock.sendall(raw)
        reader = SockReader(sock)
        resp = read_http_response(reader, timeout)
        if check_close:
            resp.closed = reader.wait_eof(close_timeout)
        return resp


def http_get(port: int, path: str, headers: Iterable[tuple[str, str]] = (), **kw) -> HttpResponse:
    hdrs = [("Host", f"127.0.0.1:{port}"), *headers]
    return http_exchange(port, build_request("GET", path, hdrs), **kw)


def assert_http_error(resp: HttpResponse, status: int) -> None:
    """A handshake failure: the status, `Connection: close`, and the server closed TCP."""
    assert resp.status == status, f"expected HTTP {status}, got {resp.status} {resp.reason}; head={resp.raw_head!r}"
    assert "close" in resp.header_tokens("connection"), f"missing 'Connection: close': {resp.raw_head!r}"
    if resp.closed is not None:
        assert resp.closed, f"server did not close the connection after HTTP {status}"


# --------------------------------------------------------------------------
# WebSocket handshake
# --------------------------------------------------------------------------

def make_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def upgrade_request(path: str = "/ws", host: str = "127.0.0.1", key: str | None = None, *,
                    method: str = "GET", version: str = "13", drop: Iterable[str] = (),
                    extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A client handshake; `drop` removes default headers (case-insensitive names)."""
    key = key if key is not None else make_key()
    dropped = {d.lower() for d in drop}
    hdrs = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    hdrs = [(k, v) for k, v in hdrs if k.lower() not in dropped]
    hdrs += list(extra)
    return build_request(method, path, hdrs)


def check_upgrade_response(resp: HttpResponse, key: str) -> None:
    assert resp.status == 101, f"expected 101, got {resp.status} {resp.reason}: {resp.raw_head!r} {resp.body[:200]!r}"
    assert (resp.header("upgrade") or "").lower() == "websocket", resp.raw_head
    assert "upgrade" in resp.header_tokens("connection"), resp.raw_head
    assert resp.header("sec-websocket-accept") == accept_for(key), (
        f"bad Sec-WebSocket-Accept {resp.header('sec-websocket-accept')!r}, want {accept_for(key)!r}"
    )


# --------------------------------------------------------------------------
# frames: one builder, one parser
# --------------------------------------------------------------------------

def build_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                mask: bool = True, mask_key: bytes | None = None, length: int | None = None) -> bytes:
    """Any frame, valid or not. `rsv` is the 3-bit RSV1..3 field (4 = RSV1).
    `length` overrides the declared payload length (for lying headers)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 0x7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + mask_bytes(payload, key)


def mask_bytes(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def close_payload(code: int | None = None, reason: bytes | str = b"") -> bytes:
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes
    ext_len_bytes: int  # 0, 2 or 8: how the length was encoded

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]

    def __repr__(self) -> str:
        p = self.payload if len(self.payload) <= 64 else self.payload[:64] + b"..."
        return f"Frame(op={self.opcode:#x}, fin={self.fin}, rsv={self.rsv}, len={len(self.payload)}, payload={p!r})"


def frame_header_size(first2: bytes) -> int:
    """Total header size given the first two bytes."""
    n7 = first2[1] & 0x7F
    return 2 + (2 if n7 == 126 else 8 if n7 == 127 else 0) + (4 if first2[1] & 0x80 else 0)


def parse_frame(buf: bytes) -> tuple[Frame, int] | None:
    """Parse one frame from the front of buf; None if incomplete. Returns (frame, bytes consumed)."""
    if len(buf) < 2:
        return None
    hsize = frame_header_size(buf[:2])
    if len(buf) < hsize:
        return None
    b0, b1 = buf[0], buf[1]
    n7 = b1 & 0x7F
    if n7 == 126:
        n, ext = struct.unpack("!H", buf[2:4])[0], 2
    elif n7 == 127:
        n, ext = struct.unpack("!Q", buf[2:10])[0], 8
    else:
        n, ext = n7, 0
    if len(buf) < hsize + n:
        return None
    masked = bool(b1 & 0x80)
    payload = buf[hsize: hsize + n]
    if masked:
        payload = mask_bytes(payload, buf[hsize - 4: hsize])
    return Frame(bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0xF, masked, payload, ext), hsize + n


def check_server_frame(f: Frame) -> None:
    """What every frame from the server must satisfy (RFC 6455 5.1, 5.2, 5.5).
    Our raw clients never negotiate an extension, so RSV bits must be 0."""
    assert not f.masked, f"server sent a masked frame: {f!r}"
    assert f.rsv == 0, f"server set RSV bits without a negotiated extension: {f!r}"
    n = len(f.payload)
    expected_ext = 0 if n < 126 else 2 if n < 1 << 16 else 8
    assert f.ext_len_bytes == expected_ext, f"server used non-minimal length encoding ({f.ext_len_bytes}) for {n} bytes"
    if f.opcode >= 0x8:
        assert f.fin, f"server fragmented a control frame: {f!r}"
        assert n <= 125, f"server control frame payload {n} > 125"


# --------------------------------------------------------------------------
# sync raw WebSocket client
# --------------------------------------------------------------------------

class ConnectionEnded(AssertionError):
    """The server closed TCP (EOF or reset) while a frame was expected."""


class ServerClosed(AssertionError):
    """A close frame arrived while a data message was expected."""

    def __init__(self, frame: Frame):
        super().__init__(f"server sent close code={frame.close_code} reason={frame.close_reason!r}")
        self.frame = frame


class RawWS:
    """A WebSocket client over a plain socket that can send anything."""

    def __init__(self, sock: socket.socket, buf: bytes = b"", response: HttpResponse | None = None):
        self.sock = sock
        self.reader = SockReader(sock, buf)
        self.response = response
        self.pings: list[bytes] = []   # payloads of pings received from the server
        self.pongs: list[bytes] = []   # payloads of pongs received from the server

    # -- opening ---------------------------------------------------------
    @classmethod
    def open(cls, port: int, path: str = "/echo", *, timeout: float = 5.0,
             extra: Iterable[tuple[str, str]] = (), host: str = "127.0.0.1",
             source: str | None = None) -> "RawWS":
        sock = connect(port, host, timeout, source)
        try:
            key = make_key()
            sock.sendall(upgrade_request(path, f"{host}:{port}", key, extra=extra))
            reader = SockReader(sock)
            resp = read_http_response(reader, timeout, head_only=True)
            check_upgrade_response(resp, key)
            return cls(sock, reader.buf, resp)
        except BaseException:
            sock.close()
            raise

    def __enter__(self) -> "RawWS":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    # -- sending ---------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.settimeout(5.0)
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes | str = b"", **kw) -> None:
        self.send_raw(build_frame(opcode, payload, **kw))

    def send_text(self, text: str | bytes, **kw) -> None:
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text, **kw)

    def send_binary(self, data: bytes, **kw) -> None:
        self.send_frame(OP_BINARY, data, **kw)

    def send_json(self, obj: Any) -> None:
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def send_close(self, code: int | None = 1000, reason: bytes | str = b"", **kw) -> None:
        self.send_frame(OP_CLOSE, close_payload(code, reason), **kw)

    # -- receiving -------------------------------------------------------
    def recv_frame(self, timeout: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            parsed = parse_frame(self.reader.buf)
            if parsed is not None:
                frame, used = parsed
                self.reader.buf = self.reader.buf[used:]
                check_server_frame(frame)
                return frame
            if not self.reader._fill(deadline):
                raise ConnectionEnded(
                    f"server closed the TCP connection (pending bytes: {self.reader.buf[:50]!r})")

    def recv_message(self, timeout: float = 5.0, answer_pings: bool = True) -> tuple[int, bytes]:
        """Next complete data message (opcode, payload), reassembling fragments.
        Pings are recorded (and answered), pongs recorded; a close frame raises ServerClosed."""
        deadline = time.monotonic() + timeout
        opcode: int | None = None
        parts: list[bytes] = []
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f.opcode == OP_PING:
                self.pings.append(f.payload)
                if answer_pings:
                    self.send_frame(OP_PONG, f.payload)
                continue
            if f.opcode == OP_PONG:
                self.pongs.append(f.payload)
                continue
            if f.opcode == OP_CLOSE:
                raise ServerClosed(f)
            if opcode is None:
                assert f.opcode in (OP_TEXT, OP_BINARY), f"server sent unexpected frame {f!r}"
                opcode = f.opcode
            else:
                assert f.opcode == OP_CONT, f"server interleaved a new data frame in a fragmented message: {f!r}"
            parts.append(f.payload)
            if f.fin:
                return opcode, b"".join(parts)

    def recv_text(self, timeout: float = 5.0) -> str:
        op, data = self.recv_message(timeout)
        assert op == OP_TEXT, f"expected a text message, got opcode {op:#x}: {data[:100]!r}"
        return data.decode("utf-8")

    def recv_json(self, timeout: float = 5.0) -> Any:
        return json.loads(self.recv_text(timeout))

    def expect_close(self, timeout: float = 5.0, reply: bool = True) -> Frame:
        """Read until a close frame (skipping data/ping/pong); reply with a close like a good client."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            except ConnectionEnded as e:
                raise ConnectionEnded(f"expected a close frame, but the connection ended: {e}") from None
            except TimeoutError:
                raise AssertionError(f"no close frame from the server within {timeout}s") from None
            if f.opcode == OP_CLOSE:
                if reply:
                    try:
                        self.send_frame(OP_CLOSE, f.payload[:2])
                    except OSError:
                        pass
                return f

    def wait_eof(self, timeout: float = 5.0) -> bool:
        return self.reader.wait_eof(timeout)

    def expect_eof(self, timeout: float = 5.0) -> None:
        assert self.reader.wait_eof(timeout), f"server did not close the TCP connection within {timeout}s"

    def expect_close_code(self, code: int | Iterable[int], timeout: float = 5.0) -> Frame:
        """The server closes with `code` (one of), then closes TCP."""
        codes = {code} if isinstance(code, int) else set(code)
        f = self.expect_close(timeout)
        assert f.close_code in codes, (
            f"expected close code {sorted(codes)}, got {f.close_code} (reason {f.close_reason!r})")
        self.expect_eof(timeout)
        return f

    def roundtrip(self, opcode: int, payload: bytes, timeout: float = 5.0) -> None:
        """Send one message on /echo and assert it comes back identical."""
        self.send_frame(opcode, payload)
        op, data = self.recv_message(timeout)
        assert op == opcode and data == payload, (
            f"echo mismatch: sent op={opcode} len={len(payload)}, got op={op} len={len(data)}")


# --------------------------------------------------------------------------
# async raw helpers (capacity test)
# --------------------------------------------------------------------------

async def async_ws_open(host: str, port: int, path: str = "/ws", *, local_addr=None,
                        timeout: float = 30.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async def go():
        reader, writer = await asyncio.open_connection(host, port, local_addr=local_addr)
        try:
            key = make_key()
            writer.write(upgrade_request(path, f"{host}:{port}", key))
            head = await reader.readuntil(b"\r\n\r\n")
            status, reason, headers = parse_http_head(head[:-4])
            check_upgrade_response(HttpResponse(status, reason, headers, b"", head), key)
            return reader, writer
        except BaseException:
            writer.transport.abort()
            raise
    return await asyncio.wait_for(go(), timeout)


async def async_read_frame(reader: asyncio.StreamReader) -> Frame:
    first = await reader.readexactly(2)
    rest_head = await reader.readexactly(frame_header_size(first) - 2)
    head = first + rest_head
    n7 = first[1] & 0x7F
    n = struct.unpack("!H", head[2:4])[0] if n7 == 126 else struct.unpack("!Q", head[2:10])[0] if n7 == 127 else n7
    payload = await reader.readexactly(n)
    parsed = parse_frame(head + payload)
    assert parsed is not None
    check_server_frame(parsed[0])
    return parsed[0]


# --------------------------------------------------------------------------
# websockets library client (the independent client)
# --------------------------------------------------------------------------

def lib_connect(port: int, path: str = "/echo", host: str = "127.0.0.1", **kw):
    """websockets' asyncio client with no proxy, no client pings, bounded timeouts."""
    from websockets.asyncio.client import connect as ws_connect
    opts: dict[str, Any] = dict(compression=None, proxy=None, ping_interval=None, open_timeout=5,
                                close_timeout=3, max_size=None)
    opts.update(kw)
    context = TLS_PORTS.get(port)
    if context is not None:
        return ws_connect(f"wss://{host}:{port}{path}", ssl=context, server_hostname="localhost", **opts)
    return ws_connect(f"ws://{host}:{port}{path}", **opts)


# --------------------------------------------------------------------------
# admin API
# --------------------------------------------------------------------------

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class AdminResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def admin_request(port: int, method: str, path: str, *, token: str | None = None,
                  body: bytes | None = None, content_type: str | None = None,
                  headers: dict[str, str] | None = None, timeout: float = 5.0,
                  host: str = "127.0.0.1") -> AdminResponse:
    req = urllib.request.Request(f"http://{host}:{port}{path}", data=body, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if content_type is not None:
        req.add_header("Content-Type", content_type)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return AdminResponse(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return AdminResponse(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def admin_get(port: int, path: str, **kw) -> AdminResponse:
    return admin_request(port, "GET", path, **kw)


def get_stats(port: int, token: str | None = None) -> dict:
    r = admin_get(port, "/v1/stats", token=token)
    assert r.status == 200, f"/v1/stats -> {r.status} {r.body[:200]!r}"
    return r.json()


def wait_stat(port: int, pred: Callable[[dict], bool], timeout: float = 5.0, desc: str = "stats",
              token: str | None = None) -> dict:
    last: dict = {}

    def check():
        nonlocal last
        last = get_stats(port, token)
        return pred(last)

    try:
        wait_until(check, timeout, desc=desc)
    except AssertionError:
        raise AssertionError(f"timed out after {timeout}s waiting for {desc}; stats: {json.dumps(last)[:2000]}") from None
    return last


_PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)(\s+\d+)?$')
_PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def no_epoch(value: Any) -> Any:
    """`value` with every "epoch" member removed, after checking each is a
    non-empty string (epochs are opaque and differ per run; tests that
    care about them compare them to each other)."""
    if isinstance(value, dict):
        if "epoch" in value:
            assert isinstance(value["epoch"], str) and value["epoch"], f"bad epoch in {value!r}"
        return {k: no_epoch(v) for k, v in value.items() if k != "epoch"}
    if isinstance(value, list):
        return [no_epoch(v) for v in value]
    return value


def parse_prometheus(text: str) -> dict[tuple[str, frozenset], float]:
    """Samples keyed by (name, frozenset(labels.items())). Asserts every line is well formed."""
    out: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _PROM_LINE.match(line.strip())
        assert m, f"malformed Prometheus sample line: {line!r}"
        labels = frozenset(_PROM_LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def prom_value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


DEFAULT_ARGS = (("--listen", "127.0.0.1:0"), ("--admin-listen", "127.0.0.1:0"), ("--shards", "2"))
# HERALD_E2E_ADMIN_THREADS=0 runs the suite with the admin API on the shard
# threads (a test that names --admin-threads itself keeps its own).
if os.environ.get("HERALD_E2E_ADMIN_THREADS"):
    DEFAULT_ARGS += (("--admin-threads", os.environ["HERALD_E2E_ADMIN_THREADS"]),)


def herald_starter(request, binary, prefix=(), on_ready=None, on_stop=None):
    """The body of a `start_herald` fixture (conftest.py, tls_e2e.py): yields
    start(*args, env=None, defaults=True, wait_ready=True, rlimit_nofile=None,
    ready_timeout=20.0). `prefix` goes first on every command line;
    `on_ready(proc)` runs once a process is ready, `on_stop(proc)` before it
    is killed at the test's end. The processes are kept on the test item so
    a failing test's report shows their stderr."""
    started: list[HeraldProcess] = []
    request.node._heralds = started

    def start(*args: str, env: dict[str, str] | None = None, defaults: bool = True,
              wait_ready: bool = True, rlimit_nofile: int | None = None,
              ready_timeout: float = 20.0) -> HeraldProcess:
        argv = [str(binary), *prefix]
        if defaults:
            for flag, value in DEFAULT_ARGS:
                if flag == "--admin-threads" and "--redis" in args:
                    continue  # a cluster needs admin threads
                if flag not in args and not any(a.startswith(flag + "=") for a in args):
                    argv += [flag, value]
        argv += list(args)
        proc = HeraldProcess(argv, clean_env(env), rlimit_nofile=rlimit_nofile)
        started.append(proc)
        if wait_ready:
            proc.wait_ready(ready_timeout)
            if on_ready:
                on_ready(proc)
        return proc

    yield start
    for proc in started:
        if on_stop:
            on_stop(proc)
        proc.kill()
