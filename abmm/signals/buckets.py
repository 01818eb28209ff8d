"""Time buckets shared by the per-bucket signals (vectorized and streaming).

Bucket ``b`` is the half-open interval ``[origin + b*bucket_ns, origin + (b+1)*bucket_ns)``; an
observation at ``ts`` is in bucket ``(ts - origin) // bucket_ns``. With the default ``origin=0``
(midnight, since times are ns since midnight of the first day) 1-second buckets fall on whole
seconds of the clock.

The buckets reported run contiguously (empty buckets included) from the first to the last bucket:

* first: the bucket of ``start`` when given, else the bucket of the first observation;
* last: the bucket of ``end - 1`` when ``end`` is given (``end`` is exclusive), else the bucket of
  the last observation (or the first bucket when no observation falls in range).

Observations in buckets before the first or after the last are left out of the buckets (a
signal's own state, e.g. the previous book for OFI, still sees them). Timestamps must not
decrease.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Buckets", "bucket_index"]


class Buckets(NamedTuple):
    """A per-bucket series: ``start`` (int64 ns, bucket start times) and ``value``."""

    start: np.ndarray
    value: np.ndarray


def _check_bucket_ns(bucket_ns) -> int:
    bucket_ns = int(bucket_ns)
    if bucket_ns <= 0:
        raise ValueError(f"bucket length must be a positive number of ns, got {bucket_ns}")
    return bucket_ns


def bucket_index(ts, bucket_ns: int, origin: int = 0) -> np.ndarray:
    """``(ts - origin) // bucket_ns`` as int64: the bucket of each timestamp."""
    bucket_ns = _check_bucket_ns(bucket_ns)
    return (np.asarray(ts, np.int64) - np.int64(origin)) // np.int64(bucket_ns)


def assign(ts, bucket_ns: int, origin: int = 0, start=None, end=None):
    """Vectorized bucketing: ``(starts, idx, keep)`` -- the start time of every reported bucket,
    the position of each kept observation's bucket among them, and the mask of kept
    observations (see the module docstring for the range)."""
    bucket_ns = _check_bucket_ns(bucket_ns)
    b = bucket_index(ts, bucket_ns, origin)
    keep = np.ones(len(b), bool)
    first = None if start is None else (int(start) - origin) // bucket_ns
    last = None if end is None else (int(end) - 1 - origin) // bucket_ns
    if first is not None:
        keep &= b >= first
    if last is not None:
        keep &= b <= last
    kept = b[keep]
    if len(kept) and np.any(np.diff(kept) < 0):
        raise ValueError("timestamps must not decrease")
    if first is None:
        if not len(kept):
            return np.zeros(0, np.int64), np.zeros(0, np.int64), keep
        first = int(kept[0])
    if last is None:
        last = int(kept[-1]) if len(kept) else first
    if last < first:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), keep
    starts = origin + np.arange(first, last + 1, dtype=np.int64) * np.int64(bucket_ns)
    return starts, kept - first, keep


class BucketStream:
    """Streaming bucketing: subclasses define ``_new()`` (an empty accumulator), ``_add(acc,
    ...)`` and ``_finish(acc)`` (the bucket's value). ``_bucket(ts)`` closes the buckets before
    ``ts``'s and says whether ``ts`` is in range; ``flush()`` closes the open bucket (and the
    empty ones up to ``end`` when given). Closed buckets come back as ``(start, value)`` pairs."""

    def __init__(self, bucket_ns: int, origin: int = 0, start=None, end=None):
        self.bucket_ns = _check_bucket_ns(bucket_ns)
        self.origin = int(origin)
        self._first = None if start is None else (int(start) - self.origin) // self.bucket_ns
        self._last = None if end is None else (int(end) - 1 - self.origin) // self.bucket_ns
        self._cur = self._first  # index of the open bucket (None before the first observation)
        self._acc = self._new()

    # subclasses --------------------------------------------------------------------------------
    def _new(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _finish(self, acc):  # pragma: no cover - abstract
        raise NotImplementedError

    # machinery ---------------------------------------------------------------------------------
    def _close_to(self, b: int, out: list) -> None:
        while self._cur < b:
            out.append((self.origin + self._cur * self.bucket_ns, self._finish(self._acc)))
            self._acc = self._new()
            self._cur += 1

    def _bucket(self, ts) -> tuple[list, bool]:
        b = (int(ts) - self.origin) // self.bucket_ns
        if (self._first is not None and b < self._first) or (
                self._last is not None and b > self._last):
            return [], False
        if self._cur is None:
            self._cur = b
            return [], True
        if b < self._cur:
            raise ValueError("timestamps must not decrease")
        out: list = []
        self._close_to(b, out)
        return out, True

    def flush(self) -> list:
        """Close the open bucket (and the empty buckets up to ``end`` when it was given); later
        updates must fall in later buckets. Returns the closed ``(start, value)`` pairs."""
        if self._cur is None:
            return []
        target = self._cur + 1 if self._last is None else max(self._last + 1, self._cur)
        out: list = []
        self._close_to(target, out)
        return out

    @property
    def value(self):
        """The running value of the open bucket."""
        return self._finish(self._acc)


def collect(pairs: list) -> Buckets:
    """``(start, value)`` pairs (as streaming ``update``/``flush`` return them) as ``Buckets``."""
    starts = np.array([p[0] for p in pairs], np.int64)
    return Buckets(starts, np.array([p[1] for p in pairs]))
