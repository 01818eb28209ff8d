"""``abmm.signals._cvol.MidVolatility`` (C) gives the same estimates as the Python
``PyMidVolatility``, bit for bit, for every option and input kind (ints, floats, None, NaN,
repeated times), across a pickle."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from abmm.signals import volatility as V

C = pytest.importorskip("abmm.signals._cvol", reason="the C volatility estimator is not built")

CONFIGS = [
    dict(halflife=50, start="first", cap=25.0),  # the market maker's
    dict(halflife=30_000_000_000, halflife_unit="ns", bias_correct=True),  # activity
    dict(halflife=86_400_000_000_000, halflife_unit="ns", bias_correct=True),
    dict(halflife=20.0, interval_ns=1_000_000_000),  # features
    dict(halflife=3.5),
]


def _stream(seed, n=3_000):
    r = np.random.default_rng(seed)
    t, mid = 1_700_000_000_000_000_000, 40_000.0
    for _ in range(n):
        t += int(r.integers(0, 3_000_000_000))  # repeated times too (dt 0)
        mid += float(r.standard_normal()) * 3
        u = r.random()
        if u < 0.03:
            yield None, t
        elif u < 0.05:
            yield math.nan, t
        elif u < 0.3:
            yield int(round(mid * 2)) / 2 if u < 0.2 else int(mid), t  # half ticks and ints
        else:
            yield mid, t


@pytest.mark.parametrize("cfg", CONFIGS)
def test_same_estimates(cfg):
    py, c = V.PyMidVolatility(**cfg), C.MidVolatility(**cfg)
    for i, (mid, t) in enumerate(_stream(4)):
        a, b = py.update(mid, t), c.update(mid, t)
        assert a == b and py.variance == c.variance and py.value == c.value, i
        if i == 1_500:
            c = pickle.loads(pickle.dumps(c))
    assert (c.var, c.decay, c.n, c.prev, c.t_prev) == (py.var, py.decay, py.n, py.prev, py.t_prev)
    c.reset()
    assert c.value == 0.0 and c.n == 0 and c.prev is None


def test_negative_control():
    """Another half-life gives other estimates (the comparison above can fail)."""
    py, c = V.PyMidVolatility(50, start="first"), C.MidVolatility(51, start="first")
    got = [(py.update(m, t), c.update(m, t)) for m, t in _stream(5, 200)]
    assert any(a != b for a, b in got)


@pytest.mark.parametrize("bad,msg", [(dict(halflife=0), "halflife must be > 0"),
                                     (dict(halflife=1, halflife_unit="s"), "halflife_unit"),
                                     (dict(halflife=1, start="last"), "start must be"),
                                     (dict(halflife=1, interval_ns=0), "interval_ns must be"),
                                     (dict(halflife=1, cap=-1), "cap must be")])
def test_same_errors(bad, msg):
    for cls in (V.PyMidVolatility, C.MidVolatility):
        with pytest.raises(ValueError, match=msg):
            cls(**bad)


def test_in_use_unless_pure_python():
    import os

    from abmm.signals import MidVolatility

    pure = os.environ.get("ABMM_PURE_PYTHON", "") not in ("", "0")
    assert (MidVolatility is V.PyMidVolatility) if pure else (MidVolatility is C.MidVolatility)
