# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""``abmm.signals.volatility.MidVolatility`` in C (``abmm.signals._cvol``, built from
``cython_ext/_cvol.pyx``): the same streaming EWMA of squared mid changes, the same
floating-point operations in the same order (``libm``'s ``pow`` and ``sqrt``, which Python's
``**`` and ``math.sqrt`` call), so every estimate is the same bit for bit
(tests/signals/test_cvol.py); ``ABMM_PURE_PYTHON=1`` runs the Python one."""

from libc.math cimport fabs, pow, sqrt


cdef class MidVolatility:
    """Streaming EWMA of squared mid changes per second (ticks^2 / s); see
    :class:`abmm.signals.volatility.PyMidVolatility` for the rules and options."""

    cdef readonly object halflife
    cdef readonly bint by_time
    cdef readonly object interval_ns
    cdef readonly bint first
    cdef readonly object cap
    cdef readonly double cap_floor
    cdef readonly bint bias_correct
    cdef readonly double alpha
    cdef public double var
    cdef public double decay
    cdef public Py_ssize_t n
    cdef public object prev
    cdef public object t_prev
    cdef double _hl
    cdef bint _has_cap
    cdef double _cap
    cdef bint _has_iv

    def __init__(self, halflife, *, str halflife_unit="obs", interval_ns=None, str start="zero",
                 cap=None, cap_floor=1.0, bias_correct=False):
        if not halflife > 0:
            raise ValueError(f"halflife must be > 0, got {halflife!r}")
        if halflife_unit not in ("obs", "ns"):
            raise ValueError(f"halflife_unit must be 'obs' or 'ns', not {halflife_unit!r}")
        if start not in ("zero", "first"):
            raise ValueError(f"start must be 'zero' or 'first', not {start!r}")
        if interval_ns is not None and not interval_ns > 0:
            raise ValueError(f"interval_ns must be > 0, got {interval_ns!r}")
        if cap is not None and not cap > 0:
            raise ValueError(f"cap must be > 0, got {cap!r}")
        self.halflife = halflife
        self.by_time = halflife_unit == "ns"
        self.interval_ns = interval_ns
        self.first = start == "first"
        self.cap = cap
        self.cap_floor = cap_floor
        self.bias_correct = bool(bias_correct)
        self.alpha = 1 - 0.5 ** (1 / halflife)
        self._hl = halflife
        self._has_cap = cap is not None
        self._cap = cap if cap is not None else 0.0
        self._has_iv = interval_ns is not None
        self.reset()

    def __reduce__(self):
        return (_rebuild, (self._args(), (self.var, self.decay, self.n, self.prev, self.t_prev)))

    def _args(self):
        return (self.halflife, "ns" if self.by_time else "obs", self.interval_ns,
                "first" if self.first else "zero", self.cap, self.cap_floor, self.bias_correct)

    cpdef reset(self):
        """Forget everything (no reference mid, no estimate)."""
        self.var = 0.0
        self.decay = 1.0
        self.n = 0
        self.prev = None
        self.t_prev = 0

    cpdef double update(self, mid, t_ns=0) except? -1.0:
        """Add the mid at ``t_ns`` (``None``/NaN: a one-sided book, skipped); returns
        ``value``."""
        cdef double m, p, r2, w, lim, dtd
        if mid is None or mid != mid:
            return self.value
        prev, t_prev = self.prev, self.t_prev
        self.prev, self.t_prev = mid, t_ns
        if prev is None:
            return self.value
        # Python's arithmetic, step by step: dt an exact integer (converted to a double as
        # Python's true division converts it), x ** 2 as pow(|x|, 2) (CPython's float_pow)
        dt = self.interval_ns if self._has_iv else t_ns - t_prev
        if dt <= 0:
            return self.value
        dtd = dt
        m = mid
        p = prev
        if self.by_time:
            r2 = pow(fabs(m - p), 2.0) * (1e9 / dtd)
            w = 1 - pow(0.5, dtd / self._hl)
        else:
            r2 = pow(fabs(m - p), 2.0) / (dtd / 1e9)
            w = self.alpha
        if self.n == 0 and self.first:
            self.var = r2
            self.decay = 0.0
        else:
            if self._has_cap:
                lim = self._cap * self.var + self.cap_floor
                if lim < r2:
                    r2 = lim
            self.var += w * (r2 - self.var)
            self.decay *= 1 - w
        self.n += 1
        return self.value

    @property
    def variance(self):
        """The estimate (ticks^2 per second); bias-corrected when asked; 0.0 before any."""
        if self.bias_correct:
            return self.var / (1 - self.decay) if self.decay < 1 else 0.0
        return self.var

    @property
    def value(self):
        """``sqrt(variance)``: ticks per sqrt(second)."""
        cdef double v = self.variance
        return sqrt(v) if v > 0 else 0.0


def _rebuild(args, state):
    cdef MidVolatility v = MidVolatility(args[0], halflife_unit=args[1], interval_ns=args[2],
                                         start=args[3], cap=args[4], cap_floor=args[5],
                                         bias_correct=args[6])
    v.var, v.decay, v.n, v.prev, v.t_prev = state
    return v
