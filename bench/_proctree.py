"""Process helpers for benchmarks: the resident memory of a process and all its
descendants (read from /proc, Linux only), sampled in a thread; and stopping a
process group started for a benchmark."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def descendants(root: int) -> list[int]:
    """`root` and every process descended from it (a scan of /proc: ~10 ms)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                # The command name in parentheses may hold spaces: split after it.
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        children.setdefault(parent, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of `root` and its descendants, alive now, plus
    the children each has waited for."""
    total = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            # utime, stime, cutime, cstime: fields 14–17 of stat(5), after the name.
            total += sum(int(value) for value in fields[11:15])
        except (OSError, IndexError, ValueError):
            pass  # ended
    return total / TICKS


def postmaster() -> int | None:
    """The PostgreSQL server's first process (its backends descend from it), if
    one runs here: its CPU with theirs is the database's share of a pass."""
    parents: dict[int, int] = {}
    names: dict[int, bytes] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                head, tail = stat.read().rsplit(b")", 1)
        except OSError:
            continue
        names[int(name)] = head.split(b"(", 1)[1]
        parents[int(name)] = int(tail.split()[1])
    roots = [pid for pid, comm in names.items()
             if comm == b"postgres" and names.get(parents[pid]) != b"postgres"]  # fmt: skip
    return roots[0] if len(roots) == 1 else None


def memory(pids: list[int]) -> tuple[int, int]:
    """Bytes resident in these processes, summed: (RSS, PSS).

    RSS counts a page shared between processes (a forked worker's copy-on-write
    pages) once per process, as `ps` adds it up: an upper bound. PSS splits each
    shared page between its sharers: the sum is what the processes cost together.
    """
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
                for line in rollup.read().splitlines():
                    if line.startswith((b"Rss:", b"Pss:")):
                        kilobytes = int(line.split()[1]) * 1024
                        if line.startswith(b"Rss:"):
                            rss += kilobytes
                        else:
                            pss += kilobytes
        except (OSError, IndexError, ValueError):
            pass  # ended
    return rss, pss


class PeakMemory:
    """Samples the memory of a process tree every `every` seconds in a thread,
    keeping the largest RSS and PSS sums. The tree is looked up once a second:
    the sampling must not cost the machine what it measures."""

    def __init__(self, pid: int, every: float = 0.1, rescan: float = 1.0) -> None:
        self.pid = pid
        self.every = every
        self.rescan = rescan
        self.rss = 0
        self.pss = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sampling, once the figures wanted are in."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        pids: list[int] = []
        scanned = float("-inf")
        while not self._done.is_set():
            if time.monotonic() - scanned >= self.rescan:
                pids, scanned = descendants(self.pid), time.monotonic()
            rss, pss = memory(pids)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            self._done.wait(self.every)


def stop_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the process, SIGKILL it after `grace` seconds; then SIGKILL
    whatever is left of its process group (it must have been started with
    start_new_session=True), so no child it forked outlives the benchmark."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
