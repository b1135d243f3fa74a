"""Helpers for the on-demand benchmarks: wall time and peak memory of one stage in a fresh process."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from pathlib import Path

DATA = Path("/tmp/pkh-bench")


def _child(fn, args, queue):
    t0 = time.perf_counter()
    try:
        extra = fn(*args) or {}
    except BaseException as exc:  # report, never hang the parent
        queue.put({"error": repr(exc)})
        raise
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GiB (ru_maxrss is KiB on Linux)
    queue.put({"seconds": wall, "peak_rss_gib": peak, **extra})


def measure(fn, *args) -> dict:
    """Run ``fn(*args)`` in a new process; return its wall time, peak RSS and what it returned."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    out = queue.get()
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
