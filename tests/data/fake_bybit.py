"""A fake Bybit V5 public market server on 127.0.0.1 (responses shaped as Bybit's docs say).

``FakeBybit`` serves /v5/market/kline, orderbook, recent-trade and instruments-info from data the
test sets, records every request, and plays scripted faults first: ``fake.script(path, *actions)``
queues actions for a path, each one of

- ``("json", status, body, headers)``: that reply;
- ``("code", retCode, retMsg, headers)``: an HTTP 200 error envelope;
- ``("raw", status, bytes)``: those bytes as ``application/json``;
- ``("slow", seconds)``: wait, then answer normally;
- ``("truncate",)``: announce a longer body than is sent, then close.

``fake.fail_after = n`` makes every request after the n-th (of all paths) answer retCode 10016.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

MINUTE = 60_000
_IV = {str(m): m * MINUTE for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)}
_IV["D"] = 1440 * MINUTE


def envelope(result, code=0, msg="OK"):
    """A V5 reply envelope."""
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {},
            "time": int(time.time() * 1000)}


def kline_row(ts: int, price: float) -> list[str]:
    """A kline row as Bybit sends it: seven strings."""
    return [str(ts), f"{price}", f"{price + 2}", f"{price - 1}", f"{price + 1}", "10.5",
            f"{10.5 * price}"]


def linear_instrument(symbol, tick="0.10", step="0.001", funding=480):
    """A linear instruments-info entry."""
    entry = {"symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading",
             "baseCoin": symbol[:-4], "quoteCoin": "USDT", "launchTime": "1585526400000",
             "priceScale": "2",
             "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": tick},
             "lotSizeFilter": {"minOrderQty": step, "maxOrderQty": "1190.000",
                               "maxMktOrderQty": "500.000", "qtyStep": step,
                               "minNotionalValue": "5", "postOnlyMaxOrderQty": "1190.000"},
             "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00",
                                "leverageStep": "0.01"},
             "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375"}
    if funding is not None:
        entry["fundingInterval"] = funding
    return entry


def spot_instrument(symbol, tick="0.01", base_precision="0.000001"):
    """A spot instruments-info entry."""
    return {"symbol": symbol, "baseCoin": symbol[:-4], "quoteCoin": "USDT", "status": "Trading",
            "priceFilter": {"tickSize": tick},
            "lotSizeFilter": {"basePrecision": base_precision, "quotePrecision": "0.00000001",
                              "minOrderQty": "0.000048", "maxOrderQty": "71.73956243",
                              "minOrderAmt": "1", "maxOrderAmt": "2000000"}}


class FakeBybit:
    """The fake server's state; ``url`` once started."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.klines: dict[tuple[str, str, str], dict[int, list[str]]] = {}
        self.instrument_list: dict[str, list[dict]] = {}
        self.instrument_page = 2  #: entries per instruments-info page (non-spot)
        self.books: dict[tuple[str, str], dict] = {}
        self.trades: dict[tuple[str, str], list[dict]] = {}
        self.symbols: set[str] = set()  #: symbols that exist; others answer 10029
        self.kline_overlap = 0  #: bars newer than `end` that each kline page adds
        self.fail_after: int | None = None
        self._script: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    # ---------------------------------------------------------------- set-up
    def add_klines(self, category, symbol, interval, stamps, price=100.0):
        """Bars opening at ``stamps`` (ms)."""
        book = self.klines.setdefault((category, symbol, str(interval)), {})
        for i, ts in enumerate(stamps):
            book[int(ts)] = kline_row(int(ts), price + i)
        self.symbols.add(symbol)

    def script(self, path, *actions):
        """Queue faults for ``path``, played before normal answers."""
        self._script[path].extend(actions)

    def count(self, path=None):
        """Requests received (for ``path``)."""
        return sum(1 for p, _ in self.requests if path is None or p == path)

    # ---------------------------------------------------------------- server
    def start(self):
        """Serve on 127.0.0.1, a free port, in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients that time out and go away

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        return self

    def stop(self):
        """Shut the server down."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ---------------------------------------------------------------- replies
    @staticmethod
    def _send(h, status, body: bytes, headers=None, length=None):
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            h.send_header(k, str(v))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()

    def _json(self, h, obj, status=200, headers=None):
        self._send(h, status, json.dumps(obj).encode(), headers)

    def _handle(self, h):
        url = urlparse(h.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append((url.path, params))
            n = len(self.requests)
            action = self._script[url.path].popleft() if self._script[url.path] else None
        if action is not None:
            kind = action[0]
            if kind == "json":
                _, status, body, *rest = action
                return self._json(h, body, status, rest[0] if rest else None)
            if kind == "code":
                _, code, msg, *rest = action
                return self._json(h, envelope({}, code, msg), 200, rest[0] if rest else None)
            if kind == "raw":
                return self._send(h, action[1], action[2])
            if kind == "truncate":
                self._send(h, 200, b'{"retCode":0,"retMsg":"OK","res', length=4096)
                h.close_connection = True
                return None
            if kind == "slow":
                time.sleep(action[1])
        if self.fail_after is not None and n > self.fail_after:
            return self._json(h, envelope({}, 10016, "Internal server error."))
        route = {"/v5/market/kline": self._kline, "/v5/market/orderbook": self._orderbook,
                 "/v5/market/recent-trade": self._trades,
                 "/v5/market/instruments-info": self._instruments}.get(url.path)
        if route is None:
            return self._send(h, 404, b"404 page not found")
        try:
            self._json(h, route(params))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _symbol_error(self, params):
        if params.get("symbol") not in self.symbols:
            return envelope({}, 10029, "The requested symbol is invalid.")
        return None

    def _kline(self, p):
        err = self._symbol_error(p)
        if err:
            return err
        category = p.get("category", "linear")
        interval = p["interval"]
        rows = self.klines.get((category, p["symbol"], interval), {})
        limit = int(p.get("limit", 200))
        start = int(p.get("start", 0))
        end = int(p.get("end", 2**62)) + self.kline_overlap * _IV.get(interval, MINUTE)
        picked = sorted((t for t in rows if start <= t <= end), reverse=True)[:limit]
        return envelope({"category": category, "symbol": p["symbol"],
                         "list": [rows[t] for t in picked]})

    def _orderbook(self, p):
        err = self._symbol_error(p)
        if err:
            return err
        book = self.books[(p["category"], p["symbol"])]
        limit = int(p.get("limit", 1))
        return envelope({**book, "b": book["b"][:limit], "a": book["a"][:limit]})

    def _trades(self, p):
        err = self._symbol_error(p)
        if err:
            return err
        rows = self.trades[(p["category"], p["symbol"])][:int(p.get("limit", 60))]
        return envelope({"category": p["category"], "list": rows})

    def _instruments(self, p):
        category = p["category"]
        entries = self.instrument_list.get(category, [])
        if "symbol" in p:
            entries = [e for e in entries if e["symbol"] == p["symbol"]]
        if category == "spot":
            return envelope({"category": category, "list": entries, "nextPageCursor": ""})
        offset = int(p.get("cursor") or 0)
        size = min(int(p.get("limit", 500)), self.instrument_page)
        page = entries[offset:offset + size]
        nxt = str(offset + size) if offset + size < len(entries) else ""
        return envelope({"category": category, "list": page, "nextPageCursor": nxt})


@pytest.fixture
def fake_bybit():
    """A started ``FakeBybit``; stopped after the test."""
    fake = FakeBybit().start()
    yield fake
    fake.stop()
