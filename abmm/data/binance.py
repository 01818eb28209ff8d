"""Parsing of a recorded Binance websocket feed (USD-M), shared by the loaders
(:mod:`abmm.data.loaders`) and the tick-level comparison (:mod:`abmm.analysis.feed`).

The feed: gzip text (plain text is accepted too), one message a line -- the local receive time
in ns since the epoch, a space, then the exchange's JSON ``{"stream": ..., "data": {...}}``.
:func:`parse_binance_feed` keeps ``@trade`` (``p`` price, ``q`` quantity, ``T`` trade time in
ms, ``m`` buyer is maker, so ``m: true`` is a seller-initiated trade; only ``X == "MARKET"``
trades -- insurance-fund and ADL trades are counted and left out) and ``@bookTicker``
(``b``/``B`` best bid and its quantity, ``a``/``A`` best ask; ``T``, else ``E``, in ms). Depth
diffs (``@depth``) and REST snapshots (``{"lastUpdateId": ...}``) are counted, not used. A line
that does not parse is skipped and counted; a file none of whose first lines is such a message
-- or that holds no trade and no book ticker -- raises ``ValueError``. ``orjson`` is used when
it is installed, else the standard ``json``.
"""

from __future__ import annotations

import gzip
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

try:  # optional: about three times faster than json on this feed
    import orjson as _json

    _JSON_ERRORS: tuple = (_json.JSONDecodeError,)
except ImportError:  # pragma: no cover - depends on the environment
    import json as _json

    _JSON_ERRORS = (ValueError,)

__all__ = ["ParsedFeed", "parse_binance_feed", "open_text", "HEAD_LINES", "FEED_EXPECTED"]

HEAD_LINES = 100  # the first non-blank lines that must hold one feed message
FEED_EXPECTED = ("a Binance websocket capture: gzip text, one message a line, "
                 "<receive time ns> {\"stream\": ..., \"data\": {...}}")


@dataclass(eq=False)
class ParsedFeed:
    """The rows of a feed. ``trades``: ``ts`` (exchange trade time, ns since the epoch),
    ``recv_ns``, ``price``, ``qty``, ``side`` (the taker's: 0 buy, 1 sell), ``trade_id``;
    ``top``: ``ts``, ``recv_ns``, ``bid``, ``bid_qty``, ``ask``, ``ask_qty``, ``u`` (the
    book ticker's update id), one row per ``bookTicker``; both sorted by exchange time.
    ``counts`` as :class:`abmm.analysis.feed.Feed`'s; ``symbols`` the upper-cased stream
    symbols seen (``btcusdt@trade`` -> ``BTCUSDT``)."""

    trades: pd.DataFrame
    top: pd.DataFrame
    counts: dict = field(default_factory=dict)
    symbols: set = field(default_factory=set)


def open_text(path: Path):
    """A text stream of ``path``: gunzipped when it starts with the gzip magic."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="strict")
    return open(path, encoding="utf-8", errors="strict")


def _ms(data: dict, *keys: str) -> int:
    for k in keys:
        v = data.get(k)
        if v is not None:
            return int(v) * 1_000_000
    raise KeyError(keys[0])


def parse_binance_feed(path) -> ParsedFeed:
    """Parse a recorded Binance websocket feed (the module docstring) into a
    :class:`ParsedFeed`. ``ValueError`` (naming the file and what was expected) when the file
    is not such a feed; ``FileNotFoundError`` when there is no file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no feed file at {path}")
    counts = dict.fromkeys(["lines", "trades", "book_tickers", "depth_diffs", "snapshots",
                            "other_streams", "non_market_trades", "malformed", "blank",
                            "off_grid_prices", "truncated"], 0)
    trades: list[tuple] = []
    tops: list[tuple] = []
    symbols: set = set()
    good = 0
    loads = _json.loads
    try:
        fh = open_text(path)
        with fh:
            for line in fh:
                counts["lines"] += 1
                line = line.strip()
                if not line:
                    counts["blank"] += 1
                    continue
                kind = _parse_line(line, trades, tops, counts, loads, symbols)
                if kind is None:
                    counts["malformed"] += 1
                    if good == 0 and counts["malformed"] >= HEAD_LINES:
                        raise ValueError(f"{path} is not a Binance feed: none of its first "
                                         f"{HEAD_LINES} lines is a feed message; expected "
                                         f"{FEED_EXPECTED}")
                else:
                    good += 1
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a Binance feed (not text); expected {FEED_EXPECTED}") \
            from None
    except gzip.BadGzipFile as exc:
        raise ValueError(f"{path} is not a Binance feed ({exc}); expected {FEED_EXPECTED}") \
            from None
    except EOFError as exc:  # a truncated download: keep what was read
        log.warning("%s: %s; keeping the %d lines read", path, exc, counts["lines"])
        counts["truncated"] = 1
    if not trades and not tops:
        raise ValueError(f"{path} is not a Binance feed: no @trade or @bookTicker message in "
                         f"{counts['lines']} lines ({counts['malformed']} malformed); expected "
                         f"{FEED_EXPECTED}")
    tr = pd.DataFrame(trades, columns=["ts", "recv_ns", "price", "qty", "side", "trade_id"])
    tr = tr.astype({"ts": np.int64, "recv_ns": np.int64, "price": float, "qty": float,
                    "side": np.int8, "trade_id": np.int64})
    tr = tr.sort_values(["ts", "trade_id"], kind="stable").reset_index(drop=True)
    top = pd.DataFrame(tops, columns=["ts", "recv_ns", "bid", "bid_qty", "ask", "ask_qty", "u"])
    top = top.astype({"ts": np.int64, "recv_ns": np.int64, "bid": float, "bid_qty": float,
                      "ask": float, "ask_qty": float, "u": np.int64})
    top = top.sort_values(["ts", "u"], kind="stable").reset_index(drop=True)
    if counts["malformed"]:
        log.warning("%s: %d malformed lines skipped", path, counts["malformed"])
    return ParsedFeed(tr, top, counts, symbols)


def _parse_line(line: str, trades: list, tops: list, counts: dict, loads,
                symbols: set | None = None) -> str | None:
    """Parse one line into ``trades``/``tops`` and count it; the message's kind, or None when
    the line is malformed."""
    recv, sep, payload = line.partition(" ")
    if not sep:
        return None
    try:
        recv_ns = int(recv)
        msg = loads(payload)
    except (ValueError, *_JSON_ERRORS):
        return None
    if not isinstance(msg, dict):
        return None
    stream, data = msg.get("stream"), msg.get("data")
    if stream is None:
        if "lastUpdateId" in msg:
            counts["snapshots"] += 1
            return "snapshot"
        return None
    if not isinstance(stream, str) or not isinstance(data, dict):
        return None
    try:
        if stream.endswith("@trade"):
            if data.get("X", "MARKET") != "MARKET":
                counts["non_market_trades"] += 1
                return "trade"
            p, q, m = float(data["p"]), float(data["q"]), data["m"]
            if not (p > 0 and q > 0) or not isinstance(m, bool):
                return None
            trades.append((_ms(data, "T", "E"), recv_ns, p, q, 1 if m else 0,
                           int(data.get("t", -1))))
            counts["trades"] += 1
            _symbol(stream, symbols)
            return "trade"
        if stream.endswith("@bookTicker"):
            b, bq, a, aq = (float(data[k]) for k in ("b", "B", "a", "A"))
            if not (b >= 0 and a >= 0 and bq >= 0 and aq >= 0):
                return None
            tops.append((_ms(data, "T", "E"), recv_ns, b, bq, a, aq, int(data.get("u", 0))))
            counts["book_tickers"] += 1
            _symbol(stream, symbols)
            return "bookTicker"
    except (KeyError, TypeError, ValueError):
        return None
    if "@depth" in stream:
        counts["depth_diffs"] += 1
        return "depth"
    counts["other_streams"] += 1
    return "other"


def _symbol(stream: str, symbols: set | None) -> None:
    if symbols is not None:
        symbols.add(stream.partition("@")[0].upper())
