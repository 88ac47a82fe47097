"""Count a process tree's system calls with `strace -c -f` while a bounded load runs.

strace stops the traced threads at every system call, so the proxy runs several times slower
under it: the result is a count per request, not a rate or a cost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from . import procs
from .cpu import descendants


def parse_summary(text: str) -> dict[str, dict]:
    """strace -c's table -> {syscall: {"calls": n, "errors": n}} (without the total row)."""
    out: dict[str, dict] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or not parts[0][0].isdigit() or parts[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        nums = parts[:-1]
        if len(nums) < 4:
            continue
        try:
            calls = int(nums[3])
            errors = int(nums[4]) if len(nums) > 4 else 0
        except ValueError:
            continue
        out[parts[-1]] = {"calls": calls, "errors": errors}
    return out


def count_during(name: str, pid: int, cpu: int | None, log_dir: str, load, attach_timeout: float = 10.0):
    """Attach `strace -c -f` to every thread of pid and its descendants, run load() (which returns a
    dict), detach, and return (load's result, {syscall: {"calls", "errors"}})."""
    pids = descendants(pid)
    tids = []
    for p in pids:
        try:
            tids += [int(t) for t in os.listdir(f"/proc/{p}/task")]
        except OSError:
            pass
    out = os.path.join(log_dir, f"strace-{name}.txt")
    if os.path.exists(out):
        os.unlink(out)
    argv = ["strace", "-c", "-f", "-o", out]
    for p in pids:   # -f -p PID attaches every thread of PID
        argv += ["-p", str(p)]
    st = procs.start(f"strace-{name}", argv, cpu, log_dir)
    try:
        # strace reports each attached thread on stderr (our log file).
        deadline = time.monotonic() + attach_timeout
        while True:
            log = st.log_tail(1000)
            if _attached(log) >= len(tids):
                break
            if not st.alive():
                raise RuntimeError(f"strace exited with code {st.popen.returncode}: {procs.one_line(log[-300:])}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"strace did not attach to {len(tids)} threads in {attach_timeout:.0f}s")
            time.sleep(0.05)
        time.sleep(0.2)
        result = load()
    finally:
        if st.alive():
            st.popen.send_signal(signal.SIGINT)
            try:
                st.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass
        st.stop()
    try:
        with open(out) as f:
            summary = parse_summary(f.read())
    except OSError as e:
        raise RuntimeError(f"no strace summary: {e}")
    if not summary:
        raise RuntimeError("empty strace summary")
    return result, summary


def _attached(log: str) -> int:
    """Threads strace says it attached: 'Process N attached' (one thread) or
    'Process N attached with K threads'."""
    n = 0
    for line in log.splitlines():
        if "attached" not in line:
            continue
        words = line.split()
        if "with" in words and words[-1].startswith("thread"):
            try:
                n += int(words[words.index("with") + 1])
                continue
            except (ValueError, IndexError):
                pass
        n += 1
    return n
