"""Closed-form market-making strategies: Avellaneda-Stoikov, GLFT and Cartea-Jaimungal.

The one home of these formulas: the rule-based market maker (``abmm.agents.market_maker``),
the baseline policies (``abmm.env.baselines``), the model-based market's benchmarks and
anything else that quotes in closed form call these functions. Pure numpy/scipy/math.

Conventions. ``s`` is the mid, ``q`` the inventory in order sizes, ``sigma`` the mid's
volatility per square root of unit time, ``k`` the decay of the fill intensity
``A exp(-k delta)`` with the distance ``delta`` from the mid (per price unit), ``A`` its level
(per unit time), ``gamma`` the risk aversion, ``tau`` the time left. Prices and offsets are in
the caller's price unit (ticks in the agent-based market). An offset ``delta_b`` (``delta_a``)
puts the bid at ``s - delta_b`` (the ask at ``s + delta_a``).

``s``, ``q`` and ``tau`` may be numpy arrays (they broadcast); the parameters are scalars. The
functions are plain arithmetic so the scalar path stays fast (the market maker calls them at
every wake).

References: Avellaneda, M. & Stoikov, S. (2008), "High-frequency trading in a limit order
book", Quantitative Finance 8(3); Gueant, O., Lehalle, C.-A. & Fernandez-Tapia, J. (2013),
"Dealing with the inventory risk", Mathematics and Financial Economics 7(4); Cartea, A.,
Jaimungal, S. & Penalva, J. (2015), "Algorithmic and High-Frequency Trading", ch. 10.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["as_quotes", "as_offsets", "glft_coefficients", "glft_quotes", "glft_offsets",
           "cartea_jaimungal_h", "cartea_jaimungal_value", "cartea_jaimungal_quotes"]


# ------------------------------------------------------------------ Avellaneda-Stoikov (2008)
def as_quotes(s, q, gamma: float, sigma: float, k: float, tau):
    """Avellaneda-Stoikov ``(bid, ask)`` prices: ``r -+ spread / 2`` (the paper's eqs. 29-30).

    Reservation price ``r = s - q gamma sigma^2 tau``, spread ``gamma sigma^2 tau + (2 / gamma)
    ln(1 + gamma / k)``. ``tau`` is the time left: ``T - t`` for the paper's finite horizon
    (clip it at 0), or a constant for a rolling horizon (the agent-based market maker).
    """
    r = s - q * gamma * sigma * sigma * tau
    half = 0.5 * (gamma * sigma * sigma * tau + 2 / gamma * math.log1p(gamma / k))
    return r - half, r + half


def as_offsets(q, gamma: float, sigma: float, k: float, tau, s=0.0):
    """Avellaneda-Stoikov offsets ``(delta_b, delta_a) = (s - bid, ask - s)`` of ``as_quotes``.

    They do not depend on ``s`` but for rounding: ``s=0`` gives ``spread / 2 +- q gamma sigma^2
    tau`` exactly; pass the mid to get the offsets of the prices ``as_quotes`` rounds to.
    """
    bid, ask = as_quotes(s, q, gamma, sigma, k, tau)
    return s - bid, ask - s


# ----------------------------------------------------- Gueant, Lehalle & Fernandez-Tapia (2013)
def glft_coefficients(gamma: float, k: float, A: float) -> tuple[float, float]:
    """GLFT's constants ``(c1, c2)``, ``c2`` per unit of ``sigma``.

    ``c1 = ln(1 + gamma / k) / gamma``, ``c2 = sqrt(gamma / (2 A k) (1 + gamma / k)^(k / gamma
    + 1))`` (unit order size). Compute them once and pass them to ``glft_quotes``.
    """
    c1 = math.log1p(gamma / k) / gamma
    c2 = math.sqrt(gamma / (2 * A * k) * (1 + gamma / k) ** (k / gamma + 1))
    return c1, c2


def glft_quotes(s, q, sigma: float, c1: float, c2: float):
    """GLFT closed-form asymptotic ``(bid, ask)`` prices, with ``glft_coefficients``' ``c1, c2``.

    Half-spread ``c1 + sigma c2 / 2`` around ``s``, shifted by the skew ``sigma c2`` per unit of
    inventory: ``bid = s - half - sigma c2 q``, ``ask = s + half - sigma c2 q``; that is the
    paper's ``delta_b = c1 + (2q + 1) / 2 sigma c2``, ``delta_a = c1 - (2q - 1) / 2 sigma c2``.
    """
    half = c1 + 0.5 * sigma * c2
    skew = sigma * c2
    return s - half - skew * q, s + half - skew * q


def glft_offsets(q, gamma: float, sigma: float, k: float, A: float):
    """GLFT offsets ``(delta_b, delta_a)`` (``glft_quotes`` around a mid of 0)."""
    c1, c2 = glft_coefficients(gamma, k, A)
    bid, ask = glft_quotes(0.0, q, sigma, c1, c2)
    return -bid, ask


# --------------------------------------------------------- Cartea, Jaimungal & Penalva (2015)
def _cj_omega(phi, alpha, A, k, T, dt, q_max) -> np.ndarray:
    """``omega(t_i, .)`` (rows) for ``cartea_jaimungal_h``."""
    from scipy.linalg import expm

    qs = np.arange(q_max, -q_max - 1, -1).astype(float)
    n = len(qs)
    M = np.diag(-k * phi * qs ** 2)
    off = A * math.exp(-1.0)
    M += np.diag(np.full(n - 1, off), 1) + np.diag(np.full(n - 1, off), -1)
    z = np.exp(-k * alpha * qs ** 2)
    if dt is None:
        return (expm(M * T) @ z)[None, :]
    step = expm(M * dt)
    omegas = [z]
    for _ in range(int(round(T / dt))):
        omegas.append(step @ omegas[-1])
    return np.array(omegas[::-1])


def cartea_jaimungal_h(phi: float, alpha: float, A: float = 140.0, k: float = 1.5,
                       T: float = 1.0, dt: float | None = None, q_max: int = 50) -> np.ndarray:
    """The value function ``h(t, q)`` of Cartea, Jaimungal & Penalva (2015), section 10.2.

    ``h`` is the optimal ``E[X_T + q_T S_T - alpha q_T^2 - phi int_t^T q^2 du] - (X_t + q_t
    S_t)`` for unit orders filled at intensity ``A exp(-k delta)`` on each side, a martingale
    mid and ``|q| <= q_max``. With ``h = log(omega) / k``, ``omega`` solves ``omega' + M omega =
    0``, ``M_qq = -k phi q^2``, ``M_{q,q-1} = M_{q,q+1} = A / e``, ``omega(T, q) = exp(-k alpha
    q^2)``. Column ``j`` is ``q = q_max - j``. ``dt=None``: one row, ``h(0, .)`` (``omega(0) =
    expm(M T) omega(T)``); else rows ``t_i = i dt``, ``i = 0 .. round(T / dt)`` (stepped by
    ``expm(M dt)``).
    """
    return np.log(_cj_omega(phi, alpha, A, k, T, dt, q_max)) / k


def cartea_jaimungal_value(phi: float, alpha: float, A: float = 140.0, k: float = 1.5,
                           T: float = 1.0, q0: int = 0, q_max: int = 50) -> float:
    """The optimal expected value ``h(0, q0)`` of Cartea, Jaimungal & Penalva (2015), 10.2.

    See ``cartea_jaimungal_h`` for the objective and the solution.
    """
    omega = _cj_omega(phi, alpha, A, k, T, None, q_max)[0]
    return float(math.log(omega[q_max - q0]) / k)


def cartea_jaimungal_quotes(h_t: np.ndarray, q, k: float):
    """The optimal feedback offsets ``(delta_b, delta_a)`` at one time, from a row of ``h``.

    ``delta_b = 1 / k - (h(t, q + 1) - h(t, q))``, ``delta_a = 1 / k - (h(t, q - 1) - h(t,
    q))``; ``h_t`` is a row of ``cartea_jaimungal_h`` (``q_max = (len(h_t) - 1) / 2``). ``q``
    (integers, an array or a scalar) is clipped to ``+-(q_max - 1)``, where both neighbours
    exist.
    """
    q_max = (len(h_t) - 1) // 2
    q = np.clip(q, -q_max + 1, q_max - 1).astype(int)
    idx = q_max - q  # column of q; idx + 1 is q - 1
    ask = 1 / k - (h_t[idx + 1] - h_t[idx])
    bid = 1 / k - (h_t[idx - 1] - h_t[idx])
    return bid, ask
