# C-level records of the compiled order book (cython_ext/_cbook.pyx), one field per line.
# The engine knows integers only: ticks, lots, nanoseconds, owner ids, order ids.
from libc.stdint cimport int64_t, int32_t, uint8_t, uint32_t

cdef extern from *:
    """
    #define ABMM_INT64_MAX 9223372036854775807LL
    """
    int64_t ABMM_INT64_MAX

ctypedef struct Msg:            # one batch message; layout == abmm.engine.types.MSG_DTYPE
    int64_t ts                  # ns; must not go backwards
    int64_t oid                 # target order id of a CANCEL / MODIFY
    int64_t owner               # agent id of a SUBMIT
    int64_t price               # ticks (0 for a market order)
    int64_t qty                 # lots (CANCEL: 0 = all, else reduce by)
    int64_t display             # iceberg display size, 0 = plain order
    uint8_t action              # Action: SUBMIT, CANCEL, MODIFY
    uint8_t side                # 0 buy, 1 sell
    uint8_t order_type          # OrderType
    uint8_t stp                 # SelfTrade mode of a SUBMIT
    uint32_t pad

ctypedef struct Event:          # one event (64 bytes); layout == abmm.engine.types.EVENT_DTYPE
    int64_t ts
    int64_t order_id            # the order concerned (FILL: maker)
    int64_t other_id            # FILL: taker order id
    int64_t price
    int64_t qty
    int64_t remaining
    int32_t owner               # owner of order_id
    int32_t other_owner         # FILL: taker owner
    uint8_t kind                # EventKind
    uint8_t side
    uint8_t reason              # Reason
    uint8_t pad0
    uint32_t pad1

ctypedef struct Order:          # a live order, in a pool: 64 bytes, one cache line (the pool
    int64_t id                  # is 64-byte aligned), so touching an order is one miss at most
    int64_t price
    int64_t qty                 # displayed open lots (> 0 while live)
    int64_t hidden              # iceberg reserve
    int64_t peak                # iceberg display size (0 = plain)
    int64_t ts                  # time priority was last set
    int32_t owner               # 0 .. 2**31 - 1 (checked on entry)
    int32_t level               # index of its level in the level pool
    uint8_t side
    uint8_t otype
    uint8_t stp
    uint8_t pad0
    uint32_t pad1

ctypedef struct Link:           # an order's queue links, in an array parallel to the order pool
    int32_t prev                # (8 bytes an order: a cancel's neighbours are usually in cache)
    int32_t next                # previous / next order in the level queue (-1: head / tail);
                                # next is the free-list link while the slot is free

ctypedef struct Level:          # a price level, in a pool; a FIFO queue of orders
    int64_t price               # 0 while the slot is free (slot 0: never used)
    int64_t qty                 # displayed lots at this level
    int32_t head                # first order in time priority (-1: empty)
    int32_t tail                # last order
    int32_t count               # orders at this level; free-list link when free
    int32_t side
