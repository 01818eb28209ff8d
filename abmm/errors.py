"""Exceptions raised by abmm.

Every error about an input names the field, the value and what was expected, and is raised
*before* anything changes: the book (or model) is left exactly as it was.

Hierarchy::

    AbmmError
    ├── OrderError                (field, value, expected)
    │   ├── InvalidTypeError      (also a TypeError)      wrong Python type: 1.5, "10", None, True
    │   ├── ValueOverflowError    (also an OverflowError) does not fit a signed 64-bit integer
    │   └── InvalidValueError     (also a ValueError)
    │       ├── InvalidSideError
    │       ├── InvalidPriceError
    │       │   └── OffTickError
    │       ├── InvalidQuantityError
    │       └── InvalidTimestampError
    ├── UnknownOrderError         (also a KeyError)  the order id was never issued
    ├── OrderNotLiveError         the order id is finished (filled, cancelled, ...)
    ├── UnknownSymbolError        (also a KeyError)
    ├── CorruptStateError         (also a ValueError) a saved state (pickle, checkpoint) is damaged
    └── DataError                 a real-data file, store or service answered something unusable
        └── FetchError            a data service failed (banned, retries exhausted): a runtime
                                  fault (``fault = True``: the CLI exits 1, not 2)
"""

from __future__ import annotations

__all__ = [
    "AbmmError",
    "OrderError",
    "InvalidTypeError",
    "ValueOverflowError",
    "InvalidValueError",
    "InvalidSideError",
    "InvalidPriceError",
    "OffTickError",
    "InvalidQuantityError",
    "InvalidTimestampError",
    "UnknownOrderError",
    "OrderNotLiveError",
    "UnknownSymbolError",
    "CorruptStateError",
    "DataError",
    "FetchError",
]


def _rebuild_error(cls, args, state):
    """Unpickle an ``AbmmError`` without calling its ``__init__`` (see ``__reduce__``)."""
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class AbmmError(Exception):
    """Base class of every exception abmm raises on purpose.

    Picklable whatever a subclass's ``__init__`` takes (errors cross process pools: sweeps,
    benchmarks, vector envs): the message and attributes are restored as they were."""

    def __reduce__(self):
        return (_rebuild_error, (type(self), self.args, dict(self.__dict__)))


class OrderError(AbmmError):
    """An order or request field has a bad value. Attributes: ``field``, ``value``, ``expected``."""

    def __init__(self, field: str, value: object, expected: str, index: int | None = None):
        self.field = field
        self.value = value
        self.expected = expected
        self.index = index
        where = f"message {index}: " if index is not None else ""
        super().__init__(f"{where}invalid {field}={value!r}: expected {expected}")

    def __str__(self) -> str:  # KeyError-style quoting must not leak in through subclasses
        return self.args[0]

    def __reduce__(self):
        return (type(self), (self.field, self.value, self.expected, self.index))


class InvalidTypeError(OrderError, TypeError):
    """A field has the wrong Python type (prices, sizes, ids and times are ``int``)."""


class ValueOverflowError(OrderError, OverflowError):
    """A value does not fit in a signed 64-bit integer."""


class InvalidValueError(OrderError, ValueError):
    """A field has a value outside its domain."""


class InvalidSideError(InvalidValueError):
    """Side is not 0 (buy) or 1 (sell)."""


class InvalidPriceError(InvalidValueError):
    """Price is not positive, too large, or given where none is allowed."""


class OffTickError(InvalidPriceError):
    """Price is not a multiple of the book's tick."""


class InvalidQuantityError(InvalidValueError):
    """Quantity (or display size) is zero, negative or too large."""


class InvalidTimestampError(InvalidValueError):
    """Timestamp is negative or earlier than the book's clock."""


class UnknownOrderError(AbmmError, KeyError):
    """An order id that this book never issued."""

    def __init__(self, order_id: object, index: int | None = None):
        self.order_id = order_id
        self.index = index
        where = f"message {index}: " if index is not None else ""
        super().__init__(f"{where}unknown order id {order_id!r}: no order with this id was issued")

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self):
        return (type(self), (self.order_id, self.index))


class OrderNotLiveError(AbmmError):
    """An order id that is finished (filled, cancelled, expired or rejected)."""

    def __init__(self, order_id: object, status: object, index: int | None = None):
        self.order_id = order_id
        self.status = status
        self.index = index
        where = f"message {index}: " if index is not None else ""
        name = getattr(status, "name", status)
        super().__init__(f"{where}order {order_id!r} is not live: its status is {name}")

    def __reduce__(self):
        return (type(self), (self.order_id, self.status, self.index))


class UnknownSymbolError(AbmmError, KeyError):
    """A symbol the exchange does not list."""

    def __init__(self, symbol: object, known: tuple = ()):
        self.symbol = symbol
        self.known = tuple(known)
        super().__init__(f"unknown symbol {symbol!r}: expected one of {list(self.known)}")

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self):
        return (type(self), (self.symbol, self.known))


class CorruptStateError(AbmmError, ValueError):
    """A saved state (a pickled book, a checkpoint) is damaged or inconsistent."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(f"corrupt saved state: {detail}")


class DataError(AbmmError):
    """A real-data input is unusable: a file in an unknown layout, a store file that is not
    abmm's, a service reply that names a bad parameter. The message says what, where and what
    was expected."""

    fault = False


class FetchError(DataError):
    """A data service failed for reasons outside the request: the IP is banned (HTTP 403),
    retries were exhausted, the reply was malformed. A runtime fault (the CLI exits 1)."""

    fault = True
