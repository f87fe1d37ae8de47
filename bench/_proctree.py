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


def rss(pids: list[int]) -> int:
    """Bytes resident in these processes, summed.

    A page shared between processes (a forked worker's copy-on-write pages) is
    counted once per process: the sum is an upper bound, as `ps` would add it.
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass  # ended
    return total


class PeakRss:
    """Samples the RSS of a process tree every `every` seconds in a thread;
    `peak` is the largest sum. The tree is looked up once a second: the
    sampling must not cost the machine what it measures."""

    def __init__(self, pid: int, every: float = 0.1, rescan: float = 1.0) -> None:
        self.pid = pid
        self.every = every
        self.rescan = rescan
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> int:
        """Stop sampling (once the figure wanted is in); return the peak in bytes."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak

    def _run(self) -> None:
        pids: list[int] = []
        scanned = float("-inf")
        while not self._done.is_set():
            if time.monotonic() - scanned >= self.rescan:
                pids, scanned = descendants(self.pid), time.monotonic()
            self.peak = max(self.peak, rss(pids))
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
