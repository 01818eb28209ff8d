# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The market's event queue in C: a binary min-heap on ``(time, sequence)`` keys held in C
arrays, with the payloads in a Python list kept in heap order.

Same contract as the pure-Python :class:`abmm.market.kernel.PyEventQueue` (which it replaces when
built): events pop in ``(time, push order)`` order, so the two give the same simulation event for
event. Keys are unique (the sequence number), so the pop order does not depend on how the heap
breaks ties. Measured against ``heapq`` on tuples in ``benchmarks/bench_market.py`` (the
whole market, compiled and not)."""

from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, realloc
from cpython.ref cimport PyObject


cdef extern from "Python.h":
    # raw forms (no reference counting): the sifts move borrowed pointers between slots, every
    # object ending in exactly one slot, as heapq does in C
    PyObject* _get "PyList_GET_ITEM" (object lst, Py_ssize_t i)
    void _set "PyList_SET_ITEM" (object lst, Py_ssize_t i, PyObject* o)


cdef inline bint _less(int64_t ta, int64_t sa, int64_t tb, int64_t sb) noexcept nogil:
    return ta < tb or (ta == tb and sa < sb)


cdef class EventQueue:
    """Min-queue of events by (time, insertion order)."""

    cdef int64_t* _t
    cdef int64_t* _s
    cdef int* _k
    cdef list _p
    cdef Py_ssize_t _n
    cdef Py_ssize_t _cap
    cdef public int64_t _seq

    def __cinit__(self):
        self._cap = 1024
        self._t = <int64_t*>malloc(self._cap * sizeof(int64_t))
        self._s = <int64_t*>malloc(self._cap * sizeof(int64_t))
        self._k = <int*>malloc(self._cap * sizeof(int))
        if self._t == NULL or self._s == NULL or self._k == NULL:
            raise MemoryError()
        self._p = []
        self._n = 0
        self._seq = 0

    def __dealloc__(self):
        free(self._t)
        free(self._s)
        free(self._k)

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = self._cap * 2
        cdef int64_t* t = <int64_t*>realloc(self._t, cap * sizeof(int64_t))
        if t == NULL:
            raise MemoryError()
        self._t = t
        cdef int64_t* s = <int64_t*>realloc(self._s, cap * sizeof(int64_t))
        if s == NULL:
            raise MemoryError()
        self._s = s
        cdef int* k = <int*>realloc(self._k, cap * sizeof(int))
        if k == NULL:
            raise MemoryError()
        self._k = k
        self._cap = cap
        return 0

    cdef inline void _place(self, Py_ssize_t i, int64_t t, int64_t s, int k, PyObject* obj):
        self._t[i] = t
        self._s[i] = s
        self._k[i] = k
        _set(self._p, i, obj)

    cdef void _sift_up(self, Py_ssize_t i):
        """Move the entry at ``i`` up to its place (heapq's ``_siftdown``)."""
        cdef int64_t t = self._t[i], s = self._s[i]
        cdef int k = self._k[i]
        cdef list p = self._p
        cdef PyObject* obj = _get(p, i)
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if _less(t, s, self._t[parent], self._s[parent]):
                self._t[i] = self._t[parent]
                self._s[i] = self._s[parent]
                self._k[i] = self._k[parent]
                _set(p, i, _get(p, parent))
                i = parent
            else:
                break
        self._place(i, t, s, k, obj)

    cdef void _sift_down(self, Py_ssize_t i):
        """Move the entry at ``i`` down to its place."""
        cdef Py_ssize_t n = self._n, c
        cdef int64_t t = self._t[i], s = self._s[i]
        cdef int k = self._k[i]
        cdef list p = self._p
        cdef PyObject* obj = _get(p, i)
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and _less(self._t[c + 1], self._s[c + 1], self._t[c], self._s[c]):
                c += 1
            if _less(self._t[c], self._s[c], t, s):
                self._t[i] = self._t[c]
                self._s[i] = self._s[c]
                self._k[i] = self._k[c]
                _set(p, i, _get(p, c))
                i = c
            else:
                break
        self._place(i, t, s, k, obj)

    cpdef push(self, int64_t t, int kind, object payload):
        """Schedule ``(kind, payload)`` at time ``t`` (ns); equal times keep push order."""
        if self._n == self._cap:
            self._grow()
        self._seq += 1
        cdef Py_ssize_t i = self._n
        self._t[i] = t
        self._s[i] = self._seq
        self._k[i] = kind
        self._p.append(payload)
        self._n = i + 1
        self._sift_up(i)

    cpdef tuple pop_due(self, int64_t t_end):
        """The earliest event ``(t, kind, payload)`` if it is due by ``t_end``, removed from the
        queue; else None."""
        cdef Py_ssize_t n = self._n
        if n == 0 or self._t[0] > t_end:
            return None
        cdef int64_t t = self._t[0]
        cdef int k = self._k[0]
        cdef list p = self._p
        cdef object payload = p[0]
        cdef object last = p.pop()
        n -= 1
        self._n = n
        if n > 0:
            self._t[0] = self._t[n]
            self._s[0] = self._s[n]
            self._k[0] = self._k[n]
            p[0] = last
            self._sift_down(0)
        return (t, k, payload)

    def entries(self) -> list:
        """Every queued ``(t, seq, kind, payload)``, in heap order (not sorted)."""
        return [(self._t[i], self._s[i], self._k[i], self._p[i]) for i in range(self._n)]

    def _load(self, list entries):
        """Replace the contents by ``entries`` (``(t, seq, kind, payload)``) and re-heapify."""
        cdef Py_ssize_t i, n = len(entries)
        while self._cap < n:
            self._grow()
        self._p = [e[3] for e in entries]
        for i in range(n):
            e = entries[i]
            self._t[i] = e[0]
            self._s[i] = e[1]
            self._k[i] = e[2]
        self._n = n
        for i in range(n // 2 - 1, -1, -1):
            self._sift_down(i)

    def remove(self, predicate) -> int:
        """Drop every event for which ``predicate(kind, payload)`` is true; returns how many."""
        es = self.entries()
        kept = [e for e in es if not predicate(e[2], e[3])]
        n = len(es) - len(kept)
        if n:
            self._load(kept)
        return n

    def shift(self, int64_t before, int64_t gap) -> None:
        """Move every event due before ``before`` by ``gap`` ns (a session break)."""
        self._load([(t + gap, s, k, p) if t < before else (t, s, k, p)
                    for t, s, k, p in self.entries()])

    def peek_time(self):
        """Time of the earliest event, or None if empty."""
        return self._t[0] if self._n else None

    def __len__(self) -> int:
        return self._n

    def __reduce__(self):
        return (_rebuild, (self.entries(), self._seq))


def _rebuild(entries, seq):
    q = EventQueue()
    q._load(list(entries))
    q._seq = seq
    return q
