#!/usr/bin/env python3
"""Engine throughput on the standard streams (shared/bench/gen_stream.py), all in one run.

Replays the 1M-message ``w2`` stream through
  (a) the compiled engine, one message per Python call (``limit`` / ``market`` / ``cancel``),
  (b) the compiled engine's batch API: ``process`` called on consecutive chunks of
      ``--chunk`` messages (default 4,096, so a chunk's ~0.6 MB of events stays in cache), each
      call returning that chunk's events as a numpy array, which the loop consumes (counts the
      fills) -- the streaming use;
  (b') the batch API with ONE call for the whole stream (its 2.2 M events, 140 MB, land in
      fresh memory, which the kernel must zero, and do not stay in cache for the loop that
      reads them: memory traffic, not matching, makes it slower than (b)),
  (c) the pure-Python reference engine, one message per call,
and the deep-book ``w1`` stream (~100k live orders) through the batch API as in (b). Every
replay is
checked against the stream's sidecar (fills, volume, live orders, levels, best prices, order
checksum, L2 digest). Each figure is the median of ``--repeat`` runs on a fresh book; min and
max are printed too (the machine is shared and noisy).

Streams are generated once into a git-ignored cache (``.bench_cache/``). ``--json`` prints one
object with keys ``per_call_msgs_per_s``, ``batch_msgs_per_s``, ``reference_msgs_per_s``,
``speedup_vs_reference`` (batch / reference), ``deep_batch_msgs_per_s`` and ``matches_expected``
(true only if every replay matched), plus ``batch_single_call_msgs_per_s`` and ``chunk``.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS threads spin on a 2-core box
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from abmm.engine import CompiledOrderBook, EventKind, PyOrderBook  # noqa: E402
from abmm.engine.streams import bench_to_messages, load_bench_stream, outcome  # noqa: E402

STREAMS = {
    "w2": ["--n", "1000000", "--seed", "12345", "--max-live", "1000"],
    "w1": ["--n", "1000000", "--seed", "12345"],
    "ci": ["--n", "20000", "--seed", "1", "--max-live", "1000"],
}


def bench_dir() -> Path:
    return Path(os.environ.get("ABMM_BENCH_DIR", ROOT.parent / "shared" / "bench"))


def stream(name: str, cache: Path) -> Path:
    """Path of the cached stream ``name``, generating it with gen_stream.py if needed."""
    path = cache / f"{name}.npz"
    if not (path.exists() and path.with_suffix(".json").exists()):
        gen = bench_dir() / "gen_stream.py"
        if not gen.exists():
            sys.exit(f"cannot find {gen}: set ABMM_BENCH_DIR to the shared/bench folder")
        cache.mkdir(parents=True, exist_ok=True)
        print(f"generating {name} into {path} (once) ...", file=sys.stderr)
        subprocess.run([sys.executable, str(gen), *STREAMS[name], "--out", str(path)],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def per_call(cls, cols):
    """Replay one message per Python call; returns (seconds, book)."""
    typ, side, price, qty, oid = (c.tolist() for c in cols)
    book = cls()
    limit, market, cancel = book.limit, book.market, book.cancel
    t0 = time.perf_counter()
    for t, s, p, q, o in zip(typ, side, price, qty, oid, strict=True):
        if t == 1:
            cancel(o)
        elif t == 2:
            market(s, q)
        else:
            limit(s, p, q)
    return time.perf_counter() - t0, book


def batch(cls, msgs, chunk):
    """Replay the stream through ``process`` in chunks (chunk 0: one call); returns
    (seconds, book). Each chunk's events are consumed: fills are counted and checked."""
    book = cls()
    step = chunk or len(msgs)
    fills = 0
    t0 = time.perf_counter()
    for i in range(0, len(msgs), step):
        events = book.process(msgs[i:i + step])
        fills += int(np.count_nonzero(events["kind"] == EventKind.FILL))
    dt = time.perf_counter() - t0
    assert fills == book.n_fills, "events disagree with the book's counters"
    return dt, book


def measure(fn, args, cls, expected, repeat):
    times, ok = [], True
    for _ in range(repeat):
        dt, book = fn(cls, *args)
        times.append(dt)
        ok = ok and outcome(book) == expected
        del book
    return times, ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median reported)")
    ap.add_argument("--cache", type=Path, default=ROOT / ".bench_cache")
    ap.add_argument("--chunk", type=int, default=4_096,
                    help="messages per batch call (0: the whole stream in one call)")
    ap.add_argument("--no-deep", action="store_true", help="skip the deep-book w1 stream")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    if CompiledOrderBook is None:
        sys.exit("the compiled engine is not built: pip install -e . first")

    cols, expected = load_bench_stream(stream("w2", a.cache))
    msgs = bench_to_messages(*cols)
    n = len(msgs)
    rows = {}
    rows["per_call"] = measure(per_call, (cols,), CompiledOrderBook, expected, a.repeat)
    rows["batch"] = measure(batch, (msgs, a.chunk), CompiledOrderBook, expected, a.repeat)
    rows["batch_1call"] = measure(batch, (msgs, 0), CompiledOrderBook, expected, a.repeat)
    rows["reference"] = measure(per_call, (cols,), PyOrderBook, expected, a.repeat)
    sizes = {"per_call": n, "batch": n, "batch_1call": n, "reference": n}
    if not a.no_deep:
        dcols, dexp = load_bench_stream(stream("w1", a.cache))
        dmsgs = bench_to_messages(*dcols)
        rows["deep_batch"] = measure(batch, (dmsgs, a.chunk), CompiledOrderBook, dexp, a.repeat)
        sizes["deep_batch"] = len(dmsgs)

    rate = {k: sizes[k] / statistics.median(t) for k, (t, _) in rows.items()}
    result = {
        "per_call_msgs_per_s": round(rate["per_call"]),
        "batch_msgs_per_s": round(rate["batch"]),
        "reference_msgs_per_s": round(rate["reference"]),
        "speedup_vs_reference": round(rate["batch"] / rate["reference"], 2),
        "deep_batch_msgs_per_s": round(rate["deep_batch"]) if "deep_batch" in rate else None,
        "matches_expected": all(ok for _, ok in rows.values()),
        "batch_single_call_msgs_per_s": round(rate["batch_1call"]),
        "chunk": a.chunk,
    }
    if a.json:
        print(json.dumps(result))
        return 0 if result["matches_expected"] else 1
    targets = {"per_call": 3e6, "batch": 20e6, "batch_1call": None, "reference": None,
               "deep_batch": 10e6}
    print(f"stream w2: {n:,} messages; batch chunk {a.chunk:,}; repeat {a.repeat} "
          "(msg/s: median, min, max)")
    print(f"{'path':<12}{'median':>14}{'min':>14}{'max':>14}{'target':>12}  matches")
    for k, (t, ok) in rows.items():
        r = sorted(sizes[k] / x for x in t)
        tgt = f"{targets[k]:,.0f}" if targets[k] else "-"
        print(f"{k:<12}{rate[k]:>14,.0f}{r[0]:>14,.0f}{r[-1]:>14,.0f}{tgt:>12}  {ok}")
    print(f"speedup batch / reference: {result['speedup_vs_reference']}x (target >= 15x)")
    print(f"matches_expected: {result['matches_expected']}")
    return 0 if result["matches_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
