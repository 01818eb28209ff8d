"""A client for Bybit's V5 public market endpoints, and the functions that fill the store with it.

``BybitClient`` wraps ``httpx`` with a client-side rate limit (a token bucket, by default 20
requests a second: a sixth of Bybit's 600 per 5 s per IP) and retries with exponential backoff
and full jitter on what is transient (HTTP 429 and 5xx, retCode 10006/10016/10000, timeouts,
connection errors, malformed or truncated replies). HTTP 403 (the IP is banned for at least 10
minutes) is never retried. Bad requests raise :class:`~abmm.errors.DataError`, runtime faults
:class:`~abmm.errors.FetchError`.

The ``*_to_store`` functions write into the local Parquet store (``abmm.data.store``): fetching a
kline range again asks the server only for what the store's coverage lacks, and every chunk is
committed in one atomic write, so an interrupted fetch leaves whole chunks only.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable

import httpx
import numpy as np
import pandas as pd

from abmm.data.store import (
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    KLINE_SCHEMA,
    TRADE_SCHEMA,
    instruments_path,
    klines_path,
    merge_into,
    missing_ranges,
    orderbook_path,
    read_table,
)
from abmm.errors import DataError, FetchError

__all__ = [
    "BASE_URL",
    "INTERVALS",
    "CATEGORIES",
    "BybitClient",
    "interval_ms",
    "stamps_ms",
    "gaps",
    "fetch_klines_to_store",
    "fetch_instruments_to_store",
    "poll_orderbook_to_store",
    "instrument_market_section",
    "market_section_yaml",
]

log = logging.getLogger(__name__)

BASE_URL = "https://api.bybit.com"
#: Kline intervals Bybit accepts (minutes, then day, week, month).
INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
#: Categories of the kline endpoint; the order book, trades and instruments also take "option".
CATEGORIES = ("spot", "linear", "inverse")
_ALL_CATEGORIES = CATEGORIES + ("option",)
#: Bars fetched and committed to the store at a time by ``fetch_klines_to_store``.
CHUNK_BARS = 10_000

_MINUTE = 60_000
_DAY = 86_400_000
_RETRY_CODES = {10000: "server timeout", 10006: "too many visits (per-UID rate limit)",
                10016: "server error"}
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
_BOOK_LIMITS = {"spot": 1000, "linear": 1000, "inverse": 1000, "option": 25}
_TRADE_LIMITS = {"spot": (60, 60), "linear": (1000, 500), "inverse": (1000, 500),
                 "option": (1000, 500)}


# ------------------------------------------------------------------ validation
def _category(category, allowed=CATEGORIES) -> str:
    if category not in allowed:
        raise DataError(f"category {category!r}: expected one of {'|'.join(allowed)}")
    return category


def _interval(interval) -> str:
    text = str(interval).strip()
    if text not in INTERVALS:
        raise DataError(f"interval {interval!r}: expected one of {' '.join(INTERVALS)} "
                        "(minutes, or D, W, M)")
    return text


def _symbol(symbol) -> str:
    if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol.strip().upper()):
        raise DataError(f"symbol {symbol!r}: expected a Bybit symbol such as 'BTCUSDT'")
    return symbol.strip().upper()


def _ms(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DataError(f"{what}={value!r}: expected a non-negative integer of epoch ms")
    return int(value)


def _range(start_ms, end_ms) -> tuple[int, int]:
    start, end = _ms(start_ms, "start_ms"), _ms(end_ms, "end_ms")
    if end <= start:
        raise DataError(f"time range [{start}, {end}): end_ms must be after start_ms")
    return start, end


def _limit(limit, low: int, high: int, what: str) -> int:
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) \
            or not low <= limit <= high:
        raise DataError(f"limit={limit!r} for {what}: expected an integer in {low}..{high}")
    return int(limit)


def interval_ms(interval) -> int | None:
    """The length of a bar in ms (minute intervals and D, W); ``None`` for M (months vary)."""
    iv = _interval(interval)
    if iv.isdigit():
        return int(iv) * _MINUTE
    return {"D": _DAY, "W": 7 * _DAY}.get(iv)


def stamps_ms(frame: pd.DataFrame) -> np.ndarray:
    """The ``timestamp`` column of a store frame as int64 epoch ms."""
    if not len(frame):
        return np.array([], dtype=np.int64)
    return frame["timestamp"].dt.as_unit("ms").astype("int64").to_numpy()


def _float(value, what: str, path: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FetchError(f"bybit {path}: malformed reply: {what}={value!r} is not a number") \
            from None


def _empty(schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


# ------------------------------------------------------------------ rate limit
class _TokenBucket:
    """``rate`` requests a second on average, bursts of at most ``burst``."""

    def __init__(self, rate: float, burst: float, clock, sleep):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self.tokens = self.burst
        self.clock = clock
        self.sleep = sleep
        self.last = clock()

    def acquire(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            wait = (1.0 - self.tokens) / self.rate
            self.sleep(wait)
            self.last = max(self.clock(), now + wait)
            self.tokens = 0.0
        else:
            self.tokens -= 1.0


# ------------------------------------------------------------------ the client
class BybitClient:
    """A client of Bybit's V5 public market endpoints (no API key needed).

    ``base_url``: the API (tests point it at a fake server); ``timeout``: seconds for each
    request; ``max_retries``: retries after the first try of a transient failure;
    ``backoff``/``max_backoff``: the base and cap in seconds of the exponential backoff (full
    jitter: a uniform wait in ``[0, min(max_backoff, backoff * 2**attempt)]``); ``rate_per_s``:
    the client-side request rate limit; ``transport``: an ``httpx`` transport (tests);
    ``sleep``: the function that waits (tests pass a no-op); ``seed``: of the jitter.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, base_url: str = BASE_URL, timeout: float = 10.0, max_retries: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0, rate_per_s: float = 20.0,
                 transport=None, sleep: Callable[[float], None] = time.sleep,
                 seed: int | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        if max_retries < 0 or backoff < 0 or max_backoff < 0 or rate_per_s <= 0 or timeout <= 0:
            raise DataError("BybitClient: max_retries, backoff and max_backoff must be >= 0, "
                            "rate_per_s and timeout > 0")
        self.base_url = base_url
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.sleep = sleep
        self.wall = wall
        self.requests = 0  #: HTTP requests sent (tries included)
        self._rng = random.Random(seed)
        self._bucket = _TokenBucket(rate_per_s, rate_per_s, clock, sleep)
        kwargs = {"transport": transport} if transport is not None else {}
        self._http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(self.timeout),
                                  headers={"Accept": "application/json"}, **kwargs)

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> BybitClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- transport
    def _delay(self, attempt: int) -> float:
        return self._rng.uniform(0.0, min(self.max_backoff, self.backoff * 2.0 ** attempt))

    def _reset_wait(self, headers) -> float | None:
        """Seconds until ``X-Bapi-Limit-Reset-Timestamp`` (capped), ``None`` when absent."""
        raw = headers.get("X-Bapi-Limit-Reset-Timestamp") or headers.get("Retry-After")
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
        if "X-Bapi-Limit-Reset-Timestamp" in headers:
            value = value / 1000.0 - self.wall()
        return min(self.max_backoff, max(0.0, value))

    def get(self, path: str, params: dict) -> dict:
        """GET ``path`` with ``params``; the reply's ``result`` (a dict) when retCode is 0.

        Retries transient failures; raises ``FetchError`` when banned (HTTP 403) or when
        retries are exhausted, ``DataError`` when Bybit says the request is wrong."""
        params = {k: v for k, v in params.items() if v is not None}
        problem = "no attempt made"
        wait: float | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self._delay(attempt - 1) if wait is None else wait
                log.warning("bybit %s: %s; retry %d/%d in %.3fs", path, problem, attempt,
                            self.max_retries, delay)
                self.sleep(delay)
            wait = None
            self._bucket.acquire()
            self.requests += 1
            try:
                resp = self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                problem = f"timed out after {self.timeout:g}s ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
                continue
            status = resp.status_code
            if status == 403:
                raise FetchError(
                    f"bybit {path}: HTTP 403: this IP is banned by Bybit for at least 10 minutes "
                    "(too many requests); do not retry before then")
            if status == 404:
                raise DataError(f"bybit {path}: HTTP 404: wrong path, or a category that does "
                                f"not belong to this endpoint (category={params.get('category')!r})")
            if status == 429 or status >= 500:
                problem = f"HTTP {status}"
                wait = self._reset_wait(resp.headers)
                if wait is not None:
                    wait = max(wait, self._delay(attempt))
                continue
            try:
                body = resp.json()
            except ValueError:
                if status >= 400:
                    raise DataError(f"bybit {path}: HTTP {status} "
                                    f"({resp.text[:80]!r}); request {params}") from None
                problem = f"malformed JSON (HTTP {status}, {len(resp.content)} bytes)"
                continue
            if not isinstance(body, dict) or not isinstance(body.get("retCode"), int):
                problem = f"malformed reply (HTTP {status}, no integer retCode)"
                continue
            code, msg = body["retCode"], str(body.get("retMsg", ""))
            if code == 0:
                result = body.get("result")
                if not isinstance(result, dict):
                    problem = "malformed reply (result is not an object)"
                    continue
                return result
            if code in _RETRY_CODES:
                problem = f"retCode {code} {_RETRY_CODES[code]} (retMsg {msg!r})"
                if code == 10006:
                    wait = self._reset_wait(resp.headers)
                continue
            raise self._request_error(path, params, code, msg, status)
        raise FetchError(f"bybit {path}: failed after {self.max_retries + 1} attempts; "
                         f"last: {problem}")

    @staticmethod
    def _request_error(path, params, code, msg, status) -> DataError:
        if code == 10001:
            named = [k for k in params if k.lower() in msg.lower()] or list(params)
            sent = ", ".join(f"{k}={params[k]!r}" for k in named)
            return DataError(f"bybit {path}: parameter error (retMsg {msg!r}): {sent}")
        if code == 10029:
            return DataError(f"bybit {path}: symbol {params.get('symbol')!r} is not allowed or "
                             f"invalid for category {params.get('category')!r} (retMsg {msg!r})")
        if status >= 400:
            return DataError(f"bybit {path}: HTTP {status}, retCode {code} (retMsg {msg!r})")
        return DataError(f"bybit {path}: retCode {code} (retMsg {msg!r})")

    # -------------------------------------------------------------- endpoints
    def klines(self, category: str, symbol: str, interval, start_ms: int, end_ms: int,
               limit: int = 1000, on_page: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Bars opening in ``[start_ms, end_ms)``, ascending, unique, floats.

        Columns: ``timestamp`` (UTC, the bar's open), ``open, high, low, close, volume,
        turnover``. Walks backwards from ``end_ms`` in pages of ``limit`` bars until
        ``start_ms`` is reached or a page is empty; ``on_page(n)`` is called after each page
        with the number of its bars inside the range. Missing bars are not filled (see
        :func:`gaps`)."""
        path = "/v5/market/kline"
        category, symbol, interval = _category(category), _symbol(symbol), _interval(interval)
        start, end = _range(start_ms, end_ms)
        limit = _limit(limit, 1, 1000, path)
        rows: dict[int, list[float]] = {}
        cursor = end - 1  # Bybit's end is inclusive; ours is not
        while cursor >= start:
            result = self.get(path, {"category": category, "symbol": symbol,
                                     "interval": interval, "start": start, "end": cursor,
                                     "limit": limit})
            page = result.get("list")
            if not isinstance(page, list):
                raise FetchError(f"bybit {path}: malformed reply: result.list is not a list")
            if not page:
                break
            oldest = None
            inside = 0
            for row in page:
                if not isinstance(row, list) or len(row) < 7:
                    raise FetchError(f"bybit {path}: malformed reply: kline row {row!r}")
                ts = int(_float(row[0], "startTime", path))
                oldest = ts if oldest is None else min(oldest, ts)
                if start <= ts < end:
                    inside += ts not in rows
                    rows[ts] = [_float(v, "kline field", path) for v in row[1:7]]
            log.debug("bybit %s %s %s: page of %d bars down to %s", path, symbol, interval,
                      len(page), oldest)
            if on_page is not None:
                on_page(inside)
            if oldest is None or oldest - 1 >= cursor:
                break  # no progress: the server ignores `end`
            cursor = oldest - 1
        if not rows:
            return _empty(KLINE_SCHEMA)
        stamps = sorted(rows)
        values = np.array([rows[t] for t in stamps], dtype=float)
        frame = pd.DataFrame(values, columns=["open", "high", "low", "close", "volume",
                                              "turnover"])
        frame.insert(0, "timestamp", pd.to_datetime(np.array(stamps, dtype=np.int64),
                                                    unit="ms", utc=True))
        return frame

    def orderbook(self, category: str, symbol: str, limit: int = 50) -> pd.DataFrame:
        """One L2 snapshot in BOOK_SCHEMA columns: ``timestamp`` (``ts``), ``side`` (+1 bid,
        -1 ask), ``level`` (0 best), ``price``, ``size``, ``update_id`` (``u``)."""
        path = "/v5/market/orderbook"
        category = _category(category, _ALL_CATEGORIES)
        symbol = _symbol(symbol)
        limit = _limit(limit, 1, _BOOK_LIMITS[category], f"{path} category {category!r}")
        res = self.get(path, {"category": category, "symbol": symbol, "limit": limit})
        try:
            ts = int(res["ts"])
            uid = int(res.get("u", -1))
            sides = [(1, res["b"]), (-1, res["a"])]
        except (KeyError, TypeError, ValueError):
            raise FetchError(f"bybit {path}: malformed reply: needs ts, u, b, a; "
                             f"got keys {sorted(res)}") from None
        recs = []
        for side, levels in sides:
            for level, pair in enumerate(levels or []):
                recs.append((side, level, _float(pair[0], "price", path),
                             _float(pair[1], "size", path)))
        if not recs:
            return _empty(BOOK_SCHEMA)
        frame = pd.DataFrame(recs, columns=["side", "level", "price", "size"])
        frame.insert(0, "timestamp", pd.Timestamp(ts, unit="ms", tz="UTC"))
        frame["side"] = frame["side"].astype("int8")
        frame["level"] = frame["level"].astype("int16")
        frame["update_id"] = np.int64(uid)
        return frame[BOOK_SCHEMA.names]

    def recent_trades(self, category: str, symbol: str, limit: int | None = None) \
            -> pd.DataFrame:
        """The latest public trades in TRADE_SCHEMA columns, ascending by time: ``side`` +1
        Buy / -1 Sell (the taker's), ``trade_id`` from ``execId``. ``limit``: spot 1..60
        (default 60), others 1..1000 (default 500)."""
        path = "/v5/market/recent-trade"
        category = _category(category, _ALL_CATEGORIES)
        symbol = _symbol(symbol)
        high, default = _TRADE_LIMITS[category]
        limit = _limit(default if limit is None else limit, 1, high,
                       f"{path} category {category!r}")
        res = self.get(path, {"category": category, "symbol": symbol, "limit": limit})
        page = res.get("list")
        if not isinstance(page, list):
            raise FetchError(f"bybit {path}: malformed reply: result.list is not a list")
        if not page:
            return _empty(TRADE_SCHEMA)
        try:
            frame = pd.DataFrame({
                "timestamp": pd.to_datetime(np.array([int(t["time"]) for t in page],
                                                     dtype=np.int64), unit="ms", utc=True),
                "price": [_float(t["price"], "price", path) for t in page],
                "size": [_float(t["size"], "size", path) for t in page],
                "side": np.array([{"Buy": 1, "Sell": -1}.get(t.get("side"), 0) for t in page],
                                 dtype=np.int8),
                "trade_id": [str(t.get("execId", "")) for t in page],
            })
        except (KeyError, TypeError, ValueError):
            raise FetchError(f"bybit {path}: malformed reply: a trade lacks time, price or "
                             "size") from None
        return frame.sort_values("timestamp", kind="mergesort").reset_index(drop=True)

    def instruments(self, category: str, symbol: str | None = None) -> pd.DataFrame:
        """Instrument specs in INSTRUMENT_SCHEMA columns, every page (``nextPageCursor``;
        spot has one). ``tick_size`` is ``priceFilter.tickSize``; ``lot_size`` is
        ``lotSizeFilter.qtyStep`` (``basePrecision`` on spot); ``funding_interval_min`` is
        ``fundingInterval`` (0 when absent)."""
        path = "/v5/market/instruments-info"
        category = _category(category, _ALL_CATEGORIES)
        params = {"category": category, "symbol": None if symbol is None else _symbol(symbol)}
        if category != "spot":
            params["limit"] = 1000
        entries: list[dict] = []
        seen: set[str] = set()
        while True:
            res = self.get(path, params)
            page = res.get("list")
            if not isinstance(page, list):
                raise FetchError(f"bybit {path}: malformed reply: result.list is not a list")
            entries.extend(page)
            cursor = res.get("nextPageCursor") or ""
            if category == "spot" or not cursor or not page or cursor in seen:
                break
            seen.add(cursor)
            params["cursor"] = cursor
        recs = []
        for e in entries:
            lot = e.get("lotSizeFilter") or {}
            step = lot.get("qtyStep") if category != "spot" else lot.get("basePrecision")
            step = step if step is not None else lot.get("basePrecision", lot.get("qtyStep"))
            recs.append({
                "symbol": str(e.get("symbol", "")), "category": category,
                "status": str(e.get("status", "")), "base_coin": str(e.get("baseCoin", "")),
                "quote_coin": str(e.get("quoteCoin", "")),
                "tick_size": _float((e.get("priceFilter") or {}).get("tickSize", "nan"),
                                    "tickSize", path),
                "lot_size": _float(step if step is not None else "nan", "lot size", path),
                "min_order_qty": _float(lot.get("minOrderQty", "nan"), "minOrderQty", path),
                "funding_interval_min": int(_float(e.get("fundingInterval") or 0,
                                                   "fundingInterval", path)),
            })
        if not recs:
            return _empty(INSTRUMENT_SCHEMA)
        frame = pd.DataFrame(recs, columns=INSTRUMENT_SCHEMA.names)
        frame["funding_interval_min"] = frame["funding_interval_min"].astype(np.int64)
        return frame.drop_duplicates("symbol", keep="last").reset_index(drop=True)

    def last_close(self, category: str, symbol: str, interval="1") -> float:
        """The close of the latest bar (the current one, still forming) of ``interval``."""
        path = "/v5/market/kline"
        res = self.get(path, {"category": _category(category), "symbol": _symbol(symbol),
                              "interval": _interval(interval), "limit": 1})
        page = res.get("list")
        if not isinstance(page, list) or not page:
            raise FetchError(f"bybit {path}: no kline for {symbol!r} ({category}); "
                             "cannot take a reference price")
        return _float(page[0][4], "close", path)


# ------------------------------------------------------------------ gaps
def gaps(frame: pd.DataFrame, start_ms: int, end_ms: int, interval) -> list[tuple[int, int]]:
    """Missing bars of ``frame`` (a kline frame) in ``[start_ms, end_ms)``, as merged
    ``(first_missing_open, last_missing_open + bar)`` ms ranges; bars are expected at the
    multiples of the bar's length (minute intervals and D). Nothing is filled."""
    start, end = _range(start_ms, end_ms)
    iv = _interval(interval)
    step = interval_ms(iv)
    if step is None or iv == "W":
        raise DataError(f"interval {iv!r}: gaps are computed for minute intervals and D only")
    expected = np.arange(-(-start // step) * step, end, step, dtype=np.int64)
    have = stamps_ms(frame)
    missing = expected[~np.isin(expected, have)]
    out: list[tuple[int, int]] = []
    for t in missing.tolist():
        if out and out[-1][1] == t:
            out[-1] = (out[-1][0], t + step)
        else:
            out.append((t, t + step))
    return out


# ------------------------------------------------------------------ store functions
def _chunks(a: int, b: int, step: int | None) -> list[tuple[int, int]]:
    width = CHUNK_BARS * step if step else b - a
    return [(t, min(b, t + width)) for t in range(a, b, width)]


def _bars_in(a: int, b: int, step: int | None) -> int:
    if step is None:
        return max(1, math.ceil((b - a) / (30 * _DAY)))
    return max(0, -(-b // step) - (-(-a // step)))


def _forming_open(interval: str, now_ms: int) -> int:
    """The open (ms) of the bar of ``interval`` that is forming at ``now_ms``: weekly bars
    open on Mondays 00:00 UTC, monthly ones on the 1st."""
    if interval == "M":
        stamp = pd.Timestamp(now_ms, unit="ms", tz="UTC")
        return int(pd.Timestamp(year=stamp.year, month=stamp.month, day=1, tz="UTC").value
                   // 1_000_000)
    step = interval_ms(interval)
    offset = 4 * _DAY if interval == "W" else 0  # 1970-01-01 was a Thursday
    return (now_ms - offset) // step * step + offset


def fetch_klines_to_store(client: BybitClient, root, category: str, symbol: str, interval,
                          start_ms: int, end_ms: int,
                          progress: Callable[[int, int], None] | None = None,
                          now: Callable[[], float] = time.time) -> dict:
    """Fetch the bars of ``[start_ms, end_ms)`` that the store lacks into
    ``klines_path(root, category, symbol, interval)``.

    Only closed bars are fetched: ``end_ms`` is cut to the open of the bar forming at
    ``now()`` (epoch seconds), so a bar still forming, or one not yet begun, is never stored
    or marked as covered.

    Only the ranges the file's coverage lacks are asked for, in chunks of ``CHUNK_BARS`` bars,
    each committed (rows and coverage together) in one atomic write: an interrupt between
    chunks leaves whole chunks only. ``progress(n_bars_done, n_bars_total)`` is called before
    the first chunk and after each one (counts of bar slots). Returns ``{"path", "bars_added",
    "bars", "gaps"}``: ``gaps`` lists ``[start_ms, end_ms)`` ranges of bars missing from the
    stored file inside the requested range (empty for W and M)."""
    category, symbol, interval = _category(category), _symbol(symbol), _interval(interval)
    start, end = _range(start_ms, end_ms)
    path = klines_path(root, category, symbol, interval)
    _, covered = read_table(path)
    step = interval_ms(interval)
    forming = _forming_open(interval, int(now() * 1000))
    if end > forming:
        log.info("bybit klines %s %s %s: end %d cut to %d, the open of the bar still forming",
                 category, symbol, interval, end, forming)
        end = max(start, forming)
    chunks = [c for a, b in missing_ranges(covered, start, end) for c in _chunks(a, b, step)]
    total = sum(_bars_in(a, b, step) for a, b in chunks)
    done = added = 0
    log.info("bybit klines %s %s %s: %d chunk(s) to fetch (~%d bars)", category, symbol,
             interval, len(chunks), total)
    if progress is not None:
        progress(0, total)
    for a, b in chunks:
        frame = client.klines(category, symbol, interval, a, b)
        added += merge_into(path, "klines", frame, [[a, b]])
        done += _bars_in(a, b, step)
        if progress is not None:
            progress(done, total)
    stored, _ = read_table(path)
    if len(stored):
        ts = stamps_ms(stored)
        inside = stored[(ts >= start) & (ts < end)]
    else:
        inside = stored
    holes = [] if step is None or interval == "W" or end <= start else \
        [list(g) for g in gaps(inside, start, end, interval)]
    return {"path": str(path), "bars_added": int(added), "bars": int(len(stored)),
            "gaps": holes}


def fetch_instruments_to_store(client: BybitClient, root, category: str) -> dict:
    """Every instrument of ``category`` into ``instruments_path(root, "bybit", category)``;
    returns ``{"path", "instruments"}``."""
    frame = client.instruments(category)
    path = instruments_path(root, "bybit", category)
    merge_into(path, "instruments", frame, [])
    return {"path": str(path), "instruments": int(len(frame))}


def poll_orderbook_to_store(client: BybitClient, root, category: str, symbol: str, depth: int,
                            every_s: float, duration_s: float,
                            progress: Callable[[int, int], None] | None = None,
                            clock: Callable[[], float] = time.monotonic,
                            sleep: Callable[[float], None] = time.sleep,
                            flush_every: int = 1) -> dict:
    """Poll the order book every ``every_s`` seconds for ``duration_s`` seconds into
    ``orderbook_path(root, category, symbol, day)`` (one file a UTC day of the snapshot's
    ``ts``), merged every ``flush_every`` polls and whatever ends the loop (an error, Ctrl-C).
    Polls happen at 0, ``every_s``, ... while before ``duration_s``. ``progress(n, total)``
    after each poll. Returns ``{"snapshots", "paths", "path"}`` (``path`` the last written)."""
    category = _category(category, _ALL_CATEGORIES)
    symbol = _symbol(symbol)
    if not every_s > 0 or not duration_s >= 0 or flush_every < 1:
        raise DataError(f"every_s={every_s!r}, duration_s={duration_s!r}, flush_every="
                        f"{flush_every!r}: expected every_s > 0, duration_s >= 0, flush_every >= 1")
    total = max(1, math.ceil(duration_s / every_s)) if duration_s > 0 else 1
    pending: dict[str, list[pd.DataFrame]] = {}
    first: dict[str, int] = {}  # the first snapshot's ms of each day: coverage is the span
    written: list[str] = []
    count = 0

    def flush() -> None:
        for day, frames in sorted(pending.items()):
            frame = pd.concat(frames, ignore_index=True)
            ts = stamps_ms(frame)
            path = orderbook_path(root, category, symbol, day)
            first.setdefault(day, int(ts.min()))
            merge_into(path, "orderbook", frame, [[first[day], int(ts.max()) + 1]])
            if str(path) not in written:
                written.append(str(path))
        pending.clear()

    t0 = clock()
    try:
        while True:
            snap = client.orderbook(category, symbol, depth)
            count += 1
            if len(snap):
                day = snap["timestamp"].iloc[0].strftime("%Y-%m-%d")
                pending.setdefault(day, []).append(snap)
            if count % flush_every == 0:
                flush()
            if progress is not None:
                progress(count, total)
            due = t0 + count * every_s
            if due - t0 >= duration_s:
                break
            wait = due - clock()
            if wait > 0:
                sleep(wait)
    finally:
        flush()
    return {"snapshots": count, "paths": written, "path": written[-1] if written else None}


def instrument_market_section(client: BybitClient, category: str, symbol: str) -> dict:
    """``{"symbol", "tick_size", "lot_size", "reference_price"}`` for a scenario's ``market:``
    section: tick and lot from instruments-info, the price the close of the latest 1-minute
    kline."""
    category, symbol = _category(category), _symbol(symbol)
    specs = client.instruments(category, symbol)
    specs = specs[specs["symbol"] == symbol]
    if not len(specs):
        raise DataError(f"symbol {symbol!r} is not listed by Bybit for category {category!r}")
    row = specs.iloc[0]
    return {"symbol": symbol, "tick_size": float(row["tick_size"]),
            "lot_size": float(row["lot_size"]),
            "reference_price": client.last_close(category, symbol, "1")}


def _yaml_float(x: float) -> str:
    return np.format_float_positional(float(x), trim="0")


def market_section_yaml(section: dict) -> str:
    """The YAML text of a scenario's ``market:`` section from
    :func:`instrument_market_section`'s dict (plain decimals, never exponents)."""
    return ("market:\n"
            f"  symbol: {section['symbol']}\n"
            f"  tick_size: {_yaml_float(section['tick_size'])}\n"
            f"  lot_size: {_yaml_float(section['lot_size'])}\n"
            f"  reference_price: {_yaml_float(section['reference_price'])}\n")

