"""The closed-form strategies: Avellaneda-Stoikov, GLFT and Cartea-Jaimungal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abmm.policy.closed_form import (
    as_offsets,
    as_quotes,
    cartea_jaimungal_h,
    cartea_jaimungal_quotes,
    cartea_jaimungal_value,
    glft_coefficients,
    glft_offsets,
    glft_quotes,
)


def test_as_quotes_are_the_papers_reservation_price_and_spread():
    s, q, g, sig, k, tau = 100.0, 3.0, 0.1, 2.0, 1.5, 0.4
    bid, ask = as_quotes(s, q, g, sig, k, tau)
    r = s - q * g * sig ** 2 * tau
    spread = g * sig ** 2 * tau + 2 / g * math.log(1 + g / k)
    assert (bid + ask) / 2 == pytest.approx(r) and ask - bid == pytest.approx(spread)
    db, da = as_offsets(q, g, sig, k, tau)
    assert (db, da) == pytest.approx((s - bid, ask - s))
    assert as_offsets(q, g, sig, k, tau, s) == (s - bid, ask - s)  # exactly, with the mid


def test_as_quotes_vectorize():
    s = np.array([[100.0], [101.0]])
    q = np.array([[-2.0], [4.0]])
    tau = np.array([[0.5], [0.1]])
    bid, ask = as_quotes(s, q, 0.1, 2.0, 1.5, tau)
    for i in range(2):
        b, a = as_quotes(float(s[i, 0]), float(q[i, 0]), 0.1, 2.0, 1.5, float(tau[i, 0]))
        assert (bid[i, 0], ask[i, 0]) == (b, a)


@pytest.mark.parametrize("q", [-3.0, 0.0, 2.0])
def test_glft_conventions_agree(q):
    """The agent's half-spread/skew form and the paper's (2q +- 1)/2 form are one formula."""
    g, k, A, sig = 0.1, 1.5, 140.0, 2.0
    c1, c2 = glft_coefficients(g, k, A)
    assert c1 == pytest.approx(math.log(1 + g / k) / g)
    assert c2 == pytest.approx(math.sqrt(g / (2 * k * A) * (1 + g / k) ** (1 + k / g)))
    db, da = glft_offsets(q, g, sig, k, A)
    assert db == pytest.approx(c1 + (2 * q + 1) / 2 * sig * c2)
    assert da == pytest.approx(c1 - (2 * q - 1) / 2 * sig * c2)
    bid, ask = glft_quotes(50.0, q, sig, c1, c2)
    assert (50.0 - bid, ask - 50.0) == pytest.approx((db, da))


def test_cartea_jaimungal_value_and_quotes():
    v = cartea_jaimungal_value(0.1, 0.01)
    assert v == pytest.approx(66.90893610746535, rel=1e-12)  # benchmarks/cartea_jaimungal.py
    h0 = cartea_jaimungal_h(0.1, 0.01)
    assert h0.shape == (1, 101) and h0[0, 50] == pytest.approx(v)
    assert cartea_jaimungal_value(0.1, 0.01, q0=5) < v  # holding inventory costs
    h = cartea_jaimungal_h(0.1, 0.01, dt=0.005)
    assert h.shape == (201, 101)
    np.testing.assert_allclose(h[0], h0[0], rtol=1e-9)
    bid, ask = cartea_jaimungal_quotes(h[0], np.array([-3, 0, 3]), 1.5)
    assert bid[1] == pytest.approx(ask[1])  # flat: symmetric
    assert bid[2] > bid[1] > bid[0] and ask[2] < ask[1] < ask[0]  # skew against inventory
    # at T the penalty alpha q^2 alone sets the quotes: 1/k + alpha (2q + 1) on the bid
    b_T, a_T = cartea_jaimungal_quotes(h[-1], 2, 1.5)
    assert b_T == pytest.approx(1 / 1.5 + 0.01 * 5) and a_T == pytest.approx(1 / 1.5 - 0.01 * 3)
