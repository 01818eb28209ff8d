"""The matching engine's Python face.

``OrderBook`` is the compiled book (``abmm.engine._cbook``, built from ``cython_ext/``) when the
extension is importable, else the pure-Python reference (``abmm.engine.reference``) with a logged
warning. ``ABMM_PURE_PYTHON=1`` forces the reference. Both have the same API and semantics;
``ENGINE`` says which one is in use. ``Exchange`` routes several symbols to one book each.
"""

from __future__ import annotations

import logging
import os

from abmm.engine.reference import EventSink as PyEventSink
from abmm.engine.reference import OrderBook as PyOrderBook
from abmm.engine.types import (
    EVENT_DTYPE,
    MAX_OWNER,
    MAX_PRICE,
    MAX_QTY,
    MSG_DTYPE,
    ORDER_DTYPE,
    Action,
    EventKind,
    OrderStatus,
    OrderType,
    Reason,
    SelfTrade,
    Side,
    make_messages,
)

log = logging.getLogger(__name__)

#: ``ABMM_PURE_PYTHON=1``: the pure-Python engine, event queue and agent helpers (every compiled
#: piece of abmm checks this one flag)
PURE_PYTHON = os.environ.get("ABMM_PURE_PYTHON", "") not in ("", "0")

CompiledOrderBook = None
CompiledEventSink = None
_import_error: Exception | None = None
if PURE_PYTHON:
    _import_error = RuntimeError("ABMM_PURE_PYTHON is set")
    log.warning("abmm: ABMM_PURE_PYTHON is set; using the pure-Python engine")
else:
    try:
        from abmm.engine._cbook import EventSink as CompiledEventSink  # type: ignore[no-redef]
        from abmm.engine._cbook import OrderBook as CompiledOrderBook  # type: ignore[no-redef]
    except ImportError as exc:  # the extension did not build: fall back, loudly
        _import_error = exc
        log.warning("abmm: compiled engine unavailable (%s); using the pure-Python engine "
                    "(about 15x slower)", exc)

OrderBook = CompiledOrderBook if CompiledOrderBook is not None else PyOrderBook
#: The run's event-log buffer that goes with ``OrderBook`` (``OrderBook.attach_log``).
EventSink = CompiledEventSink if CompiledOrderBook is not None else PyEventSink
#: "compiled" or "python": which engine ``OrderBook`` is.
ENGINE = OrderBook.engine

from abmm.engine.exchange import Exchange, SymbolSpec  # noqa: E402

__all__ = [
    "OrderBook",
    "PyOrderBook",
    "CompiledOrderBook",
    "EventSink",
    "PyEventSink",
    "CompiledEventSink",
    "ENGINE",
    "Exchange",
    "SymbolSpec",
    "Side",
    "OrderType",
    "Action",
    "SelfTrade",
    "EventKind",
    "Reason",
    "OrderStatus",
    "MSG_DTYPE",
    "EVENT_DTYPE",
    "ORDER_DTYPE",
    "MAX_PRICE",
    "MAX_QTY",
    "MAX_OWNER",
    "make_messages",
]
