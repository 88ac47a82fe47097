"""Child processes: start pinned, wait for readiness, and always clean up.

Every process the harness starts goes through `start()`, runs in its own session
(so a Ctrl-C on the terminal reaches only the harness, which then stops the
children in order), and is registered so that `cleanup()` stops it on normal
exit, on an exception and on SIGINT/SIGTERM/SIGHUP.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

_REGISTRY: list["Proc"] = []
_HANDLERS_INSTALLED = False


class Interrupted(BaseException):
    """Raised from a signal handler so that `finally` blocks run.

    A BaseException, so that `except Exception` around a measurement does not swallow it."""


@dataclass
class Proc:
    name: str
    argv: list[str]
    popen: subprocess.Popen
    log_path: str
    cpu: int | None
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, "r", errors="replace") as f:
                lines = f.read().splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group we created, then SIGKILL it if needed."""
        if self in _REGISTRY:
            _REGISTRY.remove(self)
        if self.popen.poll() is not None:
            _kill_group(self.pid, signal.SIGKILL)  # stray grandchildren, if any
            return
        _kill_group(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.pid, signal.SIGKILL)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.pid, signal.SIGKILL)


def _kill_group(pgid: int, sig: int) -> None:
    # Each child is started with start_new_session=True, so its pid is the id
    # of a process group that holds only it and its own descendants.
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def one_line(text: str, limit: int = 300) -> str:
    """Log lines joined for a table cell or a note."""
    s = " / ".join(l.strip() for l in text.splitlines() if l.strip()).replace("|", "\\|")
    return s if len(s) <= limit else s[:limit] + "…"


def pinned(argv: list[str], cpu: int | None) -> list[str]:
    """Prefix argv with `taskset -c CPU` (None: not pinned)."""
    if cpu is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def start(name: str, argv: list[str], cpu: int | None, log_dir: str,
          env: dict | None = None, cwd: str | None = None) -> Proc:
    install_signal_handlers()
    full = pinned(argv, cpu)
    log_path = os.path.join(log_dir, f"{name}.log")
    log = open(log_path, "ab")
    try:
        popen = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=env, cwd=cwd)
    finally:
        log.close()
    p = Proc(name=name, argv=full, popen=popen, log_path=log_path, cpu=cpu)
    _REGISTRY.append(p)
    return p


def run(argv: list[str], cpu: int | None, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a bounded foreground command (a load generator), pinned, own session."""
    install_signal_handlers()
    full = pinned(argv, cpu)
    popen = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, env=env, text=True)
    p = Proc(name=os.path.basename(argv[0]), argv=full, popen=popen, log_path="", cpu=cpu)
    _REGISTRY.append(p)
    try:
        out, err = popen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.stop(1.0)
        out, err = popen.communicate()
        err = (err or "") + f"\n[bench] killed after {timeout:.0f}s timeout"
    except BaseException:
        p.stop(1.0)
        raise
    finally:
        if p in _REGISTRY:
            _REGISTRY.remove(p)
    return subprocess.CompletedProcess(full, popen.returncode, out, err)


def cleanup() -> None:
    for p in list(reversed(_REGISTRY)):
        try:
            p.stop(3.0)
        except Exception as e:  # keep stopping the others
            print(f"[bench] could not stop {p.name} ({p.pid}): {e}", file=sys.stderr)


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def install_signal_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(cleanup)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


# ---------------------------------------------------------------- ports

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_ports() -> set[int]:
    """TCP ports in LISTEN state on 127.0.0.1 or 0.0.0.0, read from /proc/net/tcp.

    Reading the table instead of connecting means waiting for a proxy does not
    open a connection through it to the backend (iperf3 counts those).
    """
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] != "0A":
                        continue
                    addr, port = parts[1].split(":")
                    if addr in ("0100007F", "00000000") or set(addr) <= {"0"}:
                        ports.add(int(port, 16))
        except OSError:
            pass
    return ports


def wait_listening(port: int, proc: Proc | None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with code {proc.popen.returncode} before listening"
                               + (f": {one_line(proc.log_tail(3))}" if proc.log_tail(3) else ""))
        if port in _listening_ports():
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


def http_probe(port: int, timeout: float = 3.0, body: str | None = None) -> str:
    """One HTTP/1.1 GET; returns the status line (raises on failure or, if `body` is given,
    when the response body differs). The response ends at Content-Length, or at EOF without one."""
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
                head, sep, rest = data.partition(b"\r\n\r\n")
                if sep:
                    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
                    if m and len(rest) >= int(m.group(1)):
                        break
    except OSError as e:
        got = f"; got {data[:60]!r}" if data else ""
        raise RuntimeError(f"HTTP/1.1 probe of 127.0.0.1:{port}: {e or type(e).__name__}{got}")
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    if not line.startswith("HTTP/1.1 200"):
        raise RuntimeError(f"unexpected HTTP answer: {line!r}")
    if body is not None:
        got = data.split(b"\r\n\r\n", 1)[-1]
        if got != body.encode():
            raise RuntimeError(f"unexpected HTTP/1.1 response body: {got[:80]!r} (expected {body!r})")
    return line


def h2c_probe(port: int, body: str, timeout: float = 5.0) -> None:
    """One cleartext HTTP/2 GET (prior knowledge) with nghttp; raises unless 200 with `body`."""
    argv = ["nghttp", "-v", "-t", f"{max(1, round(timeout))}s", f"http://127.0.0.1:{port}/"]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"h2c probe: nghttp got no answer in {timeout:.0f}s")
    out = r.stdout.decode(errors="replace")
    if ":status: 200" not in out:
        status = [l.strip() for l in out.splitlines() if ":status:" in l]
        raise RuntimeError("h2c probe: " + (status[0] if status else f"no response (nghttp exit {r.returncode}: "
                                            f"{one_line(out[-200:] + r.stderr.decode(errors='replace')[-200:])})"))
    if body not in out:
        raise RuntimeError(f"h2c probe: 200 but body {body!r} not found")


def socket_inodes(pids: list[int]) -> set[int]:
    """Inodes of the sockets open in these processes (from /proc/PID/fd)."""
    out = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(int(link[8:-1]))
    return out


def tcp_established(local_port: int | None = None, remote_port: int | None = None,
                    inodes: set[int] | None = None) -> int:
    """ESTABLISHED TCP sockets on this host (IPv4 and IPv6) with the given local and/or remote port,
    and (if given) one of these inodes (see socket_inodes)."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] != "01":
                        continue
                    lp = int(parts[1].rsplit(":", 1)[1], 16)
                    rp = int(parts[2].rsplit(":", 1)[1], 16)
                    if inodes is not None and int(parts[9]) not in inodes:
                        continue
                    if (local_port is None or lp == local_port) and (remote_port is None or rp == remote_port):
                        n += 1
        except OSError:
            pass
    return n
