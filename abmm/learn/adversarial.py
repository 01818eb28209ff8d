"""Adversarial reinforcement learning for market making (Spooner & Savani 2020), batched PPO.

Trains the two players of ``abmm.env.adversarial.MarketMakingGame`` over thousands of parallel
games per update:

* ``train_plain``: a market maker against zero drift (the paper's single-agent "plain" maker);
* ``train_adversarial``: a market maker and an adversary trained simultaneously on the same
  rollouts, each by PPO on its own reward (zero-sum: the adversary's is minus the maker's);
* ``train_best_response``: a fresh adversary against a frozen maker (the fair robustness test).

Policies (``CatPolicy``): an MLP (2 tanh layers of ``hidden``) over the observation ``(t / T, q /
q_max)`` (fed to the net as ``(2 t / T - 1, q / 10)``) with factorised categorical heads:

* market maker: a skew from ``MM_SKEWS`` and a half-spread from ``MM_HALVES``, the quotes
  ``half`` either side of ``s + skew`` (``abmm.env.adversarial.mm_offsets``);
* adversary: a drift from ``ADV_DRIFTS`` times ``drift_max`` (9 levels in ``[-10, 10]``).

A categorical grid keeps the log-probabilities exact and the bang-bang drift of the adversary's
best response (``+-drift_max``) reachable. Each player has its own critic MLP; PPO with GAE
(``gamma = 1``, ``lambda``), clipped ratio, an entropy bonus and advantage normalisation.

Variance reduction (``reward="expected"``, the default): for learning, the inventory term ``q'
(s' - s)`` of the maker's reward is replaced by its conditional mean ``q' b dt``. The dropped part
``q' sigma sqrt(dt) Z`` has mean zero given everything up to the step, and the mid's level
enters neither the observations nor the fills, so every policy pair's expected return is
unchanged; only the noise goes (it is most of the noise). ``reward="pnl"`` trains on the
realised reward, as the paper does. Evaluation (``evaluate``) always scores the realised PnL.

Everything runs on the CPU in float32; randomness comes from ``numpy.random.Generator`` streams
derived from ``seed`` and ``torch.manual_seed``, so a seed gives the same weights and numbers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from abmm.env.adversarial import SS2020, MarketMakingGame, mm_offsets, worst_case_drift
from abmm.policy.closed_form import as_offsets

__all__ = ["MM_SKEWS", "MM_HALVES", "ADV_DRIFTS", "PPOConfig", "CatPolicy", "Player",
           "rollout", "train_plain", "train_adversarial", "train_best_response", "evaluate",
           "pnl_stats", "MMPolicy", "AdvPolicy", "as_maker", "random_maker", "fixed_drift",
           "random_drift", "oracle_adversary"]

log = logging.getLogger(__name__)

MM_SKEWS = np.linspace(-2.0, 2.0, 9)
MM_HALVES = np.linspace(0.2, 2.0, 10)
ADV_DRIFTS = np.linspace(-1.0, 1.0, 9)  # times drift_max


@dataclass
class PPOConfig:
    """PPO settings, per player. ``paths`` games of ``T / dt`` steps per update."""

    iters: int = 40
    paths: int = 1000
    epochs: int = 3
    minibatch: int = 20_000
    lr: float = 1e-3
    clip: float = 0.2
    gae_lambda: float = 0.95
    ent_coef: float = 0.003
    vf_coef: float = 0.5
    hidden: int = 64
    reward: str = "expected"
    reward_scale: float = 0.1
    game: dict = field(default_factory=lambda: dict(SS2020))


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, out))


class CatPolicy(nn.Module):
    """Factorised categorical policy (heads of ``sizes``) and a critic, over ``(t / T, q / q_max)``."""

    def __init__(self, sizes: tuple[int, ...], hidden: int = 64, q_max: float = 50.0):
        super().__init__()
        self.sizes = tuple(sizes)
        self.q_over_10 = q_max / 10.0
        self.actor = _mlp(2, hidden, sum(self.sizes))
        self.critic = _mlp(2, hidden, 1)
        with torch.no_grad():  # start near uniform
            self.actor[-1].weight.mul_(0.01)
            self.actor[-1].bias.zero_()

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """The net's input ``(2 t / T - 1, q / 10)`` from the observation ``(t / T, q / q_max)``."""
        return torch.stack([2 * obs[..., 0] - 1, obs[..., 1] * self.q_over_10], -1)

    def logits(self, obs: torch.Tensor) -> list[torch.Tensor]:
        """One logits tensor per head."""
        out = self.actor(self.features(obs))
        return list(torch.split(out, self.sizes, -1))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic's value estimate."""
        return self.critic(self.features(obs))[..., 0]

    def logp_entropy(self, obs, acts):
        """Log-probability of the head indices ``acts`` and the entropy, summed over heads."""
        lp = torch.zeros(obs.shape[:-1])
        ent = torch.zeros(obs.shape[:-1])
        for j, lg in enumerate(self.logits(obs)):
            ls = torch.log_softmax(lg, -1)
            lp = lp + ls.gather(-1, acts[..., j:j + 1])[..., 0]
            ent = ent - (ls.exp() * ls).sum(-1)
        return lp, ent

    @torch.no_grad()
    def act(self, obs: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Head indices ``(n, len(sizes))``: sampled (Gumbel-max with ``rng``) or, with ``rng=None``,
        the most likely."""
        lgs = self.logits(torch.as_tensor(obs, dtype=torch.float32))
        out = np.empty((obs.shape[0], len(lgs)), np.int64)
        for j, lg in enumerate(lgs):
            x = lg.numpy().astype(np.float64)
            if rng is not None:
                x = x - np.log(-np.log(rng.random(x.shape)))
            out[:, j] = x.argmax(-1)
        return out


class MMPolicy:
    """A market maker as a function ``obs -> (delta_b, delta_a)`` from a ``CatPolicy``."""

    def __init__(self, net: CatPolicy, greedy: bool = True):
        self.net, self.greedy = net, greedy

    def decode(self, idx):
        """Head indices ``(n, 2)`` to offsets ``(delta_b, delta_a)``."""
        return mm_offsets(MM_SKEWS[idx[:, 0]], MM_HALVES[idx[:, 1]])

    def __call__(self, obs, rng=None):
        """The most likely action (``greedy``) or one sampled with ``rng``."""
        return self.decode(self.net.act(obs, None if self.greedy else rng))


class AdvPolicy:
    """An adversary as a function ``obs -> drift`` from a ``CatPolicy``."""

    def __init__(self, net: CatPolicy, drift_max: float = 10.0, greedy: bool = True):
        self.net, self.drift_max, self.greedy = net, drift_max, greedy

    def decode(self, idx):
        """Head indices ``(n, 1)`` to drifts."""
        return ADV_DRIFTS[idx[:, 0]] * self.drift_max

    def __call__(self, obs, rng=None):
        """The most likely drift (``greedy``) or one sampled with ``rng``."""
        return self.decode(self.net.act(obs, None if self.greedy else rng))


def as_maker(gamma: float = 0.1, game: dict | None = None):
    """The Avellaneda-Stoikov maker (``abmm.policy.closed_form.as_offsets``), offsets clipped at 0."""
    g = dict(SS2020, **(game or {}))

    def quotes(obs, rng=None):
        q = np.round(obs[:, 1] * g["q_max"])
        tau = g["T"] * (1 - obs[:, 0])
        db, da = as_offsets(q, gamma, g["sigma"], g["k"], tau)
        return np.maximum(db, 0.0), np.maximum(da, 0.0)

    return quotes


def random_maker(obs, rng):
    """Uniformly random skew and half-spread from the grid (a negative control)."""
    n = obs.shape[0]
    return mm_offsets(MM_SKEWS[rng.integers(len(MM_SKEWS), size=n)],
                      MM_HALVES[rng.integers(len(MM_HALVES), size=n)])


def fixed_drift(b: float):
    """An adversary that always sets the drift ``b``."""
    return lambda obs, rng=None: np.full(obs.shape[0], float(b))


def random_drift(drift_max: float = 10.0):
    """A drift drawn uniformly in ``[-drift_max, drift_max]`` per episode, held for its steps."""
    state = {}

    def adv(obs, rng):
        if obs[0, 0] == 0.0 or "b" not in state or state["b"].shape[0] != obs.shape[0]:
            state["b"] = rng.uniform(-drift_max, drift_max, obs.shape[0])
        return state["b"]

    return adv


def oracle_adversary(q_max: float = 50.0, drift_max: float = 10.0):
    """``worst_case_drift``: ``-drift_max sign(q)``, the analytic best response."""
    return lambda obs, rng=None: worst_case_drift(np.round(obs[:, 1] * q_max), drift_max)


class Player:
    """A learning player: a ``CatPolicy``, its optimiser and PPO update."""

    def __init__(self, sizes, cfg: PPOConfig):
        self.cfg = cfg
        self.net = CatPolicy(sizes, cfg.hidden, cfg.game.get("q_max", 50.0))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)

    def update(self, obs: np.ndarray, acts: np.ndarray, rew: np.ndarray,
               rng: np.random.Generator) -> dict:
        """PPO on one batch of rollouts: ``obs (T, N, 2)``, ``acts (T, N, heads)``, ``rew (T, N)``."""
        cfg = self.cfg
        n_t, n = rew.shape
        o = torch.as_tensor(obs, dtype=torch.float32)
        a = torch.as_tensor(acts)
        with torch.no_grad():
            old_lp, _ = self.net.logp_entropy(o, a)
            v = self.net.value(o).numpy().astype(np.float64)
        r = rew * cfg.reward_scale
        adv = np.zeros_like(r)
        last = np.zeros(n)
        for t in range(n_t - 1, -1, -1):  # GAE, gamma = 1, V(T) = 0
            nv = v[t + 1] if t + 1 < n_t else 0.0
            last = r[t] + nv - v[t] + cfg.gae_lambda * last
            adv[t] = last
        ret = torch.as_tensor((adv + v).reshape(-1), dtype=torch.float32)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        adv_t = torch.as_tensor(adv.reshape(-1), dtype=torch.float32)
        o, a, old_lp = o.reshape(-1, 2), a.reshape(-1, a.shape[-1]), old_lp.reshape(-1)
        m = o.shape[0]
        stats = {}
        for _ in range(cfg.epochs):
            perm = torch.as_tensor(rng.permutation(m))
            for i in range(0, m, cfg.minibatch):
                idx = perm[i:i + cfg.minibatch]
                lp, ent = self.net.logp_entropy(o[idx], a[idx])
                ratio = torch.exp(lp - old_lp[idx])
                pg = -torch.min(ratio * adv_t[idx],
                                ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv_t[idx]).mean()
                vl = ((self.net.value(o[idx]) - ret[idx]) ** 2).mean()
                loss = pg + cfg.vf_coef * vl - cfg.ent_coef * ent.mean()
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                self.opt.step()
                stats = {"pg": pg.item(), "vf": vl.item(), "ent": ent.mean().item()}
        return stats


def rollout(game: MarketMakingGame, mm, adv, rng: np.random.Generator, seed: int,
            record: bool = False):
    """Play ``game`` once (reset with ``seed``): ``mm(obs, rng) -> (delta_b, delta_a)``, ``adv(obs,
    rng) -> drift``.

    Returns a dict: ``pnl``, ``q_T`` (terminal inventory), ``q_abs_mean`` (mean ``|q|`` over the
    steps), ``drift_abs_mean``. With ``record`` (for learning) also ``obs (T, N, 2)``,
    ``r_pnl`` (the realised reward) and ``r_expected`` (spread captured plus ``q' b dt``), both
    ``(T, N)``; an ``MMPolicy`` or ``AdvPolicy`` then samples its actions with ``rng`` and
    their head indices come back as ``mm_acts`` / ``adv_acts`` ``(T, N, heads)`` (``None`` for
    a player that is a plain function)."""
    obs = game.reset(seed)
    n_t, n = game.n_steps, game.n_paths
    q_abs = np.zeros(n)
    d_abs = np.zeros(n)
    rec = {}
    if record:
        rec = {"obs": np.empty((n_t, n, 2)), "r_pnl": np.empty((n_t, n)),
               "r_expected": np.empty((n_t, n)), "mm_acts": None, "adv_acts": None}
    for t in range(n_t):
        if record:
            rec["obs"][t] = obs
        if record and isinstance(mm, MMPolicy):
            ia = mm.net.act(obs, rng)
            if rec["mm_acts"] is None:
                rec["mm_acts"] = np.empty((n_t, n, ia.shape[1]), np.int64)
            rec["mm_acts"][t] = ia
            db, da = mm.decode(ia)
        else:
            db, da = mm(obs, rng)
        if record and isinstance(adv, AdvPolicy):
            ib = adv.net.act(obs, rng)
            if rec["adv_acts"] is None:
                rec["adv_acts"] = np.empty((n_t, n, ib.shape[1]), np.int64)
            rec["adv_acts"][t] = ib
            b = adv.decode(ib)
        else:
            b = adv(obs, rng)
        s0, cash0, q0 = game.s.copy(), game.cash.copy(), game.q.copy()
        obs, r, _, _ = game.step(db, da, b)
        if record:
            rec["r_pnl"][t] = r
            spread = game.cash - cash0 + (game.q - q0) * s0  # delta_b 1{bought} + delta_a 1{sold}
            rec["r_expected"][t] = spread + game.q * game.last_drift * game.dt
        q_abs += np.abs(game.q)
        d_abs += np.abs(game.last_drift)
    out = {"pnl": game.pnl.copy(), "q_T": game.q.copy(), "q_abs_mean": q_abs / n_t,
           "drift_abs_mean": d_abs / n_t}
    out.update(rec)
    return out


def _train(mm, adv, cfg: PPOConfig, seed: int, mm_player: Player | None,
           adv_player: Player | None, tag: str) -> list[dict]:
    """Roll out ``cfg.iters`` batches of ``cfg.paths`` games, updating the learning players."""
    rng = np.random.default_rng(seed)
    game = MarketMakingGame(cfg.paths, **cfg.game)
    hist = []
    for it in range(cfg.iters):
        ro = rollout(game, mm, adv, rng, int(rng.integers(2**62)), record=True)
        rew = ro["r_expected"] if cfg.reward == "expected" else ro["r_pnl"]
        h = {"iter": it, "pnl_mean": float(ro["pnl"].mean()),
             "q_abs_mean": float(ro["q_abs_mean"].mean()),
             "drift_abs_mean": float(ro["drift_abs_mean"].mean())}
        if mm_player is not None:
            h["mm"] = mm_player.update(ro["obs"], ro["mm_acts"], rew, rng)
        if adv_player is not None:
            h["adv"] = adv_player.update(ro["obs"], ro["adv_acts"], -rew, rng)
        hist.append(h)
        log.info("%s iter %d: pnl %.2f |q| %.2f |b| %.2f", tag, it, h["pnl_mean"],
                 h["q_abs_mean"], h["drift_abs_mean"])
    return hist


def _check_reward(cfg: PPOConfig):
    if cfg.reward not in ("expected", "pnl"):
        raise ValueError(f"reward must be 'expected' or 'pnl', not {cfg.reward!r}")


def train_plain(cfg: PPOConfig, seed: int = 0, drift: float = 0.0):
    """A market maker trained against a fixed drift (0: the paper's plain maker).

    Returns ``(MMPolicy, history)``; the policy acts greedily."""
    _check_reward(cfg)
    torch.manual_seed(seed)
    mm = Player((len(MM_SKEWS), len(MM_HALVES)), cfg)
    hist = _train(MMPolicy(mm.net, greedy=False), fixed_drift(drift), cfg, seed, mm, None,
                  "plain")
    return MMPolicy(mm.net), hist


def train_adversarial(cfg: PPOConfig, seed: int = 0):
    """A market maker and an adversary trained simultaneously (zero-sum) on shared rollouts.

    Returns ``(MMPolicy, AdvPolicy, history)``; the policies act greedily."""
    _check_reward(cfg)
    torch.manual_seed(seed)
    mm = Player((len(MM_SKEWS), len(MM_HALVES)), cfg)
    adv = Player((len(ADV_DRIFTS),), cfg)
    dmax = cfg.game.get("drift_max", 10.0)
    hist = _train(MMPolicy(mm.net, greedy=False), AdvPolicy(adv.net, dmax, greedy=False), cfg,
                  seed, mm, adv, "adversarial")
    return MMPolicy(mm.net), AdvPolicy(adv.net, dmax), hist


def train_best_response(mm, cfg: PPOConfig, seed: int = 0):
    """A fresh adversary trained against the frozen maker ``mm`` (``obs, rng -> offsets``).

    Returns ``(AdvPolicy, history)``; the adversary acts greedily."""
    _check_reward(cfg)
    torch.manual_seed(seed)
    adv = Player((len(ADV_DRIFTS),), cfg)
    dmax = cfg.game.get("drift_max", 10.0)
    hist = _train(mm, AdvPolicy(adv.net, dmax, greedy=False), cfg, seed, None, adv,
                  "best-response")
    return AdvPolicy(adv.net, dmax), hist


def pnl_stats(ro: dict) -> dict:
    """``pnl_mean``, ``pnl_sd``, ``pnl_worst5`` (mean of the worst 5 % of episodes), ``inv_sd`` (sd
    of the terminal inventory), ``inv_abs_mean`` (mean ``|q|`` over the steps and episodes),
    ``drift_abs_mean``."""
    pnl = np.sort(ro["pnl"])
    n5 = max(1, int(math.ceil(0.05 * len(pnl))))
    return {"pnl_mean": float(pnl.mean()), "pnl_sd": float(pnl.std(ddof=1)) if len(pnl) > 1
            else 0.0, "pnl_worst5": float(pnl[:n5].mean()),
            "inv_sd": float(np.std(ro["q_T"], ddof=1)) if len(pnl) > 1 else 0.0,
            "inv_abs_mean": float(ro["q_abs_mean"].mean()),
            "drift_abs_mean": float(ro["drift_abs_mean"].mean())}


def evaluate(mm, adv, n_paths: int = 10_000, seed: int = 0, game: dict | None = None) -> dict:
    """``pnl_stats`` of ``mm`` against ``adv`` over ``n_paths`` games seeded by ``seed``."""
    g = MarketMakingGame(n_paths, **dict(SS2020, **(game or {})))
    return pnl_stats(rollout(g, mm, adv, np.random.default_rng(seed), seed))
