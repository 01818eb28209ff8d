"""``abmm data ...``: fetch real data from Bybit, import history files, list a store.

Paths and schemas of the store: docs/data.md. Every command writes through
``abmm.data.store`` (atomic files, coverage metadata), so Ctrl-C or SIGTERM between two writes
leaves the store consistent: whole chunks, sorted and unique.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from abmm.schema.timing import parse_duration

DEFAULT_BASE_URL = "https://api.bybit.com"
CATEGORIES = ("spot", "linear", "inverse")


def parse_utc(text: str, flag: str) -> int:
    """A UTC date (``2024-01-01``) or ISO datetime (``2024-01-01T12:30``, with or without an
    offset) as milliseconds since the epoch; naive times are UTC."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ValueError(f"{flag} {text!r}: expected a UTC date (2024-01-01) or an ISO "
                         "datetime (2024-01-01T12:30:00)") from None
    if ts is pd.NaT:
        raise ValueError(f"{flag} {text!r}: expected a date or datetime")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def _seconds(text: str, flag: str) -> float:
    try:
        ns = parse_duration(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{flag} {text!r}: {exc}") from None
    if ns <= 0:
        raise ValueError(f"{flag} {text!r}: expected a positive duration such as 1s or 10m")
    return ns / 1e9


def _bar(total, desc, unit):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None)


def _client(a):
    from abmm.data.bybit import BybitClient

    return BybitClient(base_url=a.base_url)


def cmd_fetch_klines(a: argparse.Namespace) -> int:
    """``abmm data fetch-klines``: bars over ``[--start, --end)`` into the store."""
    start = parse_utc(a.start, "--start")
    end = parse_utc(a.end, "--end")
    if end <= start:
        raise ValueError(f"--end {a.end!r} is not after --start {a.start!r} (start inclusive, "
                         "end exclusive)")
    from abmm.data.bybit import fetch_klines_to_store

    with _client(a) as client, _bar(None, f"{a.symbol} {a.interval}", "bar") as bar:
        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()

        res = fetch_klines_to_store(client, a.out, a.category, a.symbol, a.interval,
                                    start, end, progress=progress)
    gaps = res["gaps"]
    if a.json:
        print(json.dumps(res, default=str))
        return 0
    print(f"{res['bars']:,} bars in {res['path']} ({res['bars_added']:,} new); "
          f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''}")
    for g0, g1 in gaps[:10]:
        print(f"  gap {pd.Timestamp(g0, unit='ms', tz='UTC')} .. "
              f"{pd.Timestamp(g1, unit='ms', tz='UTC')} (no bars, not filled)")
    if len(gaps) > 10:
        print(f"  ... and {len(gaps) - 10} more")
    return 0


def cmd_orderbook(a: argparse.Namespace) -> int:
    """``abmm data orderbook``: poll order-book snapshots into the store."""
    every = _seconds(a.every, "--every")
    duration = _seconds(a.duration, "--duration")
    if not 1 <= a.depth <= 1000:
        raise ValueError(f"--depth {a.depth}: expected 1..1000 levels")
    from abmm.data.bybit import poll_orderbook_to_store

    with _client(a) as client, _bar(int(duration // every) or 1, f"{a.symbol} book",
                                    "snap") as bar:
        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()

        res = poll_orderbook_to_store(client, a.out, a.category, a.symbol, a.depth, every,
                                      duration, progress=progress)
    print(json.dumps(res, default=str) if a.json else
          f"{res['snapshots']:,} snapshots of {a.symbol} ({a.depth} levels) in {a.out}")
    return 0


def cmd_instrument(a: argparse.Namespace) -> int:
    """``abmm data instrument``: a scenario's ``market:`` section for a Bybit instrument."""
    from abmm.data.bybit import instrument_market_section, market_section_yaml

    with _client(a) as client:
        sec = instrument_market_section(client, a.category, a.symbol)
    print(json.dumps(sec) if a.json else market_section_yaml(sec), end="" if not a.json else "\n")
    return 0


def cmd_import(a: argparse.Namespace) -> int:
    """``abmm data import``: a history file (Bybit trades or order book, Binance feed, bars)
    into the store."""
    from abmm.data.loaders import import_file

    res = import_file(a.file, a.out, venue=a.venue, category=a.category, symbol=a.symbol,
                      depth=a.depth)
    if a.json:
        print(json.dumps(res, default=str))
        return 0
    what = " ".join(str(res[k]) for k in ("venue", "category", "symbol") if res.get(k))
    print(f"{res['format']}: {res['rows']:,} rows of {what}, {res['added']:,} new, in "
          f"{len(res['paths'])} file(s) under {a.out}")
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    """``abmm data list``: every file of a store, its rows, time span and coverage."""
    from abmm.data.store import list_store

    rows = list_store(a.dir)
    if a.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"{a.dir}: an empty store")
        return 0
    w = max(len(r["path"]) for r in rows)
    for r in rows:
        span = f"{r['start']} .. {r['end']}" if r["start"] else ""
        print(f"{r['path']:<{w}}  {r['rows']:>10,} rows  {span}")
    return 0


def add_parser(sub) -> None:
    """Add ``abmm data`` and its subcommands to the top-level subparsers ``sub``."""
    d = sub.add_parser("data", help="real data: fetch from Bybit, import history files, "
                                    "list a store (docs/data.md)")
    dsub = d.add_subparsers(dest="data_command", required=True)

    def venue_args(p, depth_default=None):
        p.add_argument("--symbol", required=True, type=str.upper, help="e.g. BTCUSDT")
        p.add_argument("--category", required=True, choices=CATEGORIES)
        p.add_argument("--out", required=True, help="the data store directory")
        p.add_argument("--base-url", default=DEFAULT_BASE_URL,
                       help=f"the V5 API's base URL (default {DEFAULT_BASE_URL}; testnet: "
                            "https://api-testnet.bybit.com)")
        p.add_argument("--json", action="store_true")

    k = dsub.add_parser("fetch-klines", help="1-minute (or other) bars over a time range")
    venue_args(k)
    k.add_argument("--interval", required=True,
                   help="1 3 5 15 30 60 120 240 360 720 (minutes), D, W or M")
    k.add_argument("--start", required=True, help="UTC date or ISO datetime, inclusive")
    k.add_argument("--end", required=True, help="UTC date or ISO datetime, exclusive")
    k.set_defaults(func=cmd_fetch_klines)
    o = dsub.add_parser("orderbook", help="poll order-book snapshots")
    venue_args(o)
    o.add_argument("--depth", type=int, default=200, help="levels per side (1..1000)")
    o.add_argument("--every", default="1s", help="poll interval (default 1s)")
    o.add_argument("--duration", required=True, help="how long to poll, e.g. 10m")
    o.set_defaults(func=cmd_orderbook)
    i = dsub.add_parser("instrument", help="print a scenario's market: section for a symbol")
    i.add_argument("--symbol", required=True, type=str.upper)
    i.add_argument("--category", required=True, choices=CATEGORIES)
    i.add_argument("--base-url", default=DEFAULT_BASE_URL)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_instrument)
    m = dsub.add_parser("import", help="import a history file into a store")
    m.add_argument("file", help="Bybit trades CSV (derivatives or spot), Bybit order-book "
                                "JSON lines, a Binance feed (.gz) or a 1-minute bar CSV")
    m.add_argument("--out", required=True, help="the data store directory")
    m.add_argument("--venue", help="the venue, when the file does not say (e.g. bybit)")
    m.add_argument("--category", choices=CATEGORIES + ("option",),
                   help="when the file does not say")
    m.add_argument("--symbol", type=str.upper, help="when the file does not say")
    m.add_argument("--depth", type=int, default=50, help="book levels kept per side")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_import)
    ls = dsub.add_parser("list", help="list a store's files")
    ls.add_argument("dir")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
