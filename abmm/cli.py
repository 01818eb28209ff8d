"""The ``abmm`` command line.

``abmm demo`` replays an order-message stream through the matching engine and prints what
happened. (``abmm run SCENARIO`` and the other commands arrive with the market layer.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="msg", unit_scale=True, file=sys.stderr,
                disable=None)  # None: shown on a terminal only


def cmd_demo(a: argparse.Namespace) -> int:
    from abmm.engine import ENGINE, EventKind, OrderBook, PyOrderBook
    from abmm.engine.streams import bench_to_messages, load_bench_stream, outcome, random_messages

    if a.stream:
        cols, expected = load_bench_stream(a.stream)
        msgs = bench_to_messages(*cols)
        source = f"{a.stream} (shared/bench format)"
    else:
        msgs = random_messages(a.messages, seed=a.seed)
        expected = None
        source = f"random stream, seed {a.seed}"
    print(f"abmm {ENGINE} engine: replaying {len(msgs):,} messages from {source}")
    book = OrderBook()
    counts = np.zeros(len(EventKind), np.int64)
    t0 = time.perf_counter()
    with _progress(len(msgs), "matching") as bar:
        for i in range(0, len(msgs), a.chunk):
            events = book.process(msgs[i:i + a.chunk])
            counts += np.bincount(events["kind"], minlength=len(EventKind))
            bar.update(min(a.chunk, len(msgs) - i))
    dt = time.perf_counter() - t0
    book._check()
    result = outcome(book)
    stats = book.stats()
    print(f"processed in {dt:.3f} s: {len(msgs) / dt:,.0f} messages/s")
    print("events: " + ", ".join(f"{k.name.lower()} {counts[k]:,}" for k in EventKind))
    print(f"orders {stats['next_id'] - 1:,}, fills {stats['fills']:,}, traded {stats['volume']:,} "
          f"lots; live orders {stats['live_orders']:,} ({stats['resting_qty']:,} lots)")
    print(f"best bid {result['best_bid']}  best ask {result['best_ask']}")
    for side, name in ((1, "asks"), (0, "bids")):
        prices, qtys, n = book.depth(side, 5)
        rows = "  ".join(f"{p}x{q}" for p, q in zip(prices.tolist(), qtys.tolist(), strict=True))
        print(f"  top-5 {name}: {rows or '(empty)'}")
    status = 0
    if expected is not None:
        ok = result == expected
        print(f"matches the stream's expected outcome: {ok}")
        status = 0 if ok else 1
    if a.check and ENGINE != "python":
        ref = PyOrderBook()
        t1 = time.perf_counter()
        ref_events = ref.process(msgs)
        dt_ref = time.perf_counter() - t1
        same = outcome(ref) == result and ref.stats() == stats
        print(f"pure-Python reference: {len(msgs) / dt_ref:,.0f} messages/s; "
              f"identical book and counters: {same} ({len(ref_events):,} events)")
        status = status or (0 if same else 1)
    if a.json:
        print(json.dumps({"engine": ENGINE, "messages": len(msgs), "seconds": dt, **result,
                          "stats": stats}))
    return status


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="abmm", description="abmm: agent-based market simulator")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="replay an order stream through the matching engine")
    d.add_argument("--messages", type=int, default=1_000_000, help="random stream length")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--stream", help="a shared/bench gen_stream .npz to replay instead")
    d.add_argument("--chunk", type=int, default=65_536, help="messages per batch call")
    d.add_argument("--check", action="store_true",
                   help="also replay through the pure-Python reference and compare")
    d.add_argument("--json", action="store_true", help="also print a JSON summary")
    d.set_defaults(func=cmd_demo)
    return ap


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    if getattr(a, "messages", 1) < 1 or getattr(a, "chunk", 1) < 1:
        print("abmm: --messages and --chunk must be positive", file=sys.stderr)
        return 2
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
