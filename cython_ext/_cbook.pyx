# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled price-time priority order book (one symbol).

Same public API and semantics as ``abmm.engine.reference.OrderBook`` (the oracle); see
``docs/matching.md``. All state lives in C arrays (64-byte aligned; blocks of 2 MiB or more ask
the kernel for transparent huge pages):

* an order pool of 64-byte records (one cache line each) with the queue links in a parallel
  8-byte array, and a level pool (free lists, grown by doubling; indices, never pointers, are
  kept across calls that may grow them);
* per side, a sorted array of (key, level) with the best level at the end (key = price for bids,
  -price for asks): the best price is O(1); a level is found through a small direct-mapped
  cache (price hash -> level, each hit verified against the level) or else a branch-free
  binary search, O(log L); removing the best level is O(1);
* each level is a doubly-linked FIFO of orders: append, unlink (cancel) and refill are O(1);
* an id map (order id -> pool slot, or -status once finished): lookups are O(1).

Nothing calls back into Python while matching: what happened is appended to a C event buffer
that ``last_events()`` / ``process()`` copy out as a numpy ``EVENT_DTYPE`` array. A batch
(``process``) first checks every message (inline tests for the common cases, the full checks
only for the rest), then applies them in ``_apply``, which, in a deep book, prefetches what the
cancels a few messages ahead will touch; its events go straight into a block from a small pool
that is reused once no array from an earlier batch views it.
"""

cimport cython
from libc.stdint cimport int64_t, int32_t, int8_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy, memmove, memset
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.list cimport PyList_GET_ITEM
from cpython.object cimport PyObject

from lob_types cimport ABMM_INT64_MAX, Event, Level, Link, Msg, Order

import numpy as np

from abmm.engine import _validate as V
from abmm.engine.types import EVENT_DTYPE, LOG_DTYPE, MSG_DTYPE, ORDER_DTYPE, OrderStatus
from abmm.errors import (
    CorruptStateError,
    InvalidPriceError,
    InvalidQuantityError,
    InvalidSideError,
    InvalidTimestampError,
    InvalidTypeError,
    InvalidValueError,
    OffTickError,
    OrderNotLiveError,
    UnknownOrderError,
    ValueOverflowError,
)

# Codes (values of the enums in abmm.engine.types).
cdef enum:
    BUY = 0
    SELL = 1
    LIMIT = 0
    MARKET = 1
    IOC = 2
    FOK = 3
    POST_ONLY = 4
    STP_NONE = 0
    STP_RESTING = 1
    STP_INCOMING = 2
    STP_BOTH = 3
    EV_ACCEPTED = 0
    EV_FILL = 1
    EV_CANCELLED = 2
    EV_EXPIRED = 3
    EV_REJECTED = 4
    EV_MODIFIED = 5
    EV_REFILL = 6
    EV_LEVEL = 7
    R_USER = 1
    R_NO_LIQ = 2
    R_FOK = 3
    R_POST_ONLY = 4
    R_STP = 5
    R_UNKNOWN = 6
    R_NOT_LIVE = 7
    S_RESTING = 0
    S_FILLED = 1
    S_CANCELLED = 2
    S_EXPIRED = 3
    S_REJECTED = 4
    MAX_POOL = 2000000000
    PF_FAR = 16     # batch prefetch distances (messages ahead): id-map entry of a cancel target,
    PF_MID = 6      # then its order and links
    LCACHE_BITS = 8
    LCACHE = 256    # entries of the level cache of a side: 1 << LCACHE_BITS
    MSG_AHEAD = 32  # batch passes prefetch the messages this far ahead
    EV_AHEAD = 16   # and the event records this far ahead of the writer
    PF_MIN_LIVE = 16384  # prefetch only in a book with this many live orders (1 MiB of orders)

cdef extern from *:
    """
    #define ABMM_MAX_PRICE 1000000000000000LL
    #define ABMM_MAX_QTY 1000000000000LL
    #define ABMM_MAX_OWNER 2147483647LL
    """
    int64_t MAX_PRICE "ABMM_MAX_PRICE"
    int64_t MAX_QTY "ABMM_MAX_QTY"
    int64_t MAX_OWNER "ABMM_MAX_OWNER"

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define abmm_unlikely(x) __builtin_expect(!!(x), 0)
    #define abmm_prefetch(p) __builtin_prefetch((const void*)(p), 0, 3)
    #define abmm_prefetch_w(p) __builtin_prefetch((const void*)(p), 1, 3)
    #else
    #define abmm_unlikely(x) (x)
    #define abmm_prefetch(p) ((void)(p))
    #define abmm_prefetch_w(p) ((void)(p))
    #endif
    """
    bint unlikely "abmm_unlikely"(bint) nogil
    Py_ssize_t refcount "Py_REFCNT"(PyObject*)
    void prefetch "abmm_prefetch"(const void*) nogil      # a hint: never faults
    void prefetch_w "abmm_prefetch_w"(const void*) nogil  # the same, for a line to be written


def _layout_check():
    """The C structs must match the numpy dtypes byte for byte."""
    cdef Event e
    cdef Msg m
    cdef char* b = <char*>&e
    got = dict(ts=<char*>&e.ts - b, order_id=<char*>&e.order_id - b, owner=<char*>&e.owner - b,
               other_id=<char*>&e.other_id - b, other_owner=<char*>&e.other_owner - b,
               price=<char*>&e.price - b, qty=<char*>&e.qty - b,
               remaining=<char*>&e.remaining - b, kind=<char*>&e.kind - b,
               side=<char*>&e.side - b, reason=<char*>&e.reason - b)
    want = {k: v[1] for k, v in EVENT_DTYPE.fields.items()}
    if got != want or sizeof(Event) != EVENT_DTYPE.itemsize:
        raise ImportError(f"Event struct {got} does not match EVENT_DTYPE {want}")
    b = <char*>&m
    got = dict(ts=<char*>&m.ts - b, oid=<char*>&m.oid - b, owner=<char*>&m.owner - b,
               price=<char*>&m.price - b, qty=<char*>&m.qty - b, display=<char*>&m.display - b,
               action=<char*>&m.action - b, side=<char*>&m.side - b,
               order_type=<char*>&m.order_type - b, stp=<char*>&m.stp - b)
    want = {k: v[1] for k, v in MSG_DTYPE.fields.items()}
    if got != want or sizeof(Msg) != MSG_DTYPE.itemsize:
        raise ImportError(f"Msg struct {got} does not match MSG_DTYPE {want}")
    put_event(&e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)  # the writer agrees with the struct
    if (e.ts, e.order_id, e.other_id, e.price, e.qty, e.remaining, e.owner, e.other_owner,
            e.kind, e.side, e.reason, e.pad0, e.pad1) != (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0):
        raise ImportError("abmm_put_event does not write the Event struct's layout")
    if sizeof(Order) != 64 or sizeof(Link) != 8:
        raise ImportError(f"Order struct of {sizeof(Order)} bytes (want 64: one cache line)")


_layout_check()


cdef int64_t _as_int_slow(object value, str field) except? -1:
    return V.as_int(value, field)


cdef inline int64_t _as_int(object value, str field) except? -1:
    """A Python int (or numpy integer) as int64, or the same error the reference raises."""
    cdef int overflow = 0
    cdef long long r
    if type(value) is int:
        r = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow:
            raise ValueOverflowError(field, value, V.EXPECT_INT64)
        return r
    return _as_int_slow(value, field)


cdef object _idx(Py_ssize_t index):
    return None if index < 0 else index


cdef int _check_price(int64_t tick, int64_t price, Py_ssize_t index) except -1:
    if price < 1 or price > MAX_PRICE:
        raise InvalidPriceError("price", price, V.EXPECT_PRICE, _idx(index))
    if price % tick:
        raise OffTickError("price", price, V.expect_tick(tick), _idx(index))
    return 0


cdef int _check_ts(int64_t clock, int64_t ts, Py_ssize_t index) except -1:
    if ts < 0:
        raise InvalidTimestampError("ts", ts, V.EXPECT_TS, _idx(index))
    if ts < clock:
        raise InvalidTimestampError("ts", ts, V.expect_clock(clock), _idx(index))
    return 0


cdef inline int _check_submit(int64_t tick, int64_t clock, int64_t otype, int64_t side, int64_t price,
                       int64_t qty, int64_t display, int64_t owner, int64_t stp, int64_t ts,
                       Py_ssize_t index) except -1:
    if otype < 0 or otype > 4:
        raise InvalidValueError("order_type", otype, V.EXPECT_ORDER_TYPE, _idx(index))
    if side != 0 and side != 1:
        raise InvalidSideError("side", side, V.EXPECT_SIDE, _idx(index))
    if otype == MARKET:
        if price != 0:
            raise InvalidPriceError("price", price, V.EXPECT_MARKET_PRICE, _idx(index))
    elif price < 1 or price > MAX_PRICE or price % tick:
        _check_price(tick, price, index)
    if qty < 1 or qty > MAX_QTY:
        raise InvalidQuantityError("qty", qty, V.EXPECT_QTY, _idx(index))
    if display:
        if display < 0 or display > MAX_QTY:
            raise InvalidQuantityError("display", display, V.EXPECT_DISPLAY, _idx(index))
        if otype != LIMIT and otype != POST_ONLY:
            raise InvalidQuantityError("display", display, V.EXPECT_DISPLAY_TYPE, _idx(index))
    if owner < 0 or owner > MAX_OWNER:
        raise InvalidValueError("owner", owner, V.EXPECT_OWNER, _idx(index))
    if stp < 0 or stp > 3:
        raise InvalidValueError("stp", stp, V.EXPECT_STP, _idx(index))
    if ts < clock:
        _check_ts(clock, ts, index)
    return 0


cdef extern from *:
    """
    /* Batch pass 1 fast paths: nonzero if a SUBMIT (resp. CANCEL) message certainly passes
       every check of _check_submit (resp. _check_cancel); zero sends it through those checks,
       which decide (and raise). ``w`` is the message's four code bytes as one little-endian
       word: action | side << 8 | order_type << 16 | stp << 24. Unsigned compares fold the
       range tests; an iceberg (display != 0) takes the full checks. */
    static inline int abmm_submit_ok(uint32_t w, int64_t qty, int64_t price, int64_t owner,
                                     int64_t display, int64_t ts, int64_t clock, int64_t tick) {
        uint64_t p = (uint64_t)price;
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap32(w);
    #endif
        int mkt = (w & 0xFF0000u) == 0x10000u;   /* MARKET */
        uint64_t bad = (w & 0xFC00FEFFu)          /* action 0, side <= 1, stp <= 3 */
            | ((w & 0xFF0000u) > 0x40000u)        /* order type <= 4 */
            | ((uint64_t)qty - 1 >= (uint64_t)ABMM_MAX_QTY)
            | ((uint64_t)owner > (uint64_t)ABMM_MAX_OWNER)
            | (uint64_t)display
            | (ts < clock)
            | (mkt ? (p != 0) : (p - 1 >= (uint64_t)ABMM_MAX_PRICE));
        if (tick != 1 && !bad && !mkt)
            bad = price % tick != 0;
        return bad == 0;
    }
    static inline int abmm_cancel_ok(int64_t qty, int64_t ts, int64_t clock) {
        return ((uint64_t)qty <= (uint64_t)ABMM_MAX_QTY) & (ts >= clock);
    }
    """
    bint submit_ok "abmm_submit_ok"(uint32_t w, int64_t qty, int64_t price, int64_t owner,
                                    int64_t display, int64_t ts, int64_t clock,
                                    int64_t tick) nogil
    bint cancel_ok "abmm_cancel_ok"(int64_t qty, int64_t ts, int64_t clock) nogil


cdef inline int _check_cancel(int64_t clock, int64_t qty, int64_t ts, Py_ssize_t index) except -1:
    if qty < 0 or qty > MAX_QTY:
        raise InvalidQuantityError("qty", qty, V.EXPECT_REDUCE, _idx(index))
    if ts < clock:
        _check_ts(clock, ts, index)
    return 0


cdef inline int _check_modify(int64_t tick, int64_t clock, int64_t price, int64_t qty, int64_t ts,
                       Py_ssize_t index) except -1:
    _check_price(tick, price, index)
    if qty < 1 or qty > MAX_QTY:
        raise InvalidQuantityError("qty", qty, V.EXPECT_QTY, _idx(index))
    if ts < clock:
        _check_ts(clock, ts, index)
    return 0


cdef inline int32_t _lower_bound(const int64_t* keys, int32_t n, int64_t key) noexcept nogil:
    """First position in keys[0:n] (ascending) whose key is >= key (n if none). Branch-free
    bisection: it takes ceil(log2 n) steps whatever the key and each step is a conditional move,
    so unlike a scan from the best level it is never mispredicted (a random-length scan was one
    misprediction per order added)."""
    if n == 0:
        return 0
    cdef const int64_t* b = keys
    cdef int32_t half
    while n > 1:
        half = n >> 1
        b = b + half if b[half] < key else b
        n -= half
    return <int32_t>(b - keys) + (b[0] < key)


cdef inline uint32_t _lcache_slot(int64_t price) noexcept nogil:
    """Level-cache slot of a price: Fibonacci hashing (spreads consecutive prices, and
    multiples of any tick, over the slots)."""
    return <uint32_t>((<uint64_t>price * <uint64_t>0x9E3779B97F4A7C15) >> (64 - LCACHE_BITS))


cdef extern from *:
    """
    #include <stdlib.h>
    #include <string.h>
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    #define ABMM_HUGE ((size_t)1 << 21)
    /* A block for a pool or an event buffer: cache-line aligned (a 64-byte record never
       straddles two lines); a block of 2 MiB or more is 2 MiB aligned and, on Linux, asks for
       transparent huge pages: touching fresh memory then costs one fault per 2 MiB instead of
       one per 4 KiB (the faults were most of the time of a big batch), and random access into
       a large order pool or id map misses the TLB far less. free() releases it. */
    static void* abmm_alloc(size_t nbytes) {
        void* p = NULL;
        size_t align = nbytes >= ABMM_HUGE ? ABMM_HUGE : 64;
    #if defined(_WIN32)
        (void)align;
        p = malloc(nbytes);
    #else
        if (posix_memalign(&p, align, nbytes) != 0) return NULL;
    #endif
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (p != NULL && nbytes >= ABMM_HUGE)
            (void)madvise(p, nbytes & ~(ABMM_HUGE - 1), MADV_HUGEPAGE);
    #endif
        return p;
    }
    """
    void* abmm_alloc(size_t nbytes) nogil


cdef extern from *:
    """
    /* Write one 64-byte event record as eight 64-bit words (the layout of EVENT_DTYPE, which
       _layout_check() verifies at import): fewer stores than field by field, and the pad
       bytes are zeroed. */
    #if defined(__GNUC__) || defined(__clang__)
    typedef uint64_t __attribute__((may_alias)) abmm_u64a;
    #else
    typedef uint64_t abmm_u64a;
    #endif
    static inline void abmm_put_event(void* e, int64_t ts, int64_t oid, int64_t other_id,
                                      int64_t price, int64_t qty, int64_t remaining,
                                      int64_t owner, int64_t other_owner, unsigned kind,
                                      unsigned side, unsigned reason) {
        abmm_u64a* w = (abmm_u64a*)e;
        w[0] = (uint64_t)ts; w[1] = (uint64_t)oid; w[2] = (uint64_t)other_id;
        w[3] = (uint64_t)price; w[4] = (uint64_t)qty; w[5] = (uint64_t)remaining;
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w[6] = ((uint64_t)(uint32_t)owner << 32) | (uint32_t)other_owner;
        w[7] = ((uint64_t)(kind & 0xFFu) << 56) | ((uint64_t)(side & 0xFFu) << 48)
             | ((uint64_t)(reason & 0xFFu) << 40);
    #else
        w[6] = (uint64_t)(uint32_t)owner | ((uint64_t)(uint32_t)other_owner << 32);
        w[7] = (kind & 0xFFu) | ((side & 0xFFu) << 8) | ((reason & 0xFFu) << 16);
    #endif
    }
    """
    void put_event "abmm_put_event"(void* e, int64_t ts, int64_t oid, int64_t other_id,
                                    int64_t price, int64_t qty, int64_t remaining, int64_t owner,
                                    int64_t other_owner, unsigned kind, unsigned side,
                                    unsigned reason) nogil


cdef void* _grow(void* ptr, int64_t* cap, size_t item, int64_t need, int64_t keep) except NULL:
    """A block of at least ``need`` items (doubling ``cap``) holding the first ``keep`` items of
    ``ptr``, which is freed; raises MemoryError (``ptr`` then stays valid)."""
    cdef int64_t new_cap = cap[0] * 2 if cap[0] else 64
    while new_cap < need:
        new_cap *= 2
    if new_cap > (<int64_t>1 << 56) // <int64_t>item:
        raise MemoryError(f"order book: cannot grow a buffer to {new_cap} items")
    cdef void* p = abmm_alloc(new_cap * item)
    if p == NULL:
        raise MemoryError(f"order book: cannot grow a buffer to {new_cap} items")
    if keep > 0 and ptr != NULL:
        memcpy(p, ptr, keep * item)
    free(ptr)
    cap[0] = new_cap
    return p


@cython.final
cdef class _EventBuffer:
    """Owns a malloc'd block of events handed over by a batch; exposes it as a buffer so a numpy
    array can wrap it without copying (the array keeps this object, and so the block, alive)."""
    cdef void* data
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]

    def __dealloc__(self):
        free(self.data)

    def __getbuffer__(self, Py_buffer* buf, int flags):
        self.shape[0] = self.nbytes
        buf.buf = self.data
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 0
        buf.itemsize = 1
        buf.format = "B"
        buf.ndim = 1
        buf.shape = self.shape
        buf.strides = NULL
        buf.suboffsets = NULL
        buf.internal = NULL

    def __releasebuffer__(self, Py_buffer* buf):
        pass


#: bytes of one LOG_DTYPE row (abmm.engine.types), as EventSink stores them
cdef enum:
    LOG_ROW = 60
LOG_ROW_BYTES = LOG_ROW


@cython.final
cdef class EventSink:
    """The run's event log buffer, in C: the books attached to it (``OrderBook.attach_log``)
    append the events of every ``submit_events`` / ``cancel_events`` call as they happen, but
    ``LEVEL`` updates, as ``LOG_DTYPE`` rows (``abmm.engine.types``: ``ACCEPTED`` rows carry the
    order type, the others -1) with the index of the book's symbol. When ``chunk_rows`` rows
    are buffered, ``on_full()`` is called (it takes them with :meth:`take`). ``store=False``
    only counts the rows (a run that keeps no log).
    """

    cdef unsigned char* data
    cdef int32_t* syms
    cdef int64_t n, cap, scap
    cdef readonly int64_t chunk_rows
    cdef readonly bint store
    cdef readonly int64_t total     # rows appended since the sink was made
    cdef object on_full

    def __cinit__(self, int64_t chunk_rows=250_000, on_full=None, bint store=True):
        self.data = NULL
        self.syms = NULL
        self.n = self.cap = self.scap = 0
        self.chunk_rows = chunk_rows
        self.store = store
        self.total = 0
        self.on_full = on_full

    def __dealloc__(self):
        free(self.data)
        free(self.syms)

    def __len__(self):
        """Rows buffered (not yet taken)."""
        return self.n

    cdef int _room(self, int64_t need) except -1:
        if self.n + need > self.cap:
            self.data = <unsigned char*>_grow(self.data, &self.cap, LOG_ROW, self.n + need,
                                              self.n)
        if self.n + need > self.scap:
            self.syms = <int32_t*>_grow(self.syms, &self.scap, sizeof(int32_t), self.n + need,
                                        self.n)
        return 0

    cdef int append(self, Event* src, int64_t n, int order_type, int32_t sym) except -1:
        """Append one request's events; ``on_full()`` if ``chunk_rows`` rows are buffered."""
        self._put(src, n, order_type, sym)
        if self.n >= self.chunk_rows and self.store and self.on_full is not None:
            self.on_full()
        return 0

    cdef int _put(self, Event* src, int64_t n, int order_type, int32_t sym) except -1:
        cdef int64_t i, need = 0
        for i in range(n):
            need += src[i].kind != EV_LEVEL
        if need == 0:
            return 0
        self.total += need
        if not self.store:
            return 0
        self._room(need)
        cdef unsigned char* p = self.data + self.n * LOG_ROW
        cdef int32_t* s = self.syms + self.n
        cdef Event* e
        cdef int8_t ot
        for i in range(n):
            e = &src[i]
            if e.kind == EV_LEVEL:
                continue
            # LOG_DTYPE's packed layout (the tests check it against the dtype)
            memcpy(p, &e.ts, 8)
            memcpy(p + 8, &e.order_id, 8)
            memcpy(p + 16, &e.owner, 4)
            memcpy(p + 20, &e.other_id, 8)
            memcpy(p + 28, &e.other_owner, 4)
            memcpy(p + 32, &e.price, 8)
            memcpy(p + 40, &e.qty, 8)
            memcpy(p + 48, &e.remaining, 8)
            p[56] = e.kind
            p[57] = e.side
            p[58] = e.reason
            ot = <int8_t>order_type if e.kind == EV_ACCEPTED else -1
            memcpy(p + 59, &ot, 1)
            p += LOG_ROW
            s[0] = sym
            s += 1
        self.n += need
        return 0

    def add_tuples(self, rows, int order_type, int32_t sym=0):
        """Append event tuples (``EVENT_DTYPE.names`` order; ``LEVEL`` ones skipped) as a
        book would; for events that did not come from an attached book."""
        cdef Event e
        memset(&e, 0, sizeof(Event))
        for r in rows:
            (e.ts, e.order_id, e.owner, e.other_id, e.other_owner, e.price, e.qty, e.remaining,
             e.kind, e.side, e.reason) = r
            self._put(&e, 1, order_type, sym)
        if self.n >= self.chunk_rows and self.store and self.on_full is not None:
            self.on_full()

    def take(self):
        """``(rows, symbols)``: the buffered rows (a ``LOG_DTYPE`` array) and their symbol
        indices (int32), copied out; the buffer is then empty."""
        rows = np.empty(self.n, LOG_DTYPE)
        syms = np.empty(self.n, np.int32)
        cdef unsigned char[::1] rb = rows.view(np.uint8)
        cdef int32_t[::1] sb = syms
        if self.n:
            memcpy(&rb[0], self.data, self.n * LOG_ROW)
            memcpy(&sb[0], self.syms, self.n * sizeof(int32_t))
        self.n = 0
        return rows, syms


@cython.final
cdef class OrderBook:
    """Price-time priority limit order book for one symbol (compiled).

    Parameters
    ----------
    tick : int
        Prices must be multiples of this many price units (default 1: every positive integer).
    level_events : bool
        Emit a ``LEVEL`` event whenever a price level's displayed quantity changes.
    """

    cdef readonly int64_t tick          # prices must be multiples of this
    cdef readonly bint level_events     # emit LEVEL events
    cdef EventSink log_sink             # the run's event log (attach_log), or None
    cdef int32_t log_sym                # this book's symbol index in it
    cdef tuple top_cache                # _top_tuple's last tuple, and its values in top_c
    cdef int64_t top_c[4]
    cdef readonly int64_t clock         # last timestamp seen (ns)
    cdef readonly int64_t n_fills       # maker/taker matches so far
    cdef readonly int64_t volume        # lots traded so far
    cdef readonly int64_t accepted_qty  # lots accepted (incl. size-ups by modify)
    cdef readonly int64_t cancelled_qty # lots cancelled (user, STP, size-downs)
    cdef readonly int64_t expired_qty   # lots expired (market/IOC remainder, FOK killed)
    cdef readonly int64_t rejected_qty  # lots rejected (post-only cross)
    cdef int64_t n_live                 # live orders

    cdef Order* orders                  # order pool
    cdef Link* links                    # queue links of the pool's slots
    cdef int32_t ocap, onext, ofree     # capacity, high-water mark, free-list head
    cdef Level* levels                  # level pool (slot 0: a sentinel, never live)
    cdef int32_t lcap, lnext, lfree
    # A direct-mapped cache (price hash -> level) per side in front of the bisection: a hit is
    # checked against the level itself (live, same side and price), so a stale entry is
    # harmless. 0 = the sentinel = empty.
    cdef int32_t lcache[2][LCACHE]
    # Per side, levels sorted by key (bid: price, ask: -price) ascending: the best is last.
    cdef int64_t* skeys[2]
    cdef int32_t* slv[2]
    cdef int32_t sn[2]
    cdef int32_t scap[2]
    # Order id -> pool slot (>= 0, live) or -status (finished). Ids are 1, 2, 3, ...
    cdef int32_t* idmap
    cdef int64_t idcap
    cdef readonly int64_t next_id
    # Events of the current call / batch.
    cdef Event* ev
    cdef int64_t nev, evcap
    cdef int64_t last_batch_n           # events of the last batch (in batch_buf), -1 if none
    cdef _EventBuffer batch_buf         # the block of the current / last batch
    cdef list pool                      # batch blocks, reused when no array views them
    cdef Event* call_ev                 # the per-call API's private event block
    cdef int64_t call_cap
    cdef int64_t n_msgs, n_events       # totals, to size a batch's event buffer up front
    cdef bint in_batch

    engine = "compiled"

    def __cinit__(self, *args, **kwargs):
        self.orders = NULL
        self.links = NULL
        self.levels = NULL
        self.skeys[0] = self.skeys[1] = NULL
        self.slv[0] = self.slv[1] = NULL
        self.idmap = NULL
        self.ev = NULL
        self.log_sink = None
        self.log_sym = 0
        self.top_cache = None
        self.tick = 1  # (as if __init__ ran: a book made with __new__ must not divide by 0)
        self.level_events = True
        self.ofree = -1
        self.lfree = -1
        self.next_id = 1
        self.last_batch_n = -1
        self.pool = []
        # (allocated here, not in __init__: __cinit__ runs exactly once, whatever Python does)
        cdef int64_t cap
        cap = 0
        self.ev = <Event*>_grow(NULL, &cap, sizeof(Event), 1024, 0)
        self.evcap = cap
        cap = 0
        self.idmap = <int32_t*>_grow(NULL, &cap, sizeof(int32_t), 1024, 0)
        self.idcap = cap
        self.idmap[0] = -S_REJECTED  # no order has id 0 (a batch prefetch may read it)
        cap = 0
        self.orders = <Order*>_grow(NULL, &cap, sizeof(Order), 64, 0)
        cap = 0
        self.links = <Link*>_grow(NULL, &cap, sizeof(Link), 64, 0)
        self.ocap = <int32_t>cap
        cap = 0
        self.levels = <Level*>_grow(NULL, &cap, sizeof(Level), 64, 0)
        self.lcap = <int32_t>cap
        self.levels[0].price = 0  # the sentinel
        self.levels[0].side = -1
        self.lnext = 1
        memset(self.lcache, 0, sizeof(self.lcache))

    def __init__(self, tick=1, level_events=True):
        if type(tick) is not int:
            raise InvalidTypeError("tick", tick, V.EXPECT_INT)
        if not 1 <= tick <= 10**9:
            raise InvalidValueError("tick", tick, "a positive integer <= 10**9")
        self.tick = tick
        self.level_events = bool(level_events)

    def __dealloc__(self):
        free(self.orders)
        free(self.links)
        free(self.levels)
        free(self.skeys[0])
        free(self.skeys[1])
        free(self.slv[0])
        free(self.slv[1])
        free(self.idmap)
        free(self.ev)

    def __reduce__(self):
        """Pickle support: the live orders in priority order, every id's status, the counters."""
        cdef int64_t i
        status = np.empty(self.next_id, np.int8)
        cdef int8_t[::1] sv = status
        sv[0] = S_REJECTED
        for i in range(1, self.next_id):
            sv[i] = S_RESTING if self.idmap[i] >= 0 else -self.idmap[i]
        state = {
            "clock": self.clock, "n_fills": self.n_fills, "volume": self.volume,
            "accepted_qty": self.accepted_qty, "cancelled_qty": self.cancelled_qty,
            "expired_qty": self.expired_qty, "rejected_qty": self.rejected_qty,
            "status": status, "live": self.live_orders(),
        }
        return (OrderBook, (self.tick, self.level_events), state)

    def __setstate__(self, state):
        if self.next_id != 1:
            raise RuntimeError("__setstate__ needs a fresh book")
        try:
            status = np.ascontiguousarray(state["status"], np.int8)
            live = np.ascontiguousarray(state["live"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptStateError(f"missing or malformed field ({exc})") from None
        cdef int64_t n = status.shape[0], i
        cdef const int8_t[::1] sv = status
        if n < 1 or live.dtype != ORDER_DTYPE or live.ndim != 1:
            raise CorruptStateError("status or live-order arrays of the wrong shape or dtype")
        if n > self.idcap:
            self.idmap = <int32_t*>_grow(self.idmap, &self.idcap, sizeof(int32_t), n,
                                         self.next_id)
        for i in range(1, n):
            if not 0 <= sv[i] <= 4:
                raise CorruptStateError(f"status {sv[i]} for order {i}")
            self.idmap[i] = -sv[i] if sv[i] else -S_REJECTED
        self.next_id = n
        cdef int32_t oi, li
        cdef Order* O
        for row in live.tolist():
            oid, side, price, qty, hidden, peak, owner, ts, otype, stp = row
            if not (1 <= oid < n and sv[oid] == S_RESTING and self.idmap[oid] < 0
                    and side in (0, 1) and 1 <= price <= MAX_PRICE and price % self.tick == 0
                    and 1 <= qty <= MAX_QTY and 0 <= hidden <= MAX_QTY and 0 <= peak <= MAX_QTY
                    and (hidden == 0 or peak > 0) and 0 <= owner <= MAX_OWNER
                    and otype in (LIMIT, POST_ONLY) and 0 <= stp <= 3):
                raise CorruptStateError(f"live order {row}")
            oi = self._alloc_order()
            li = self._level_at(side, price)
            O = &self.orders[oi]
            O.id, O.owner, O.price, O.qty, O.hidden, O.peak, O.ts = (
                oid, owner, price, qty, hidden, peak, ts)
            O.side, O.otype, O.stp, O.pad0, O.pad1 = side, otype, stp, 0, 0
            self._append(li, oi)
            self.idmap[oid] = oi
            self.n_live += 1
        resting = int((live["qty"] + live["hidden"]).sum()) if len(live) else 0
        total = (2 * state["volume"] + state["cancelled_qty"] + state["expired_qty"]
                 + state["rejected_qty"] + resting)
        if (sum(1 for i in range(1, n) if sv[i] == S_RESTING) != self.n_live
                or state["accepted_qty"] != total):
            raise CorruptStateError("counters disagree with the orders")
        self.clock = state["clock"]
        self.n_fills = state["n_fills"]
        self.volume = state["volume"]
        self.accepted_qty = state["accepted_qty"]
        self.cancelled_qty = state["cancelled_qty"]
        self.expired_qty = state["expired_qty"]
        self.rejected_qty = state["rejected_qty"]

    # ------------------------------------------------------------------ memory
    cdef int _grow_events(self) except -1:
        self.ev = <Event*>_grow(self.ev, &self.evcap, sizeof(Event), self.nev + 1, self.nev)
        return 0

    cdef inline int _emit(self, uint8_t kind, uint8_t side, uint8_t reason, int64_t ts,
                          int64_t oid, int64_t owner, int64_t other_id, int64_t other_owner,
                          int64_t price, int64_t qty, int64_t remaining) except -1:
        if unlikely(self.nev == self.evcap):
            self._grow_events()
        put_event(&self.ev[self.nev], ts, oid, other_id, price, qty, remaining, owner,
                  other_owner, kind, side, reason)
        self.nev += 1
        return 0

    cdef inline int _emit_level(self, int side, int32_t li, int64_t ts) except -1:
        cdef Level* L
        if self.level_events:
            L = &self.levels[li]
            self._emit(EV_LEVEL, side, 0, ts, 0, 0, 0, 0, L.price, L.qty, L.count)
        return 0

    cdef int _grow_orders(self) except -1:
        """Double the order pool (and its link array): only when every slot is live."""
        if self.ocap > MAX_POOL // 2:  # (doubling must stay within int32)
            raise MemoryError("order book: too many live orders")
        cdef int64_t cap = self.ocap
        self.links = <Link*>_grow(self.links, &cap, sizeof(Link), cap + 1, self.onext)
        cap = self.ocap
        self.orders = <Order*>_grow(self.orders, &cap, sizeof(Order), cap + 1, self.onext)
        self.ocap = <int32_t>cap
        return 0

    cdef inline int32_t _alloc_order(self) except -1:
        cdef int32_t i = self.ofree
        if i >= 0:
            self.ofree = self.links[i].next
            return i
        if unlikely(self.onext == self.ocap):
            self._grow_orders()
        i = self.onext
        self.onext += 1
        return i

    cdef inline void _free_order(self, int32_t i) noexcept:
        self.links[i].next = self.ofree
        self.ofree = i

    cdef int32_t _alloc_level(self) except -1:
        cdef int32_t i
        cdef int64_t cap
        if self.lfree >= 0:
            i = self.lfree
            self.lfree = self.levels[i].count
            return i
        if self.lnext == self.lcap:
            if self.lcap > MAX_POOL // 2:
                raise MemoryError("order book: too many price levels")
            cap = self.lcap
            self.levels = <Level*>_grow(self.levels, &cap, sizeof(Level), cap + 1, self.lnext)
            self.lcap = <int32_t>cap
        i = self.lnext
        self.lnext += 1
        return i

    # ------------------------------------------------------------------ levels
    cdef inline int32_t _level_at(self, int side, int64_t price) except -1:
        """The level at ``price`` on ``side``, created (and inserted in order) if absent."""
        cdef uint32_t h = _lcache_slot(price)
        cdef int32_t li = self.lcache[side][h]
        cdef const Level* L = &self.levels[li]
        if L.price == price and L.side == side:  # (a live level: freed ones have price 0)
            return li
        cdef int64_t key = price if side == BUY else -price
        cdef int32_t n = self.sn[side]
        cdef const int64_t* keys = self.skeys[side]
        cdef int32_t pos = _lower_bound(keys, n, key)
        if pos < n and keys[pos] == key:
            li = self.slv[side][pos]
        else:
            li = self._new_level(side, price, key, pos)
        self.lcache[side][h] = li
        return li

    cdef int32_t _new_level(self, int side, int64_t price, int64_t key, int32_t pos) except -1:
        """Create an empty level at ``price`` and insert it at ``pos`` in the side's array."""
        cdef int32_t n = self.sn[side]
        cdef int64_t cap
        if n == self.scap[side]:
            if n > MAX_POOL // 2:
                raise MemoryError("order book: too many price levels")
            cap = n
            self.skeys[side] = <int64_t*>_grow(self.skeys[side], &cap, sizeof(int64_t), n + 1, n)
            cap = n
            self.slv[side] = <int32_t*>_grow(self.slv[side], &cap, sizeof(int32_t), n + 1, n)
            self.scap[side] = <int32_t>cap
        cdef int32_t li = self._alloc_level()
        cdef Level* L = &self.levels[li]
        L.price = price
        L.qty = 0
        L.head = -1
        L.tail = -1
        L.count = 0
        L.side = side
        cdef int64_t* keys = self.skeys[side]
        cdef int32_t* lv = self.slv[side]
        if pos < n:
            memmove(&keys[pos + 1], &keys[pos], (n - pos) * sizeof(int64_t))
            memmove(&lv[pos + 1], &lv[pos], (n - pos) * sizeof(int32_t))
        keys[pos] = key
        lv[pos] = li
        self.sn[side] = n + 1
        return li

    cdef void _remove_level(self, int side, int32_t li) noexcept:
        """Drop an empty level from its side and free it."""
        cdef int32_t n = self.sn[side] - 1
        cdef int32_t pos
        cdef int64_t key
        if self.slv[side][n] != li:
            key = self.levels[li].price if side == BUY else -self.levels[li].price
            pos = <int32_t>_lower_bound(self.skeys[side], n, key)
            memmove(&self.skeys[side][pos], &self.skeys[side][pos + 1], (n - pos) * sizeof(int64_t))
            memmove(&self.slv[side][pos], &self.slv[side][pos + 1], (n - pos) * sizeof(int32_t))
        self.sn[side] = n
        self._free_level(li)

    cdef inline void _free_level(self, int32_t li) noexcept:
        self.levels[li].price = 0  # no longer matches any cache entry
        self.levels[li].count = self.lfree
        self.lfree = li

    cdef inline void _unlink(self, int32_t oi) noexcept:
        """Take order ``oi`` out of its level's queue (level totals updated)."""
        cdef Link* K = self.links
        cdef int32_t prev = K[oi].prev, nxt = K[oi].next
        cdef Order* O = &self.orders[oi]
        cdef Level* L = &self.levels[O.level]
        if prev >= 0:
            K[prev].next = nxt
        else:
            L.head = nxt
        if nxt >= 0:
            K[nxt].prev = prev
        else:
            L.tail = prev
        L.count -= 1
        L.qty -= O.qty

    cdef inline void _append(self, int32_t li, int32_t oi) noexcept:
        """Put order ``oi`` at the back of level ``li``'s queue (level totals updated)."""
        cdef Link* K = self.links
        cdef Level* L = &self.levels[li]
        cdef int32_t tail = L.tail
        self.orders[oi].level = li
        K[oi].next = -1
        K[oi].prev = tail
        if tail >= 0:
            K[tail].next = oi
        else:
            L.head = oi
        L.tail = oi
        L.count += 1
        L.qty += self.orders[oi].qty

    cdef inline bint _crosses(self, int side, int64_t price) noexcept:
        """Would an order at ``price`` trade against the opposite best (a buy at or above the
        best ask, a sell at or below the best bid)?"""
        cdef int opp = 1 - side
        cdef int32_t n = self.sn[opp]
        cdef int64_t k = -price if side == BUY else price  # price as a key of the other side
        return n > 0 and self.skeys[opp][n - 1] >= k

    # ------------------------------------------------------------------ matching
    cdef bint _fok_fillable(self, int side, int64_t limit, int64_t qty, int64_t owner,
                            int stp) noexcept:
        cdef int opp = 1 - side
        cdef int32_t j = self.sn[opp] - 1
        cdef int64_t avail = 0, level_total, ahead, price
        cdef int32_t oi
        cdef Order* O
        while j >= 0:
            price = self.skeys[opp][j] if opp == BUY else -self.skeys[opp][j]
            if (side == BUY and price > limit) or (side == SELL and price < limit):
                break
            level_total = 0
            ahead = 0
            oi = self.levels[self.slv[opp][j]].head
            while oi >= 0:
                O = &self.orders[oi]
                if stp != STP_NONE and O.owner == owner:
                    if stp == STP_RESTING:
                        oi = self.links[oi].next
                        continue
                    return avail + ahead >= qty
                level_total += O.qty + O.hidden
                ahead += O.qty
                if avail + ahead >= qty:
                    return True
                oi = self.links[oi].next
            avail += level_total
            if avail >= qty:
                return True
            j -= 1
        return False

    cdef int64_t _match(self, int64_t oid, int side, int64_t limit, int64_t qty, int64_t owner,
                        int stp, int64_t ts, bint* stopped) except -1:
        """Match an incoming order against the opposite side; returns the unfilled lots."""
        cdef int opp = 1 - side
        cdef int32_t n, li, oi, nxt
        cdef int64_t price, fill, open_qty, shown
        cdef Level* L
        cdef Order* O
        cdef bint touched
        stopped[0] = False
        while qty > 0 and self.sn[opp] > 0:
            n = self.sn[opp] - 1
            li = self.slv[opp][n]
            if opp == SELL:
                price = -self.skeys[opp][n]
                if price > limit:
                    break
            else:
                price = self.skeys[opp][n]
                if price < limit:
                    break
            L = &self.levels[li]
            touched = False
            oi = L.head
            while qty > 0 and oi >= 0:
                O = &self.orders[oi]
                nxt = self.links[oi].next
                if nxt >= 0:
                    prefetch_w(&self.orders[nxt])
                if stp != STP_NONE and O.owner == owner:
                    if stp == STP_INCOMING:
                        stopped[0] = True
                        break
                    open_qty = O.qty + O.hidden
                    self._unlink(oi)
                    self.idmap[O.id] = -S_CANCELLED
                    self.cancelled_qty += open_qty
                    self.n_live -= 1
                    touched = True
                    self._emit(EV_CANCELLED, opp, R_STP, ts, O.id, O.owner, 0, 0, price,
                               open_qty, 0)
                    self._free_order(oi)
                    oi = nxt
                    if stp == STP_BOTH:
                        stopped[0] = True
                        break
                    continue
                fill = qty if qty < O.qty else O.qty
                O.qty -= fill
                L.qty -= fill
                qty -= fill
                self.volume += fill
                self.n_fills += 1
                touched = True
                self._emit(EV_FILL, side, 0, ts, O.id, O.owner, oid, owner, price, fill,
                           O.qty + O.hidden)
                if O.qty == 0:
                    if O.hidden > 0:
                        shown = O.peak if O.peak < O.hidden else O.hidden
                        O.hidden -= shown
                        O.ts = ts
                        if nxt >= 0:  # to the back of the queue
                            self._unlink(oi)
                            O.qty = shown
                            self._append(li, oi)
                        else:  # already last: stays, and is next to match
                            O.qty = shown
                            L.qty += shown
                            nxt = oi
                        self._emit(EV_REFILL, opp, 0, ts, O.id, O.owner, 0, 0, price, shown,
                                   shown + O.hidden)
                    else:
                        self._unlink(oi)
                        self.idmap[O.id] = -S_FILLED
                        self.n_live -= 1
                        self._free_order(oi)
                    oi = nxt
            if touched:
                self._emit_level(opp, li, ts)
            if L.count == 0:
                self.sn[opp] = n
                self._free_level(li)
            if stopped[0]:
                break
        return qty

    cdef inline int _rest(self, int64_t oid, int side, int64_t price, int64_t rem, int64_t owner,
                          int64_t ts, int otype, int64_t peak, int stp) except -1:
        """Put the remainder of ``oid`` in the book at its limit price."""
        cdef int64_t shown = rem if (peak == 0 or peak > rem) else peak
        cdef int32_t oi = self._alloc_order()
        cdef int32_t li = self._level_at(side, price)
        cdef Order* O = &self.orders[oi]
        O.id = oid
        O.price = price
        O.qty = shown
        O.hidden = rem - shown
        O.peak = peak
        O.ts = ts
        O.owner = <int32_t>owner
        O.side = side
        O.otype = otype
        O.stp = stp
        O.pad0 = 0
        O.pad1 = 0
        self._append(li, oi)
        self.idmap[oid] = oi
        self.n_live += 1
        self._emit_level(side, li, ts)
        return 0

    cdef int _finish(self, int64_t oid, int side, int64_t price, int64_t rem, bint stopped,
                     int64_t owner, int64_t ts, int otype, int64_t peak, int stp) except -1:
        """After matching: rest, fill, expire or STP-cancel the remainder of ``oid``."""
        if rem == 0:
            self.idmap[oid] = -S_FILLED
        elif stopped:
            self.idmap[oid] = -S_CANCELLED
            self.cancelled_qty += rem
            self._emit(EV_CANCELLED, side, R_STP, ts, oid, owner, 0, 0, price, rem, 0)
        elif otype == LIMIT or otype == POST_ONLY:
            self._rest(oid, side, price, rem, owner, ts, otype, peak, stp)
        else:
            self.idmap[oid] = -S_EXPIRED
            self.expired_qty += rem
            self._emit(EV_EXPIRED, side, R_NO_LIQ, ts, oid, owner, 0, 0, price, rem, 0)
        return 0

    cdef inline int64_t _submit(self, int side, int64_t price, int64_t qty, int64_t owner,
                                int64_t ts, int otype, int64_t display, int stp) except -1:
        """Submit a new (valid) order; returns its id. The common passive limit order is dealt
        with here, inline in the batch loop; anything that may trade goes to _submit_active."""
        cdef int64_t oid = self.next_id
        if unlikely(oid >= self.idcap):
            self.idmap = <int32_t*>_grow(self.idmap, &self.idcap, sizeof(int32_t), oid + 1,
                                         oid)
        self.next_id = oid + 1
        self.idmap[oid] = -S_REJECTED  # until decided below
        self.accepted_qty += qty
        self._emit(EV_ACCEPTED, side, 0, ts, oid, owner, 0, 0, price, qty, qty)
        if otype == LIMIT and not self._crosses(side, price):
            self._rest(oid, side, price, qty, owner, ts, LIMIT, display, stp)
        else:
            self._submit_active(oid, side, price, qty, owner, ts, otype, display, stp)
        return oid

    cdef int _submit_active(self, int64_t oid, int side, int64_t price, int64_t qty,
                            int64_t owner, int64_t ts, int otype, int64_t display,
                            int stp) except -1:
        """The rest of _submit for a post-only, FOK, market or IOC order, or a crossing limit."""
        cdef int64_t limit, rem
        cdef bint stopped = False
        if otype == POST_ONLY:
            if self._crosses(side, price):
                self.rejected_qty += qty
                self._emit(EV_REJECTED, side, R_POST_ONLY, ts, oid, owner, 0, 0, price, qty, 0)
                return 0
        elif otype == FOK:
            if not self._fok_fillable(side, price, qty, owner, stp):
                self.idmap[oid] = -S_EXPIRED
                self.expired_qty += qty
                self._emit(EV_EXPIRED, side, R_FOK, ts, oid, owner, 0, 0, price, qty, 0)
                return 0
        if otype == MARKET:
            limit = ABMM_INT64_MAX if side == BUY else 0
        else:
            limit = price
        rem = self._match(oid, side, limit, qty, owner, stp, ts, &stopped)
        self._finish(oid, side, price, rem, stopped, owner, ts, otype, display, stp)
        return 0

    cdef inline int _remove(self, int32_t oi, int64_t ts) except -1:
        """Take a live order out of its level (emits the level change); the slot is freed."""
        cdef Order* O = &self.orders[oi]
        cdef int32_t li = O.level
        cdef int side = O.side
        self._unlink(oi)
        self.n_live -= 1
        self._emit_level(side, li, ts)
        if self.levels[li].count == 0:
            self._remove_level(side, li)
        self._free_order(oi)
        return 0

    cdef int _reduce(self, int32_t oi, int64_t by, int64_t ts) except -1:
        """Reduce a live order by ``by`` < its open lots, hidden part first; keeps priority."""
        cdef Order* O = &self.orders[oi]
        cdef int64_t h = by if by < O.hidden else O.hidden
        cdef int64_t d = by - h
        O.hidden -= h
        if d:
            O.qty -= d
            self.levels[O.level].qty -= d
            self._emit_level(O.side, O.level, ts)
        return 0

    cdef inline int64_t _cancel(self, int64_t oid, int64_t qty, int64_t ts) except -1:
        cdef int32_t oi = self.idmap[oid]
        cdef Order* O = &self.orders[oi]
        cdef int64_t open_qty = O.qty + O.hidden
        if qty == 0 or qty >= open_qty:
            self.idmap[oid] = -S_CANCELLED
            self.cancelled_qty += open_qty
            self._emit(EV_CANCELLED, O.side, R_USER, ts, oid, O.owner, 0, 0, O.price, open_qty, 0)
            self._remove(oi, ts)
            return open_qty
        return self._cancel_part(oid, oi, qty, ts)

    cdef int64_t _cancel_part(self, int64_t oid, int32_t oi, int64_t qty, int64_t ts) except -1:
        """Reduce live order ``oid`` (slot ``oi``) by ``qty`` < its open lots."""
        cdef Order* O = &self.orders[oi]
        cdef int64_t open_qty = O.qty + O.hidden
        self.cancelled_qty += qty
        self._emit(EV_CANCELLED, O.side, R_USER, ts, oid, O.owner, 0, 0, O.price, qty,
                   open_qty - qty)
        self._reduce(oi, qty, ts)
        return qty

    cdef int _modify(self, int64_t oid, int64_t price, int64_t qty, int64_t ts) except -1:
        cdef int32_t oi = self.idmap[oid]
        cdef Order* O = &self.orders[oi]
        cdef int64_t open_qty = O.qty + O.hidden
        cdef int side = O.side
        cdef int64_t owner = O.owner, peak = O.peak, rem
        cdef int otype = O.otype, stp = O.stp
        cdef bint stopped = False
        if price == O.price and qty <= open_qty:  # size down (or same): keeps priority
            self.cancelled_qty += open_qty - qty
            self._emit(EV_MODIFIED, side, 0, ts, oid, owner, 0, 0, price, qty, qty)
            if qty < open_qty:
                self._reduce(oi, open_qty - qty, ts)
            return 0
        if otype == POST_ONLY and self._crosses(side, price):
            self._emit(EV_REJECTED, side, R_POST_ONLY, ts, oid, owner, 0, 0, price, qty, open_qty)
            return 0
        if qty > open_qty:
            self.accepted_qty += qty - open_qty
        else:
            self.cancelled_qty += open_qty - qty
        self._emit(EV_MODIFIED, side, 0, ts, oid, owner, 0, 0, price, qty, qty)
        self._remove(oi, ts)
        self.idmap[oid] = -S_REJECTED  # until _finish decides
        rem = self._match(oid, side, price, qty, owner, stp, ts, &stopped)
        self._finish(oid, side, price, rem, stopped, owner, ts, otype, peak, stp)
        return 0

    cdef int _check_live(self, int64_t oid) except -1:
        if oid < 1 or oid >= self.next_id:
            raise UnknownOrderError(oid)
        if self.idmap[oid] < 0:
            raise OrderNotLiveError(oid, OrderStatus(-self.idmap[oid]))
        return 0

    # ------------------------------------------------------------------ per-call API
    def submit(self, side, price, qty, owner=0, ts=None, order_type=LIMIT, display=0,
               stp=STP_NONE):
        """Submit a new order; returns its id. Raises an ``abmm.errors.OrderError`` (book
        unchanged) if any field is invalid. What happened is in ``last_events()``."""
        return self._submit_py(side, price, qty, owner, ts, order_type, display, stp)

    cdef int64_t _submit_py(self, side, price, qty, owner, ts, order_type, display,
                            stp) except -1:
        """``submit`` from Python values: convert, check, then ``_submit``."""
        cdef int64_t o = _as_int(order_type, "order_type")
        if price is None and o == MARKET:
            price = 0
        cdef int64_t s = _as_int(side, "side")
        cdef int64_t p = _as_int(price, "price")
        cdef int64_t q = _as_int(qty, "qty")
        cdef int64_t d = _as_int(display, "display")
        cdef int64_t w = _as_int(owner, "owner")
        cdef int64_t x = _as_int(stp, "stp")
        cdef int64_t t = self.clock if ts is None else _as_int(ts, "ts")
        _check_submit(self.tick, self.clock, o, s, p, q, d, w, x, t, -1)
        self.nev = 0
        self.last_batch_n = -1
        self.clock = t
        return self._submit(<int>s, p, q, w, t, <int>o, d, <int>x)

    def limit(self, side, price, qty, owner=0, ts=None, display=0, stp=STP_NONE):
        """Good-till-cancelled limit order (an iceberg if ``display > 0``); returns its id."""
        cdef int64_t s = _as_int(side, "side")
        cdef int64_t p = _as_int(price, "price")
        cdef int64_t q = _as_int(qty, "qty")
        cdef int64_t d = _as_int(display, "display")
        cdef int64_t w = _as_int(owner, "owner")
        cdef int64_t x = _as_int(stp, "stp")
        cdef int64_t t = self.clock if ts is None else _as_int(ts, "ts")
        _check_submit(self.tick, self.clock, LIMIT, s, p, q, d, w, x, t, -1)
        self.nev = 0
        self.last_batch_n = -1
        self.clock = t
        return self._submit(<int>s, p, q, w, t, LIMIT, d, <int>x)

    def market(self, side, qty, owner=0, ts=None, stp=STP_NONE):
        """Market order: takes liquidity at any price, the remainder expires; returns its id."""
        cdef int64_t s = _as_int(side, "side")
        cdef int64_t q = _as_int(qty, "qty")
        cdef int64_t w = _as_int(owner, "owner")
        cdef int64_t x = _as_int(stp, "stp")
        cdef int64_t t = self.clock if ts is None else _as_int(ts, "ts")
        _check_submit(self.tick, self.clock, MARKET, s, 0, q, 0, w, x, t, -1)
        self.nev = 0
        self.last_batch_n = -1
        self.clock = t
        return self._submit(<int>s, 0, q, w, t, MARKET, 0, <int>x)

    def cancel(self, order_id, qty=0, ts=None):
        """Cancel an order (``qty=0``) or reduce it by ``qty`` lots keeping its priority (a
        reduction >= its open quantity cancels it). Returns the lots cancelled."""
        cdef int64_t oid = _as_int(order_id, "order_id")
        cdef int64_t q = _as_int(qty, "qty")
        cdef int64_t t = self.clock if ts is None else _as_int(ts, "ts")
        _check_cancel(self.clock, q, t, -1)
        if oid < 1 or oid >= self.next_id or self.idmap[oid] < 0:
            self._check_live(oid)
        self.nev = 0
        self.last_batch_n = -1
        self.clock = t
        return self._cancel(oid, q, t)

    def submit_events(self, side, price, qty, owner, ts, order_type, display, stp):
        """``submit(...)`` and then, in one call, ``(order id, last_event_tuples(), remaining(order
        id), top())``. The events also go to the attached log, if any (:meth:`attach_log`)."""
        return self._submit_request(side, price, qty, owner, ts, order_type, display, stp, False)

    def submit_effects(self, side, price, qty, owner, ts, order_type, display, stp):
        """``submit_events(...)`` with only the events that change accounts and open orders
        (FILL, CANCELLED, REFILL) in place of all of them: the market's per-request path
        (:meth:`abmm.market.model.MarketModel._arrive`)."""
        return self._submit_request(side, price, qty, owner, ts, order_type, display, stp, True)

    def cancel_events(self, order_id, ts):
        """``cancel(order_id, 0, ts)`` and then ``(last_event_tuples(), top())`` in one call (the
        events also go to the attached log, if any)."""
        return self._cancel_request(order_id, ts, False)

    def cancel_effects(self, order_id, ts):
        """``cancel_events(...)`` with only the events that change accounts and open orders."""
        return self._cancel_request(order_id, ts, True)

    cdef tuple _submit_request(self, side, price, qty, owner, ts, order_type, display, stp,
                               bint effects):
        cdef int64_t oid = self._submit_py(side, price, qty, owner, ts, order_type, display, stp)
        cdef int32_t oi = self.idmap[oid]
        cdef int64_t rem = 0 if oi < 0 else self.orders[oi].qty + self.orders[oi].hidden
        if self.log_sink is not None:
            self.log_sink.append(self.ev, self.nev, <int>_as_int(order_type, "order_type"),
                                 self.log_sym)
        rows = self._effect_tuples() if effects else self._event_tuples()
        return oid, rows, rem, self._top_tuple()

    cdef tuple _cancel_request(self, order_id, ts, bint effects):
        cdef int64_t oid = _as_int(order_id, "order_id")
        cdef int64_t t = self.clock if ts is None else _as_int(ts, "ts")
        _check_cancel(self.clock, 0, t, -1)
        if oid < 1 or oid >= self.next_id or self.idmap[oid] < 0:
            self._check_live(oid)
        self.nev = 0
        self.last_batch_n = -1
        self.clock = t
        self._cancel(oid, 0, t)
        if self.log_sink is not None:
            self.log_sink.append(self.ev, self.nev, -1, self.log_sym)
        rows = self._effect_tuples() if effects else self._event_tuples()
        return rows, self._top_tuple()

    def attach_log(self, EventSink sink, int32_t sym=0):
        """From now on, ``submit_events`` / ``submit_effects`` and ``cancel_events`` /
        ``cancel_effects`` append their events to ``sink`` (an :class:`EventSink`) as symbol
        ``sym``'s; ``None`` detaches it."""
        self.log_sink = sink
        self.log_sym = sym

    def modify(self, order_id, price, qty, ts=None):
        """Change a resting order's price and/or open quantity. Size down at the same price
        keeps time priority; a price change or size up loses it (and may trade if the new price
        crosses). Returns the order's open quantity afterwards."""
        cdef int64_t oid = _as_int(order_id, "order_id")
        cdef int64_t p = _as_int(price, "price")
        cdef int64_t q = _as_int(qty, "qty")
        cdef int64_t t = self.clock if ts is None else _as_int(ts, "ts")
        _check_modify(self.tick, self.clock, p, q, t, -1)
        self._check_live(oid)
        self.nev = 0
        self.last_batch_n = -1
        self.clock = t
        self._modify(oid, p, q, t)
        cdef int32_t oi = self.idmap[oid]
        return 0 if oi < 0 else self.orders[oi].qty + self.orders[oi].hidden

    # ------------------------------------------------------------------ batch API
    def process(self, msgs):
        """Process an array of ``MSG_DTYPE`` messages in order; returns all their events.

        Every message is checked before any is applied: an invalid one raises an
        ``OrderError`` carrying its ``index`` and the book is unchanged. A cancel or modify whose
        target is unknown or finished is not an error here (it races with fills in any real
        feed): it yields a ``REJECTED`` event with reason ``UNKNOWN_ORDER`` or ``ORDER_NOT_LIVE``.
        """
        V.check_batch_array(msgs, MSG_DTYPE)
        cdef Py_ssize_t n = msgs.shape[0], i
        if n == 0:
            self.nev = 0
            self.last_batch_n = -1
            return self.last_events()
        msgs = np.ascontiguousarray(msgs)
        cdef const uint8_t[::1] raw = msgs.view(np.uint8)
        cdef const Msg* m = <const Msg*>&raw[0]
        self._validate(m, n)
        # pass 2: apply, writing events straight into a buffer sized from the running ratio of
        # events per message
        self.nev = 0
        self.last_batch_n = -1
        # (the first guess only, capped: a stream that once swept a deep book must not make
        # every later batch reserve a huge block; the buffer grows if a batch needs more)
        cdef int64_t per = self.n_events // self.n_msgs + 1 if self.n_msgs else 3
        cdef int64_t est = n * (per if per < 16 else 16) + 64
        self._begin_batch(est)
        try:
            self._apply(m, n)
        finally:
            self.n_msgs += n
            self.n_events += self.nev
            out = self._end_batch()
        return out

    # (pass 1 and pass 2 are functions of their own, not inline in process(): in the large
    # Python-facing function GCC's growth limits would stop inlining the hot helpers)
    cdef int _validate(self, const Msg* m, Py_ssize_t n) except -1:
        """Pass 1 of a batch: check every message, change nothing. The inline test accepts the
        common well-formed submit; anything else goes through the full checks, which raise."""
        cdef int64_t clock = self.clock, tick = self.tick
        cdef const Msg* x
        cdef Py_ssize_t i
        cdef uint32_t w
        for i in range(n):
            x = &m[i]
            # (pass 1 is bound by reading the messages from memory: ~11 ns a message on w2,
            # ~3.5 with the batch already in cache; reading ahead recovers a little of it)
            prefetch(&m[i + MSG_AHEAD if i + MSG_AHEAD < n else n - 1])
            memcpy(&w, &x.action, 4)
            if x.action == 0:
                if not submit_ok(w, x.qty, x.price, x.owner, x.display, x.ts, clock, tick):
                    _check_submit(tick, clock, x.order_type, x.side, x.price, x.qty, x.display,
                                  x.owner, x.stp, x.ts, i)
            elif x.action == 1:
                if not cancel_ok(x.qty, x.ts, clock):
                    _check_cancel(clock, x.qty, x.ts, i)
                if <uint64_t>x.owner > <uint64_t>MAX_OWNER:  # it is echoed in REJECTED events
                    raise InvalidValueError("owner", x.owner, V.EXPECT_OWNER, i)
            elif x.action == 2:
                _check_modify(tick, clock, x.price, x.qty, x.ts, i)
                if <uint64_t>x.owner > <uint64_t>MAX_OWNER:
                    raise InvalidValueError("owner", x.owner, V.EXPECT_OWNER, i)
            else:
                raise InvalidValueError("action", x.action, V.EXPECT_ACTION, i)
            clock = x.ts
        return 0

    cdef int _apply(self, const Msg* m, Py_ssize_t n) except -1:
        """Pass 2 of a batch: apply the (valid) messages."""
        cdef const Msg* x
        cdef const Msg* y
        cdef Py_ssize_t i
        cdef uint8_t reason
        cdef int64_t o
        cdef int32_t v
        # Prefetch what the messages a few places on will touch: in a deep book a cancel's
        # id-map entry and order are cache misses. In a small book everything is in cache and
        # the hints would only cost instructions.
        cdef bint prefetching = self.n_live >= PF_MIN_LIVE
        cdef int64_t j
        for i in range(n):
            if prefetching:
                if i < n - PF_FAR:
                    y = &m[i + PF_FAR]
                    o = y.oid & -<int64_t>((y.action != 0) & (y.oid > 0)
                                           & (y.oid < self.next_id))
                    prefetch(&self.idmap[o])
                if i < n - PF_MID:
                    y = &m[i + PF_MID]
                    o = y.oid & -<int64_t>((y.action != 0) & (y.oid > 0)
                                           & (y.oid < self.next_id))
                    v = self.idmap[o]
                    v = v & -<int32_t>((v >= 0) & (v < self.onext))
                    prefetch_w(&self.orders[v])
                    prefetch_w(&self.links[v])
            if (i & 255) == 0:
                prefetching = self.n_live >= PF_MIN_LIVE
            # the message stream and the event stream: the hardware prefetcher alone leaves
            # much of their latency exposed here (a whole batch's messages do not stay in cache)
            prefetch(&m[i + MSG_AHEAD if i + MSG_AHEAD < n else n - 1])
            j = self.nev + EV_AHEAD
            prefetch_w(&self.ev[j if j < self.evcap else self.evcap - 1])
            x = &m[i]
            self.clock = x.ts
            if x.action == 0:
                self._submit(x.side, x.price, x.qty, x.owner, x.ts, x.order_type, x.display,
                             x.stp)
                continue
            if x.oid < 1 or x.oid >= self.next_id:
                reason = R_UNKNOWN
            elif self.idmap[x.oid] < 0:
                reason = R_NOT_LIVE
            else:
                if x.action == 1:
                    self._cancel(x.oid, x.qty, x.ts)
                else:
                    self._modify(x.oid, x.price, x.qty, x.ts)
                continue
            self._emit(EV_REJECTED, x.side, reason, x.ts, x.oid, x.owner, 0, 0, x.price, x.qty,
                       0)
        return 0

    cdef int _begin_batch(self, int64_t est) except -1:
        """Point the event buffer at a batch block from the pool: one that no array from an
        earlier batch still views (so results a caller keeps are never overwritten), else a new
        one. The pool holds 3 blocks: a loop that keeps the previous result while asking for the
        next still reuses warm memory. Nothing changes if growing the block fails."""
        cdef _EventBuffer buf = None
        cdef PyObject* o
        cdef Py_ssize_t k
        cdef int64_t cap
        for k in range(len(self.pool)):
            o = PyList_GET_ITEM(self.pool, k)  # (borrowed: no reference of our own)
            # referenced by the pool, and by batch_buf if it is the last batch's block: any
            # other reference is an array (or memoryview) a caller still holds
            if refcount(o) == 1 + (o == <PyObject*>self.batch_buf):
                buf = <_EventBuffer>o
                break
        if buf is None:
            buf = _EventBuffer.__new__(_EventBuffer)
            if len(self.pool) < 3:
                self.pool.append(buf)
            else:  # all viewed: replace the oldest (its viewers keep it alive)
                self.pool.pop(0)
                self.pool.append(buf)
        cap = buf.nbytes // sizeof(Event)
        if est > cap:
            buf.data = _grow(buf.data, &cap, sizeof(Event), est, 0)
            buf.nbytes = cap * sizeof(Event)
        self.batch_buf = buf
        self.call_ev = self.ev
        self.call_cap = self.evcap
        self.ev = <Event*>buf.data
        self.evcap = cap
        self.in_batch = True
        return 0

    cdef object _end_batch(self):
        """Restore the per-call buffer; return the batch's events as a view of its block."""
        cdef _EventBuffer buf = self.batch_buf
        buf.data = self.ev  # it may have moved while growing
        buf.nbytes = self.evcap * sizeof(Event)
        cdef int64_t n = self.nev
        self.ev = self.call_ev
        self.evcap = self.call_cap
        self.in_batch = False
        self.nev = 0
        self.last_batch_n = n
        return np.frombuffer(buf, EVENT_DTYPE, n) if n else np.empty(0, EVENT_DTYPE)

    # ------------------------------------------------------------------ queries
    def last_events(self):
        """Events of the last call (per-call API) or the last batch, as an ``EVENT_DTYPE`` array
        (a copy: it stays valid after later calls)."""
        cdef Event* src = self.ev
        cdef int64_t n = self.nev
        if self.last_batch_n >= 0:
            src = <Event*>self.batch_buf.data
            n = self.last_batch_n
        out = np.empty(n, EVENT_DTYPE)
        cdef uint8_t[::1] raw
        if n:
            raw = out.view(np.uint8)
            memcpy(&raw[0], src, n * sizeof(Event))
        return out

    def last_event_tuples(self):
        """The same events as a list of tuples in ``EVENT_DTYPE.names`` order (cheaper than an
        array for the few events of one call)."""
        return self._event_tuples()

    cdef list _event_tuples(self):
        cdef Event* src = self.ev
        cdef int64_t n = self.nev, i
        if self.last_batch_n >= 0:
            src = <Event*>self.batch_buf.data
            n = self.last_batch_n
        cdef Event* e
        out = []
        for i in range(n):
            e = &src[i]
            out.append((e.ts, e.order_id, e.owner, e.other_id, e.other_owner, e.price, e.qty,
                        e.remaining, e.kind, e.side, e.reason))
        return out

    def top(self):
        """``(best_bid, bid_qty, best_ask, ask_qty)``: displayed lots at the touch; a missing side
        is ``(None, 0)``. O(1)."""
        return self._top_tuple()

    cdef tuple _top_tuple(self):
        # the same tuple object while the top is unchanged (most requests leave it as it was)
        cdef int32_t nb = self.sn[BUY], na = self.sn[SELL]
        cdef int64_t bp = -1, bq = 0, ap = -1, aq = 0
        if nb:
            bp = self.levels[self.slv[BUY][nb - 1]].price
            bq = self.levels[self.slv[BUY][nb - 1]].qty
        if na:
            ap = self.levels[self.slv[SELL][na - 1]].price
            aq = self.levels[self.slv[SELL][na - 1]].qty
        if (self.top_cache is None or bp != self.top_c[0] or bq != self.top_c[1]
                or ap != self.top_c[2] or aq != self.top_c[3]):
            self.top_c[0] = bp
            self.top_c[1] = bq
            self.top_c[2] = ap
            self.top_c[3] = aq
            self.top_cache = (bp if nb else None, bq, ap if na else None, aq)
        return self.top_cache

    cdef list _effect_tuples(self):
        # the FILL, CANCELLED and REFILL events of the last call: what changes accounts and
        # open orders (submit_effects / cancel_effects); most requests have none
        cdef Event* src = self.ev
        cdef int64_t n = self.nev, i
        cdef Event* e
        out = []
        for i in range(n):
            e = &src[i]
            if e.kind == EV_FILL or e.kind == EV_CANCELLED or e.kind == EV_REFILL:
                out.append((e.ts, e.order_id, e.owner, e.other_id, e.other_owner, e.price, e.qty,
                            e.remaining, e.kind, e.side, e.reason))
        return out

    def __len__(self):
        """Number of live (resting) orders."""
        return self.n_live

    def best_bid(self):
        """Highest bid price, or None if the bid side is empty. O(1)."""
        if self.sn[BUY] == 0:
            return None
        return self.skeys[BUY][self.sn[BUY] - 1]

    def best_ask(self):
        """Lowest ask price, or None if the ask side is empty. O(1)."""
        if self.sn[SELL] == 0:
            return None
        return -self.skeys[SELL][self.sn[SELL] - 1]

    def depth(self, side, n=None):
        """Top ``n`` levels of ``side`` (all if None), best first: ``(prices, qtys, counts)``,
        three int64 arrays of displayed lots and order counts. O(n)."""
        cdef int64_t s = _as_int(side, "side")
        if s != 0 and s != 1:
            raise InvalidSideError("side", s, V.EXPECT_SIDE)
        cdef int64_t total = self.sn[s], k
        if n is not None:
            k = _as_int(n, "n")
            if k < 0:
                raise InvalidValueError("n", k, "a non-negative number of levels")
            total = min(total, k)
        prices = np.empty(total, np.int64)
        qtys = np.empty(total, np.int64)
        counts = np.empty(total, np.int64)
        cdef int64_t[::1] pv = prices, qv = qtys, cv = counts
        cdef Py_ssize_t i
        cdef Level* L
        for i in range(total):
            L = &self.levels[self.slv[s][self.sn[s] - 1 - i]]
            pv[i] = L.price
            qv[i] = L.qty
            cv[i] = L.count
        return prices, qtys, counts

    def depth_qty(self, side, n):
        """Displayed lots in the top ``n`` levels of ``side``: ``int(depth(side, n)[1].sum())``
        without the arrays. O(n)."""
        cdef int64_t s = _as_int(side, "side")
        if s != 0 and s != 1:
            raise InvalidSideError("side", s, V.EXPECT_SIDE)
        cdef int64_t k = _as_int(n, "n")
        if k < 0:
            raise InvalidValueError("n", k, "a non-negative number of levels")
        cdef int64_t total = min(<int64_t>self.sn[s], k), acc = 0
        cdef Py_ssize_t i
        for i in range(total):
            acc += self.levels[self.slv[s][self.sn[s] - 1 - i]].qty
        return acc

    cdef int64_t _lookup(self, object order_id) except? -1:
        cdef int64_t oid = _as_int(order_id, "order_id")
        if oid < 1 or oid >= self.next_id:
            raise UnknownOrderError(oid)
        return oid

    def status(self, order_id):
        """Status of an order id (RESTING or its terminal state). O(1)."""
        cdef int64_t oid = self._lookup(order_id)
        cdef int32_t v = self.idmap[oid]
        return OrderStatus(S_RESTING if v >= 0 else -v)

    def remaining(self, order_id):
        """Open quantity (displayed + hidden) of an order; 0 once it is finished. O(1)."""
        cdef int64_t oid = self._lookup(order_id)
        cdef int32_t oi = self.idmap[oid]
        return 0 if oi < 0 else self.orders[oi].qty + self.orders[oi].hidden

    def queue_position(self, order_id):
        """Displayed lots ahead of a resting order at its price level. O(orders ahead)."""
        cdef int64_t oid = self._lookup(order_id)
        self._check_live(oid)
        cdef int32_t oi = self.idmap[oid]
        cdef int32_t j = self.levels[self.orders[oi].level].head
        cdef int64_t ahead = 0
        while j != oi:
            ahead += self.orders[j].qty
            j = self.links[j].next
        return ahead

    def live_orders(self):
        """Every live order as an ``ORDER_DTYPE`` array, in priority order (bids best to worst,
        then asks best to worst; queue order within a level). O(live orders)."""
        cdef int s
        cdef int32_t j, oi
        cdef Order* O
        rows = []
        for s in range(2):
            for j in range(self.sn[s] - 1, -1, -1):
                oi = self.levels[self.slv[s][j]].head
                while oi >= 0:
                    O = &self.orders[oi]
                    rows.append((O.id, O.side, O.price, O.qty, O.hidden, O.peak, O.owner, O.ts,
                                 O.otype, O.stp))
                    oi = self.links[oi].next
        return np.array(rows, ORDER_DTYPE)

    def stats(self):
        """Counters since creation: fills, traded volume and where every accepted lot went."""
        return {
            "fills": self.n_fills,
            "volume": self.volume,
            "live_orders": self.n_live,
            "next_id": self.next_id,
            "accepted_qty": self.accepted_qty,
            "cancelled_qty": self.cancelled_qty,
            "expired_qty": self.expired_qty,
            "rejected_qty": self.rejected_qty,
            "resting_qty": self._resting_qty(),
        }

    def _resting_qty(self):
        cdef int64_t total = 0
        cdef int s
        cdef int32_t j, oi
        for s in range(2):
            for j in range(self.sn[s]):
                oi = self.levels[self.slv[s][j]].head
                while oi >= 0:
                    total += self.orders[oi].qty + self.orders[oi].hidden
                    oi = self.links[oi].next
        return total

    def _check(self):
        """Assert every invariant (O(n); for tests): levels sorted and non-empty, book not
        crossed, queues well linked, level totals equal their orders, the id map consistent,
        quantity conserved."""
        bb, ba = self.best_bid(), self.best_ask()
        assert bb is None or ba is None or bb < ba, f"crossed book: bid {bb} >= ask {ba}"
        cdef int s
        cdef int32_t j, oi, prev, count
        cdef int64_t qty, live = 0, resting = 0, key
        cdef Level* L
        cdef Order* O
        for s in range(2):
            for j in range(self.sn[s]):
                if j:
                    assert self.skeys[s][j - 1] < self.skeys[s][j], "levels out of order"
                L = &self.levels[self.slv[s][j]]
                key = L.price if s == BUY else -L.price
                assert self.skeys[s][j] == key, "level key and price disagree"
                assert L.side == s, "level side"
                assert L.count > 0 and L.head >= 0, f"empty level {L.price}"
                qty = 0
                count = 0
                prev = -1
                oi = L.head
                while oi >= 0:
                    O = &self.orders[oi]
                    assert self.links[oi].prev == prev, "broken queue link"
                    assert O.level == self.slv[s][j] and O.side == s and O.price == L.price
                    assert O.qty > 0 and O.hidden >= 0 and (O.hidden == 0 or O.peak > 0)
                    assert self.idmap[O.id] == oi, f"id map disagrees for order {O.id}"
                    qty += O.qty
                    count += 1
                    resting += O.qty + O.hidden
                    prev = oi
                    oi = self.links[oi].next
                assert L.tail == prev, "tail link"
                assert qty == L.qty and count == L.count, f"level {L.price} totals"
                live += count
        assert live == self.n_live, "live count and levels disagree"
        cdef int32_t li, used = 0
        for li in range(1, self.lnext):
            used += self.levels[li].price != 0
        # every slot with a price is a level in a side array (so a level-cache hit, which
        # checks price and side, is the level itself), every free slot has price 0
        assert self.levels[0].price == 0 and used == self.sn[BUY] + self.sn[SELL], "level pool"
        cdef int64_t i, resting_ids = 0
        for i in range(1, self.next_id):
            if self.idmap[i] >= 0:
                resting_ids += 1
            else:
                assert 1 <= -self.idmap[i] <= 4, f"bad status for order {i}"
        assert resting_ids == live, "status of live orders"
        total = (2 * self.volume + self.cancelled_qty + self.expired_qty + self.rejected_qty
                 + resting)
        assert self.accepted_qty == total, f"quantity not conserved: {self.accepted_qty} != {total}"
