"""Helpers for the on-demand benchmarks: wall time and peak memory of one stage in a fresh process."""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import resource
import threading
import time
from pathlib import Path

import psutil

DATA = Path("/tmp/pkh-bench")


class _TreeMemory(threading.Thread):
    """Peak resident memory of this process and all its children (worker processes), sampled."""

    def __init__(self, every: float = 0.1):
        super().__init__(daemon=True)
        self.every, self.peak, self.done = every, 0, threading.Event()

    def run(self):
        me = psutil.Process()
        while not self.done.wait(self.every):
            rss = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, rss)


def _child(fn, args, queue):
    tree = _TreeMemory()
    tree.start()
    t0 = time.perf_counter()
    try:
        extra = fn(*args) or {}
    except BaseException as exc:  # report, never hang the parent
        queue.put({"error": repr(exc)})
        raise
    wall = time.perf_counter() - t0
    tree.done.set()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # ru_maxrss is KiB on Linux
    queue.put({"seconds": wall, "peak_rss_gib": max(own, tree.peak) / 1024**3, **extra})


def measure(fn, *args) -> dict:
    """Run ``fn(*args)`` in a new process; return its wall time, peak RSS and what it returned."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    while True:  # a child that dies without reporting (killed, or failing to start) must not hang us
        try:
            out = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{fn.__name__} died with exit code {proc.exitcode}") from None
    proc.join()
    if "error" in out:
        raise RuntimeError(f"{fn.__name__} failed: {out['error']}")
    return out


def registry(n: int, seed: int = 1) -> Path:
    """Folder with a synthetic registry of ``n`` families (generated once, then reused)."""
    from pkh_targeting import generate_registry

    path = DATA / f"registry-{n}-{seed}"
    if not (path / "members.parquet").exists():
        generate_registry(n, seed, reference_date="2025-07-01").write(path)
    return path


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    fmt = lambda v: f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)  # noqa: E731
    widths = [max(len(c), *(len(fmt(r[c])) for r in rows)) for c in cols]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(fmt(r[c]).rjust(w) for c, w in zip(cols, widths)) for r in rows]
    return "\n".join(lines)
