"""Input checks shared by the pure-Python engine (the compiled engine mirrors them in C and the
differential tests demand the same exception class and message from both).

Order of checks, for every request: Python types first (field by field), then values in the
order ``order_type, side, price, qty, display, owner, stp, ts`` (cancel: ``qty, ts``; modify:
``price, qty, ts``), then the state of the target order id.
"""

from __future__ import annotations

import numpy as np

from abmm.engine.types import MAX_OWNER, MAX_PRICE, MAX_QTY
from abmm.errors import (
    InvalidPriceError,
    InvalidQuantityError,
    InvalidSideError,
    InvalidTimestampError,
    InvalidTypeError,
    InvalidValueError,
    OffTickError,
    ValueOverflowError,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Messages are module constants so both engines word them identically.
EXPECT_INT = "an int"
EXPECT_INT64 = "an integer that fits in int64"
EXPECT_ORDER_TYPE = "one of 0..4 (LIMIT, MARKET, IOC, FOK, POST_ONLY)"
EXPECT_SIDE = "0 (buy) or 1 (sell)"
EXPECT_MARKET_PRICE = "0 (or None) for a market order"
EXPECT_PRICE = f"a positive integer number of ticks <= {MAX_PRICE}"
EXPECT_QTY = f"a positive integer number of lots <= {MAX_QTY}"
EXPECT_REDUCE = f"0 (cancel all) or a positive number of lots to cancel <= {MAX_QTY}"
EXPECT_DISPLAY = f"0 (not an iceberg) or a positive display size <= {MAX_QTY}"
EXPECT_DISPLAY_TYPE = "0 for MARKET, IOC and FOK orders (only LIMIT and POST_ONLY can be icebergs)"
EXPECT_OWNER = f"a non-negative owner id <= {MAX_OWNER}"
EXPECT_STP = "one of 0..3 (NONE, CANCEL_RESTING, CANCEL_INCOMING, CANCEL_BOTH)"
EXPECT_TS = "a non-negative integer number of nanoseconds"
EXPECT_ACTION = "one of 0..2 (SUBMIT, CANCEL, MODIFY)"


def expect_tick(tick: int) -> str:
    return f"a multiple of the tick ({tick})"


def expect_clock(clock: int) -> str:
    return f">= {clock}, the book's clock (time never goes backwards)"


def as_int(value, field: str, index=None) -> int:
    """``value`` as a Python int, or raise: bools, floats, strings and None are wrong types."""
    if type(value) is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise ValueOverflowError(field, value, EXPECT_INT64, index)
    if isinstance(value, np.integer) and not isinstance(value, np.bool_):
        return as_int(int(value), field, index)
    if isinstance(value, int) and not isinstance(value, bool):  # IntEnum and other subclasses
        return as_int(int(value), field, index)
    raise InvalidTypeError(field, value, EXPECT_INT, index)


def check_submit(tick, clock, otype, side, price, qty, display, owner, stp, ts, index=None):
    """Raise the first problem with a new order's (already integer) fields."""
    if not 0 <= otype <= 4:
        raise InvalidValueError("order_type", otype, EXPECT_ORDER_TYPE, index)
    if side != 0 and side != 1:
        raise InvalidSideError("side", side, EXPECT_SIDE, index)
    if otype == 1:
        if price != 0:
            raise InvalidPriceError("price", price, EXPECT_MARKET_PRICE, index)
    else:
        check_price(tick, price, index)
    if not 1 <= qty <= MAX_QTY:
        raise InvalidQuantityError("qty", qty, EXPECT_QTY, index)
    if not 0 <= display <= MAX_QTY:
        raise InvalidQuantityError("display", display, EXPECT_DISPLAY, index)
    if display and otype != 0 and otype != 4:
        raise InvalidQuantityError("display", display, EXPECT_DISPLAY_TYPE, index)
    if not 0 <= owner <= MAX_OWNER:
        raise InvalidValueError("owner", owner, EXPECT_OWNER, index)
    if not 0 <= stp <= 3:
        raise InvalidValueError("stp", stp, EXPECT_STP, index)
    check_ts(clock, ts, index)


def check_price(tick, price, index=None):
    if not 1 <= price <= MAX_PRICE:
        raise InvalidPriceError("price", price, EXPECT_PRICE, index)
    if price % tick:
        raise OffTickError("price", price, expect_tick(tick), index)


def check_ts(clock, ts, index=None):
    if ts < 0:
        raise InvalidTimestampError("ts", ts, EXPECT_TS, index)
    if ts < clock:
        raise InvalidTimestampError("ts", ts, expect_clock(clock), index)


def check_cancel(clock, qty, ts, index=None):
    if not 0 <= qty <= MAX_QTY:
        raise InvalidQuantityError("qty", qty, EXPECT_REDUCE, index)
    check_ts(clock, ts, index)


def check_modify(tick, clock, price, qty, ts, index=None):
    check_price(tick, price, index)
    if not 1 <= qty <= MAX_QTY:
        raise InvalidQuantityError("qty", qty, EXPECT_QTY, index)
    check_ts(clock, ts, index)


def check_message(tick, clock, m, index):
    """Check one batch message (a ``MSG_DTYPE`` record as a tuple of ints)."""
    ts, oid, owner, price, qty, display, action, side, otype, stp = m
    if action == 0:
        check_submit(tick, clock, otype, side, price, qty, display, owner, stp, ts, index)
    elif action == 1:
        check_cancel(clock, qty, ts, index)
        if not 0 <= owner <= MAX_OWNER:  # echoed in a REJECTED event
            raise InvalidValueError("owner", owner, EXPECT_OWNER, index)
    elif action == 2:
        check_modify(tick, clock, price, qty, ts, index)
        if not 0 <= owner <= MAX_OWNER:
            raise InvalidValueError("owner", owner, EXPECT_OWNER, index)
    else:
        raise InvalidValueError("action", action, EXPECT_ACTION, index)


def check_batch_array(arr, dtype, name: str = "msgs") -> None:
    """A batch argument must be a plain 1-d numpy array of ``dtype``: anything else raises
    ``InvalidTypeError`` saying what it got (type, dtype, shape). A masked array is refused --
    its mask would be ignored by the compiled engine -- with what to do instead."""
    if isinstance(arr, np.ma.MaskedArray):
        raise InvalidTypeError(name, f"a masked array (shape {arr.shape})",
                               "a plain 1-d numpy array of MSG_DTYPE; fill "
                               "or drop the masked rows first (np.ma.compress_rows, .filled())")
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 1:
        if isinstance(arr, np.ndarray):
            kind = "MSG_DTYPE" if arr.dtype == dtype else arr.dtype
            got = f"{type(arr).__name__} of dtype {kind} and shape {arr.shape}"
        else:
            got = type(arr).__name__
        raise InvalidTypeError(name, got, "a 1-d numpy array of MSG_DTYPE")
