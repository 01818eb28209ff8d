# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""C versions of the agents' random-draw helpers in :mod:`abmm.agents.base` (``Latency``,
``_Draws``, ``Uniforms``), built as ``abmm.agents._crng`` from ``cython_ext/_crng.pyx``.

They draw exactly what the Python ones draw, value for value: the same numpy calls for the
blocks of standard draws, the same arithmetic on them (``libm``'s ``exp``, which Python's
``math.exp`` calls; truncation toward zero, as ``int()``), and uniforms read straight from the
generator's bit generator by its ``next_double`` -- the function ``Generator.random`` fills its
array with -- so a run's event log is the same bit for bit with or without them
(tests/test_compiled.py). ``ABMM_PURE_PYTHON=1`` runs the Python ones."""

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.math cimport exp
from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from *:
    """
    /* numpy's bitgen_t (numpy/random/bitgen.h), a stable public layout */
    typedef struct abmm_bitgen {
        void *state;
        uint64_t (*next_uint64)(void *st);
        uint32_t (*next_uint32)(void *st);
        double (*next_double)(void *st);
        uint64_t (*next_raw)(void *st);
    } abmm_bitgen_t;
    """
    ctypedef struct abmm_bitgen_t:
        void* state
        double (*next_double)(void* st) noexcept nogil


cdef enum:
    BLOCK = 256  # abmm.agents.base._BLOCK

cdef enum:
    K_CONSTANT = 0
    K_UNIFORM = 1
    K_EXPONENTIAL = 2
    K_LOGNORMAL = 3

cdef double _INT64_LIMIT = 9.2e18


cdef class Uniforms:
    """``generator.random(n).tolist()`` without the array: the same doubles, in the same
    order, read from the generator's bit generator."""

    cdef abmm_bitgen_t* _bg
    cdef object _capsule
    cdef readonly object generator

    def __cinit__(self, generator):
        self.generator = generator
        self._capsule = generator.bit_generator.capsule
        self._bg = <abmm_bitgen_t*>PyCapsule_GetPointer(self._capsule, "BitGenerator")

    def __reduce__(self):
        return (Uniforms, (self.generator,))

    def take3(self):
        """Three uniforms in [0, 1) (a tuple of floats)."""
        cdef abmm_bitgen_t* g = self._bg
        cdef double a = g.next_double(g.state)
        cdef double b = g.next_double(g.state)
        cdef double c = g.next_double(g.state)
        return (a, b, c)

    def take4(self):
        """Four uniforms in [0, 1) (a tuple of floats)."""
        cdef abmm_bitgen_t* g = self._bg
        cdef double a = g.next_double(g.state)
        cdef double b = g.next_double(g.state)
        cdef double c = g.next_double(g.state)
        cdef double d = g.next_double(g.state)
        return (a, b, c, d)


cdef class _Draws:
    """Buffered standard exponential draws from a generator (Poisson wake gaps)."""

    cdef readonly object rng
    cdef object fn
    cdef double buf[BLOCK]
    cdef int i
    cdef int n

    def __cinit__(self, rng):
        self.rng = rng
        self.fn = rng.standard_exponential
        self.i = 0
        self.n = 0

    def __reduce__(self):
        return (_rebuild_draws, (self.rng, [self.buf[j] for j in range(self.n)], self.i))

    cpdef double next(self) except? -1.0:
        cdef double[::1] fresh
        cdef int j
        if self.i == self.n:
            fresh = self.fn(BLOCK)
            for j in range(BLOCK):
                self.buf[j] = fresh[j]
            self.n = BLOCK
            self.i = 0
        j = self.i
        self.i = j + 1
        return self.buf[j]


def _rebuild_draws(rng, buf, i):
    cdef _Draws d = _Draws(rng)
    cdef int j
    for j in range(len(buf)):
        d.buf[j] = buf[j]
    d.n = len(buf)
    d.i = i
    return d


cdef class Latency:
    """A latency distribution in ns: ``constant`` (value), ``uniform`` (low, high),
    ``exponential`` (mean, plus ``low``), ``lognormal`` (median, sigma, plus ``low``).

    Exponential and lognormal latencies are drawn in blocks of ``_BLOCK`` standard draws and
    transformed when drawn into the block (the same arithmetic, value for value, as one draw at
    a time): :meth:`draw` is then one array read."""

    cdef readonly str kind
    cdef readonly object a
    cdef readonly object b
    cdef readonly object low
    cdef readonly object rng
    cdef int _k
    cdef double _a
    cdef double _b
    cdef int64_t _low
    cdef int64_t _buf[BLOCK]
    cdef int _i
    cdef int _n

    def __init__(self, str kind, a, b, low, rng):
        if kind not in ("constant", "uniform", "exponential", "lognormal"):
            raise ValueError(f"unknown latency kind {kind!r}")
        self.kind, self.a, self.b, self.low, self.rng = kind, a, b, low, rng
        self._k = ("constant", "uniform", "exponential", "lognormal").index(kind)
        if self._k >= K_EXPONENTIAL:
            self._a = a
            self._b = b
            self._low = low
        self._i = 0
        self._n = 0

    def __reduce__(self):
        return (_rebuild_latency, (self.kind, self.a, self.b, self.low, self.rng,
                                   [self._buf[j] for j in range(self._n)], self._i))

    cdef int _refill(self) except -1:
        cdef double[::1] x
        cdef double v
        cdef int j
        if self._k == K_EXPONENTIAL:
            x = self.rng.standard_exponential(BLOCK)
            for j in range(BLOCK):
                v = self._a * x[j]
                if not (-_INT64_LIMIT < v < _INT64_LIMIT):
                    raise OverflowError(f"latency draw {v} out of range")
                self._buf[j] = self._low + <int64_t>v
        else:
            x = self.rng.standard_normal(BLOCK)
            for j in range(BLOCK):
                v = self._a * exp(self._b * x[j])
                if not (-_INT64_LIMIT < v < _INT64_LIMIT):
                    raise OverflowError(f"latency draw {v} out of range")
                self._buf[j] = self._low + <int64_t>v
        self._n = BLOCK
        return 0

    cpdef object draw(self):
        """Draw one latency (ns)."""
        cdef int i = self._i
        if i < self._n:
            self._i = i + 1
            return self._buf[i]
        if self._k == K_CONSTANT:
            return self.a
        if self._k == K_UNIFORM:
            return int(self.rng.integers(int(self.a), int(self.b) + 1))
        self._refill()
        self._i = 1
        return self._buf[0]


def _rebuild_latency(kind, a, b, low, rng, buf, i):
    cdef Latency lat = Latency(kind, a, b, low, rng)
    cdef int j
    for j in range(len(buf)):
        lat._buf[j] = buf[j]
    lat._n = len(buf)
    lat._i = i
    return lat


cdef class Wake:
    """Wake-up schedule: ``fixed`` (every ``interval``, random phase), ``poisson`` (exponential
    gaps of mean ``interval``), or ``once`` (a single wake at a uniform random time)."""

    cdef readonly str kind
    cdef readonly object interval
    cdef int _k  # 0 once, 1 fixed, 2 poisson
    cdef double _iv

    def __init__(self, str kind, interval):
        if kind not in ("once", "fixed", "poisson"):
            raise ValueError(f"unknown wake kind {kind!r}")
        self.kind, self.interval = kind, interval
        self._k = ("once", "fixed", "poisson").index(kind)
        self._iv = interval

    def __reduce__(self):
        return (Wake, (self.kind, self.interval))

    def first(self, rng, start, end):
        """The first wake time (ns): uniform in ``[start, end)`` for ``once``, a random phase
        in the first ``interval`` for ``fixed``, an exponential gap after ``start`` for
        ``poisson``."""
        if self._k == 0:
            return start + int(rng.integers(0, max(end - start, 1)))
        if self._k == 1:
            return start + int(rng.integers(0, max(self.interval, 1)))
        return start + int(rng.exponential(self.interval))

    cpdef object next(self, draws, now):
        """The wake time (ns) after ``now``: ``now + interval`` (fixed), ``now + 1 +`` an
        exponential gap (poisson), or None (``once``: no further wake)."""
        cdef double g, v
        if self._k == 0:
            return None
        if self._k == 1:
            return now + self.interval
        if type(draws) is _Draws:
            g = (<_Draws>draws).next()
        else:
            g = draws.next()
        v = self._iv * g
        if not (-_INT64_LIMIT < v < _INT64_LIMIT):
            raise OverflowError(f"wake gap {v} out of range")
        return (now + 1) + <int64_t>v


cdef class HorizonActivity:
    """The market's activity seen over several horizons (see
    :class:`abmm.agents.base.PyHorizonActivity`): for each half-life ``h`` the ratio
    ``sqrt(EWMA_h / EWMA_ref)`` of squared mid moves per second, updated lazily, at most once
    per ``min_dt_ns`` of market time."""

    cdef public list vols
    cdef public object ref
    cdef public object min_dt
    cdef public object t_last
    cdef public list values

    def __init__(self, horizons_ns, ref_ns, min_dt_ns=1_000_000_000):
        from abmm.signals.volatility import MidVolatility

        self.vols = [MidVolatility(h, halflife_unit="ns", bias_correct=True) for h in horizons_ns]
        self.ref = MidVolatility(ref_ns, halflife_unit="ns", bias_correct=True)
        self.min_dt = min_dt_ns
        self.t_last = -(1 << 62)
        self.values = [1.0] * len(horizons_ns)

    def __reduce__(self):
        return (_rebuild_state, (HorizonActivity, {
            "vols": self.vols, "ref": self.ref, "min_dt": self.min_dt, "t_last": self.t_last,
            "values": self.values}))

    def _set_state(self, d):
        self.vols, self.ref, self.min_dt = d["vols"], d["ref"], d["min_dt"]
        self.t_last, self.values = d["t_last"], d["values"]

    cpdef list update(self, model):
        """The ratios per horizon (updated first when ``min_dt_ns`` has passed)."""
        cdef Py_ssize_t i
        now = model.now
        if now - self.t_last >= self.min_dt:
            self.t_last = now
            mid = model.mid()
            if mid is not None:
                self.ref.update(mid, now)
                ref = self.ref.variance
                for i in range(len(self.vols)):
                    v = self.vols[i]
                    v.update(mid, now)
                    self.values[i] = 1.0 if ref <= 0 else (v.variance / ref) ** 0.5
        return self.values


cdef class FlowImbalance:
    """The recent imbalance of the market's taker flow, in [-1, 1] (see
    :class:`abmm.agents.base.PyFlowImbalance`), updated lazily, at most once per
    ``min_dt_ns``."""

    cdef public object halflife
    cdef public object min_dt
    cdef public object t_last
    cdef public object signed
    cdef public object vol
    cdef public object s
    cdef public object v
    cdef public object value

    def __init__(self, halflife_ns, min_dt_ns=1_000_000_000):
        self.halflife = halflife_ns
        self.min_dt = min_dt_ns
        self.t_last = None
        self.signed = 0
        self.vol = 0
        self.s = 0.0
        self.v = 0.0
        self.value = 0.0

    def __reduce__(self):
        return (_rebuild_state, (FlowImbalance, {
            k: getattr(self, k) for k in ("halflife", "min_dt", "t_last", "signed", "vol", "s",
                                          "v", "value")}))

    def _set_state(self, d):
        self.halflife, self.min_dt, self.t_last = d["halflife"], d["min_dt"], d["t_last"]
        self.signed, self.vol, self.s, self.v, self.value = (d["signed"], d["vol"], d["s"],
                                                             d["v"], d["value"])

    cpdef object update(self, model):
        """The imbalance (updated first when ``min_dt_ns`` has passed)."""
        now = model.now
        if self.t_last is None:
            self.t_last, self.signed, self.vol = now, model.signed_volume, model.volume
        elif now - self.t_last >= self.min_dt:
            decay = 0.5 ** ((now - self.t_last) / self.halflife)
            self.s = self.s * decay + (model.signed_volume - self.signed)
            self.v = self.v * decay + (model.volume - self.vol)
            self.t_last, self.signed, self.vol = now, model.signed_volume, model.volume
            self.value = self.s / self.v if self.v > 0 else 0.0
        return self.value


def _rebuild_state(cls, state):
    obj = cls.__new__(cls)
    obj._set_state(state)
    return obj


cdef void _sort_unique(int64_t* a, Py_ssize_t* n) noexcept:
    # insertion sort then drop repeats (a ladder has a handful of prices)
    cdef Py_ssize_t i, j, m = n[0]
    cdef int64_t x
    for i in range(1, m):
        x = a[i]
        j = i - 1
        while j >= 0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x
    if m == 0:
        return
    j = 0
    for i in range(1, m):
        if a[i] != a[j]:
            j += 1
            a[j] = a[i]
    n[0] = j + 1


def ladder_plan(dict open_orders, bid, ask, levels, spacing):
    """``(cancels, sends)`` for :meth:`abmm.agents.base.OrderMethods.requote_ladder`: the ids of
    the open orders to cancel (dict order) and the ``(side, price)`` to send (sorted), exactly
    as ``abmm.agents.base.py_ladder_plan``, which takes the cases this one does not (prices
    other than ints, more than 64 levels)."""
    if not (type(bid) is int or bid is None) or not (type(ask) is int or ask is None) \
            or type(levels) is not int or type(spacing) is not int or levels > 64:
        from abmm.agents.base import py_ladder_plan
        return py_ladder_plan(open_orders, bid, ask, levels, spacing)
    cdef Py_ssize_t lv = levels if levels > 0 else 0
    cdef Py_ssize_t nb = 0, na = 0, i, k
    cdef int64_t sp = spacing, p
    cdef int64_t wb[64]
    cdef int64_t wa[64]
    cdef char hb[64]
    cdef char ha[64]
    if bid is not None:
        for i in range(lv):
            wb[i] = <int64_t>bid - i * sp
        nb = lv
        _sort_unique(wb, &nb)
    if ask is not None:
        for i in range(lv):
            wa[i] = <int64_t>ask + i * sp
        na = lv
        _sort_unique(wa, &na)
    for i in range(nb):
        hb[i] = 0
    for i in range(na):
        ha[i] = 0
    cancels = []
    cdef object side
    for oid, o in open_orders.items():
        side = o[0]
        k = -1
        if side == 0 or side == 1:
            p = o[1]
            if side == 0:
                for i in range(nb):
                    if wb[i] == p:
                        if not hb[i]:
                            hb[i] = 1
                            k = i
                        break
            else:
                for i in range(na):
                    if wa[i] == p:
                        if not ha[i]:
                            ha[i] = 1
                            k = i
                        break
        if k < 0:
            cancels.append(oid)
    sends = []
    for i in range(nb):
        if not hb[i] and wb[i] >= 1:
            sends.append((0, wb[i]))
    for i in range(na):
        if not ha[i] and wa[i] >= 1:
            sends.append((1, wa[i]))
    return cancels, sends
