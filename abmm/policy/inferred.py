"""Policies recovered by inverse RL (``abmm.learn.irl``): the reward features, the soft-optimal
policy under a linear reward ``r = theta . phi(s, a)`` and the ``.npz`` file that ``kind:
inferred`` agents act by -- numpy only (no torch, no market, no agents).

Two roles, each with its documented features (the full method is in ``docs/irl.md``):

**market_maker** -- each side's quote offset ``delta`` from the mid (ticks) on the half-tick
grid ``FINE_OFFSETS`` (0.5 ... 25), restricted to the offsets the mid allows (``feasible``). The
state is the inventory ``q`` in units of the quote size and the mid's volatility ``sigma``
(ticks per sqrt(s)). Features per side (``MM_FEATURES``):

* ``offset`` = ``delta`` -- the half-spread earned per fill;
* ``offset_sq`` = ``-delta^2 / 2`` -- the fill probability lost by quoting wider;
* ``risk_shift`` = ``delta h`` with ``h = sigma^2 tau (1 + 2q) / 2`` (bid) or
  ``sigma^2 tau (1 - 2q) / 2`` (ask), ``tau`` the risk horizon (s) -- the inventory-risk
  exposure of a fill;

the second-order expansion of the Avellaneda-Stoikov one-side objective
``lambda(delta) (delta - gamma h + c)`` around its optimum, so the soft policy is a discretized
Gaussian around ``(theta_offset + theta_risk h) / theta_offset_sq`` and
``gamma = theta_risk_shift / theta_offset_sq``. Its quotes are mapped to the
``abmm.env.market_v0`` grid by ``mm_action`` for comparisons.

**executor** -- the action is the child market order as a multiple ``m`` of the adaptive TWAP
slice (what is left over the slices left), ``m`` in ``EXEC_MULTIPLES`` = (0, 0.5, 1, 2) (the
wait and market-order actions 0..3 of ``abmm.env.execution_v0``), or in a policy whose
``model["multiples"]`` lists a finer set (``FINE_MULTIPLES``: 0 to 4 in steps of 0.01), in
that set -- mapped to the nearest of ``EXEC_MULTIPLES`` for comparisons. The state is the remaining
fraction ``f`` of the parent and the slice ``j`` of ``N``. With ``n = min(m f / (N - j), f)``:

* ``impact`` = ``-N n^2`` -- the Almgren-Chriss temporary-impact cost ``eta v^2 dt`` of trading
  ``n`` in one slice, in units of ``eta X^2 / T``;
* ``inventory_risk`` = ``-(f - n)^2 / N`` -- the AC risk term ``lambda sigma^2 x^2 dt`` in units
  of ``lambda sigma^2 X^2 T``;

what is left after the last slice is swept at the cost ``-N f^2`` (impact). The policy is the
soft-optimal one of this finite-horizon problem (soft value iteration on a grid of ``f``), and
``theta_r / theta_i = (kappa T)^2`` (the executor's ``urgency``), so
``lambda = (kappa T)^2 eta / (sigma^2 T^2)``.

The file (``save_inferred``/``load_inferred``): a ``.npz`` with one array ``config``, a 0-d
string holding JSON ``{"format": "abmm.inferred_policy", "version": 1, "role", "features",
"theta", "model", "meta"}``; ``model`` holds the role's conventions (market maker: ``offsets``,
``fine``, ``tau``, ``vol_halflife``, ``quote_size``, and the fill curve ``A``, ``k``, ``dt``
estimated from the log, for the record; executor: ``grid`` and optionally ``multiples``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from abmm.errors import AbmmError
from abmm.schema.files import write_atomic

__all__ = ["FORMAT", "MM_FEATURES", "EXEC_FEATURES", "EXEC_MULTIPLES", "FINE_MULTIPLES",
           "InferredPolicyError", "FINE_OFFSETS", "feasible", "fill_prob", "mm_action", "fine_index", "mm_features", "exec_features", "exec_soft_values",
           "MMPolicy", "ExecPolicy", "save_inferred", "load_inferred", "softmax_rows"]

FORMAT = "abmm.inferred_policy"
VERSION = 1
MM_FEATURES = ("offset", "offset_sq", "risk_shift")
EXEC_FEATURES = ("impact", "inventory_risk")
EXEC_MULTIPLES = (0.0, 0.5, 1.0, 2.0)
#: A finer set of child sizes an inferred executor may act on (``model["multiples"]``): 0 to
#: 4 times the adaptive TWAP slice in steps of 0.1 (an Almgren-Chriss schedule's first slices
#: are up to ``kappa T coth(kappa T)`` times it, beyond the environment's largest, 2).
FINE_MULTIPLES = tuple(round(0.01 * i, 10) for i in range(401))


class InferredPolicyError(AbmmError, ValueError):
    """An inferred-policy file that cannot be used (missing, foreign, another role, damaged)."""


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of the last axis."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- market maker
#: The fine offsets (ticks) a recovered market maker chooses from on each side: every half tick
#: from 0.5 to 25 (the resolution of quote offsets from a mid).
FINE_OFFSETS = tuple(0.5 * i for i in range(1, 51))


def feasible(mid, fine=FINE_OFFSETS) -> np.ndarray:
    """``(n_states, F)``: the offsets a quote can have at each mid -- whole ticks (>= 1) at a
    whole-tick mid, half ticks (>= 0.5) at a half-tick mid (the quote is a tick price)."""
    frac = np.mod(np.atleast_1d(np.asarray(mid, float)), 1.0)[:, None]
    f = np.asarray(fine, float)[None, :]
    r = np.mod(f - frac, 1.0)
    return (r < 1e-6) | (r > 1 - 1e-6)


def fill_prob(delta, A: float, k: float, dt: float) -> np.ndarray:
    """Probability that a quote ``delta`` ticks from the mid fills within ``dt`` seconds
    (``1 - exp(-A exp(-k delta) dt)``; ``abmm.learn.irl.fit_fill_curve``)."""
    return 1.0 - np.exp(-A * np.exp(-k * np.asarray(delta, np.float64)) * dt)


def mm_action(bid_off, ask_off, offsets) -> np.ndarray:
    """Quote offsets (ticks; NaN = no quote on that side) to the discrete grid of
    ``abmm.env.market_v0``: ``i * K + j`` for the nearest ``offsets[i]`` (bid) and
    ``offsets[j]`` (ask) (ties to the smaller); a missing side counts as the largest offset, no
    quote at all is ``K * K``."""
    o = np.asarray(offsets, float)
    k = len(o)
    bo = np.atleast_1d(np.asarray(bid_off, float))
    ao = np.atleast_1d(np.asarray(ask_off, float))
    b = np.where(np.isnan(bo), o[-1], bo)
    a = np.where(np.isnan(ao), o[-1], ao)
    ib = np.abs(o[None, :] - b[:, None]).argmin(1)
    ia = np.abs(o[None, :] - a[:, None]).argmin(1)
    return np.where(np.isnan(bo) & np.isnan(ao), k * k, ib * k + ia)


def fine_index(offset, fine=FINE_OFFSETS) -> np.ndarray:
    """Nearest index of ``fine`` (offsets outside are clipped to its ends; NaN -> -1)."""
    f = np.asarray(fine, float)
    x = np.atleast_1d(np.asarray(offset, float))
    idx = np.abs(f[None, :] - np.nan_to_num(x, nan=f[0])[:, None]).argmin(1)
    return np.where(np.isnan(x), -1, idx)


def mm_features(q, sigma, model: dict, side: int) -> np.ndarray:
    """``phi(s, delta)`` of one side's quote at every fine offset: shape ``(n_states, F, 3)``
    (``MM_FEATURES``: ``delta``, ``-delta^2 / 2``, ``delta h``; ``side`` 0 = bid, 1 = ask) with
    the inventory-risk exposure ``h = sigma^2 tau (1 + 2 q) / 2`` for the bid and
    ``sigma^2 tau (1 - 2 q) / 2`` for the ask (``q``: inventory in units of the quote size,
    ``sigma``: ticks per sqrt(s), ``tau``: the risk horizon, s). The two sides are scored
    independently, so the soft policy is a product of one softmax per side."""
    q = np.atleast_1d(np.asarray(q, np.float64))[:, None]
    s2 = np.atleast_1d(np.asarray(sigma, np.float64))[:, None] ** 2
    d = np.asarray(model.get("fine", FINE_OFFSETS), np.float64)[None, :]
    sgn = 1.0 if side == 0 else -1.0  # a bid fill adds one unit, an ask fill removes one
    h = 0.5 * s2 * float(model["tau"]) * (1 + 2 * sgn * q)
    d = np.broadcast_to(d, (len(q), d.shape[1]))
    return np.stack([d, -0.5 * d * d, d * h], axis=-1)


class MMPolicy:
    """The soft-optimal quoting policy under ``theta`` (one-step lookahead, see the module)."""

    role = "market_maker"

    def __init__(self, theta, model: dict):
        self.theta = np.asarray(theta, np.float64)
        self.model = model
        self.offsets = tuple(float(o) for o in model["offsets"])
        self.fine = np.asarray(model.get("fine", FINE_OFFSETS), float)

    def side_values(self, q, sigma, side: int, mid=None) -> np.ndarray:
        """``(n_states, F)`` values ``theta . phi`` of one side's fine offsets (``-inf`` where
        the mid makes an offset impossible, ``feasible``; all allowed without ``mid``)."""
        v = mm_features(q, sigma, self.model, side) @ self.theta
        if mid is not None:
            v = np.where(feasible(mid, self.fine), v, -np.inf)
        return v

    def side_probs(self, q, sigma, side: int, mid=None) -> np.ndarray:
        """The soft policy of one side's offset."""
        return softmax_rows(self.side_values(q, sigma, side, mid))

    def quotes(self, q, sigma, mid=None) -> tuple[np.ndarray, np.ndarray]:
        """The most likely (bid offset, ask offset) in ticks at each state."""
        return (self.fine[self.side_values(q, sigma, 0, mid).argmax(1)],
                self.fine[self.side_values(q, sigma, 1, mid).argmax(1)])

    def env_actions(self, q, sigma, mid=None) -> np.ndarray:
        """The most likely quotes mapped to the ``abmm.env.market_v0`` grid (``mm_action``)."""
        b, a = self.quotes(q, sigma, mid)
        return mm_action(b, a, self.offsets)

    def act(self, q: float, sigma: float, mid: float | None = None) -> tuple[float, float]:
        """(bid offset, ask offset) in ticks at one state."""
        b, a = self.quotes([q], [sigma], None if mid is None else [mid])
        return float(b[0]), float(a[0])


# --------------------------------------------------------------------------- executor
def _trade(f, m, steps_left):
    return np.minimum(m * f / np.maximum(steps_left, 1), f)


def exec_features(f, j, n_slices: int, multiples=EXEC_MULTIPLES) -> np.ndarray:
    """``phi(s, a)`` for the executor: shape ``(n_states, len(multiples), 2)``
    (``EXEC_FEATURES``) at remaining fractions ``f`` and slices ``j`` (0-based, ``<
    n_slices``)."""
    f = np.atleast_1d(np.asarray(f, np.float64))[:, None]
    left = (n_slices - np.atleast_1d(np.asarray(j, np.float64)))[:, None]
    m = np.asarray(multiples, np.float64)[None, :]
    n = _trade(f, m, left)
    return np.stack([-n_slices * n * n, -(f - n) ** 2 / n_slices], axis=-1)


def exec_soft_values(theta, n_slices: int, grid: int = 401,
                     multiples=EXEC_MULTIPLES) -> np.ndarray:
    """Soft value iteration: ``V[j]`` on ``f = linspace(0, 1, grid)`` for ``j = 0..N``
    (``V[N]``: the final sweep's cost), shape ``(N + 1, grid)``; the actions are the child
    sizes ``multiples``."""
    theta = np.asarray(theta, np.float64)
    fg = np.linspace(0.0, 1.0, grid)
    V = np.empty((n_slices + 1, grid))
    V[n_slices] = -theta[0] * n_slices * fg ** 2
    m = np.asarray(multiples, np.float64)[None, :]
    for j in range(n_slices - 1, -1, -1):
        n = _trade(fg[:, None], m, n_slices - j)
        r = np.stack([-n_slices * n * n, -(fg[:, None] - n) ** 2 / n_slices], -1) @ theta
        Q = r + np.interp(fg[:, None] - n, fg, V[j + 1])
        mx = Q.max(1)
        V[j] = mx + np.log(np.exp(Q - mx[:, None]).sum(1))
    return V


class ExecPolicy:
    """The soft-optimal slicing policy under ``theta`` (soft value iteration, see the module)
    over the child sizes ``model["multiples"]`` (default ``EXEC_MULTIPLES``, the
    environment's)."""

    role = "executor"

    def __init__(self, theta, model: dict):
        self.theta = np.asarray(theta, np.float64)
        self.model = model
        self.grid = int(model.get("grid", 401))
        self.multiples = tuple(float(x) for x in model.get("multiples", EXEC_MULTIPLES))
        self._V: dict[int, np.ndarray] = {}
        self.n_actions = len(self.multiples)

    def values(self, n_slices: int) -> np.ndarray:
        """The soft values for an ``n_slices`` schedule (cached)."""
        if n_slices not in self._V:
            self._V[n_slices] = exec_soft_values(self.theta, n_slices, self.grid,
                                                 self.multiples)
        return self._V[n_slices]

    def q_values(self, f, j, n_slices: int) -> np.ndarray:
        """``(n_states, n_actions)`` soft Q-values at remaining fractions ``f``, slices
        ``j``."""
        f = np.atleast_1d(np.asarray(f, np.float64))
        j = np.atleast_1d(np.asarray(j, np.int64))
        V = self.values(n_slices)
        fg = np.linspace(0.0, 1.0, self.grid)
        r = exec_features(f, j, n_slices, self.multiples) @ self.theta
        n = _trade(f[:, None], np.asarray(self.multiples)[None, :], (n_slices - j)[:, None])
        nxt = np.empty_like(r)
        for i in range(len(f)):
            nxt[i] = np.interp(f[i] - n[i], fg, V[j[i] + 1])
        return r + nxt

    def probs(self, f, j, n_slices: int) -> np.ndarray:
        """The soft policy ``pi(a | s)``."""
        return softmax_rows(self.q_values(f, j, n_slices))

    def act(self, f: float, j: int, n_slices: int) -> int:
        """The most likely action (an index into ``multiples``)."""
        return int(np.argmax(self.q_values([f], [j], n_slices)[0]))


# --------------------------------------------------------------------------- file
def save_inferred(path, role: str, theta, model: dict, meta: dict | None = None) -> Path:
    """Write an inferred-policy ``.npz`` (atomically); returns the path."""
    import io

    feats = MM_FEATURES if role == "market_maker" else EXEC_FEATURES
    cfg = {"format": FORMAT, "version": VERSION, "role": role, "features": list(feats),
           "theta": [float(x) for x in theta], "model": model, "meta": meta or {}}
    buf = io.BytesIO()
    np.savez(buf, config=np.array(json.dumps(cfg)))
    return write_atomic(path, buf.getvalue())


def load_inferred(path, role: str | None = None):
    """``(policy, config)`` of an inferred-policy file; ``InferredPolicyError`` (one line naming
    the file) when it is missing, not such a file, of another ``role``, or inconsistent."""
    path = Path(path)
    if not path.is_file():
        raise InferredPolicyError(f"{path}: no such inferred-policy file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "config" not in z.files:
                raise InferredPolicyError(f"{path}: not an inferred-policy file (no config)")
            cfg = json.loads(str(z["config"][()]))
    except InferredPolicyError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: one line
        raise InferredPolicyError(f"{path}: not a readable .npz policy file ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        what = cfg.get("format") if isinstance(cfg, dict) else type(cfg).__name__
        raise InferredPolicyError(f"{path}: a {what!r} file, not an inferred policy "
                                  f"({FORMAT}; written by abmm.learn.irl)")
    if int(cfg.get("version", 0)) > VERSION:
        raise InferredPolicyError(f"{path}: inferred-policy version {cfg.get('version')} is "
                                  f"newer than this abmm reads ({VERSION})")
    r = cfg.get("role")
    if role is not None and r != role:
        raise InferredPolicyError(f"{path}: an inferred {r} policy, not a {role} one")
    feats = MM_FEATURES if r == "market_maker" else EXEC_FEATURES if r == "executor" else None
    theta = np.asarray(cfg.get("theta", []), np.float64)
    if feats is None or theta.shape != (len(feats),) or not np.isfinite(theta).all():
        raise InferredPolicyError(f"{path}: bad role {r!r} or theta {cfg.get('theta')!r}")
    cls = MMPolicy if r == "market_maker" else ExecPolicy
    return cls(theta, cfg.get("model", {})), cfg
