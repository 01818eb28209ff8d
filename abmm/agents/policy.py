"""Policy agents: a saved policy (``abmm train``/``abmm export`` output, a ``.npz`` policy
file) acting as a normal Mesa agent -- torch-free, through ``abmm.policy``.

Scenario group::

    - kind: policy
      name: rl_mm
      count: 2
      checkpoint: mm_coevolved        # a shipped policy's name, or a .npz policy file path
      learner: learner_0              # which learner of the file (default: agent i
                                      # takes the file's learner i, cycling)
      latency: 1ms

The agent decides every ``decision_ns`` of the policy (the environment's decision interval it
was trained with), first at the end of the warm-up: it builds the same observation as
``abmm.env.market_v0`` (``abmm.policy.features``), asks the policy for its deterministic
action and sends the quotes (``abmm.policy.actions``), exactly as the environment would.
``time_left`` runs from the end of the warm-up to the session close. A sequence policy
(``abmm.policy.sequence``: a window of its last observations) keeps each agent's window from
its first decision, zero-padded before. A file that cannot be
read is a scenario error naming it; a torch checkpoint (``policy.pt``, ``checkpoint.pt``) is
refused with the ``abmm export`` command that converts it.

A **trading policy** (``abmm train`` with ``env: trading``, ``abmm.env.trading_v0``) makes the
agent a chartist instead: it wakes on every decision interval counted from the session start,
and at every market step (``market.step``) while a stop-loss is armed; on every decision
interval counted from the session start it samples the mid (the indicators' history, through
the warm-up as the environment does); after the warm-up it books its fills (position, average
entry) and fires its stop-loss at every wake, and at each decision it builds trading_v0's
observation (``abmm.policy.chartist.ChartistView``), asks the policy for its deterministic
action, and trades to the target position with one market order, setting the stop the
action chose. ``time_left`` runs from the end of the warm-up to the close. The same decisions
as in the environment, on the market's event clock (so events stamped at the same nanosecond
may interleave differently). A trading policy saved before the indicator windows were
recorded in its file is refused with a one-line error (retrain or re-export it).

An **execution policy** (``abmm train`` with ``env: execution``, ``abmm.env.execution_v0``; the
shipped ``exec_rl``) makes the agent an executor working a parent order, given in the group
as an executor's is: ``side``, ``quantity``, ``start`` and ``duration`` (all four required for
an execution policy, refused for the others)::

    - kind: policy
      name: rl_seller
      checkpoint: exec_rl
      side: sell
      quantity: 20000
      start: "10:05"
      duration: 60min

It wakes at ``start`` and every decision interval after: it builds execution_v0's observation
(``abmm.policy.execution``; the arrival price is the mark at ``start``), asks the policy for its
deterministic action and sends the child order it stands for (a market or limit order of half,
one or two adaptive TWAP slices, or nothing); from ``start + duration`` on it sends whatever is
left at market at each decision until the parent is done. Its summary has the executor's
columns (parent, completion, average and arrival prices, shortfall).

An **ecology policy** (``abmm train`` with ``env: ecology``) holds one learner per agent and
role: name one with ``learner`` (e.g. ``maker_0``, ``trader_1`` or ``seller_0``); a maker's
learner quotes as above, a chartist's trades as a chartist, an executor's executes as above.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt, field_validator, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.policy import execution
from abmm.policy.actions import QuoteActions, requote, target_quotes
from abmm.policy.chartist import ChartistView, decode_action
from abmm.policy.features import N_FEATURES, MarketFeatures, agent_features, book_features
from abmm.resources import policy_path
from abmm.schema import Duration, GroupBase, WakeCfg

#: The parent-order fields of an execution policy's group.
PARENT = ("side", "quantity", "start", "duration")
#: The environment kind each ecology role's learner was trained in.
ROLE_ENV = {"maker": "market", "chartist": "trading", "executor": "execution"}

_CACHE: dict = {}


class PolicyGroup(GroupBase):
    """Agents driven by a saved policy (see the module docstring)."""

    kind: Literal["policy"] = "policy"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=1_000_000_000)  # replaced by the policy's
    checkpoint: str = Field(min_length=1)
    learner: str | None = None
    # an execution policy's parent order (as kind: executor's)
    side: Literal["buy", "sell"] | None = None
    quantity: PositiveInt | None = None
    start: Duration | None = None
    duration: Duration | None = None

    @field_validator("checkpoint")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not policy_path(v).is_file():
            raise ValueError(f"policy file {v!r} not found (relative paths are from the "
                             f"current directory, {Path.cwd()}; or a shipped policy's name)")
        return v

    @model_validator(mode="after")
    def _readable(self):
        from abmm.errors import AbmmError

        if policy_path(self.checkpoint).suffix in (".yaml", ".yml"):
            raise ValueError(f"checkpoint: {self.checkpoint} is a tuned-baseline spec (abmm "
                             "evaluate --policy), not a policy file; in a scenario use kind: "
                             "market_maker with its strategy and gamma")
        try:
            policies, payload = _load(self.checkpoint)
        except AbmmError as exc:  # a corrupt or foreign file: say so at validation
            raise ValueError(str(exc)) from None
        if self.learner is not None and self.learner not in policies:
            raise ValueError(f"{self.checkpoint} has no learner {self.learner!r}; it has "
                             f"{sorted(policies)}")
        env = payload["env"]
        if env.get("kind") == "ecology" and env.get("policy_config"):
            roles = env["policy_config"].get("roles", {})
            if self.learner is None:
                raise ValueError(f"{self.checkpoint} is an ecology policy (one learner per "
                                 f"agent and role): name the learner to play, one of "
                                 f"{sorted(roles)}")
            role = roles.get(self.learner)
            if role not in ROLE_ENV:
                raise ValueError(f"learner {self.learner!r} of {self.checkpoint} plays the "
                                 f"{role} role; policy agents play makers, chartists and "
                                 "executors")
            env = _role_env(env, role)
        given = [f for f in PARENT if getattr(self, f) is not None]
        if env.get("kind") == "execution" and env.get("policy_config"):
            missing = [f for f in PARENT if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{self.checkpoint} is an execution policy: give its parent "
                                 f"order's {', '.join(missing)} (as kind: executor's side, "
                                 "quantity, start, duration)")
            if self.duration <= 0:
                raise ValueError(f"duration must be positive for an execution policy, got "
                                 f"{self.duration} ns")
            return self
        if given:
            raise ValueError(f"{', '.join(given)}: parent-order fields are for execution "
                             f"policies; {self.checkpoint} was trained in a "
                             f"{env.get('kind')!r} environment")
        if env.get("kind") == "trading" and env.get("policy_config"):
            if "windows" not in env["policy_config"]:
                raise ValueError(f"{self.checkpoint} is a trading policy saved without its "
                                 "indicator windows (policy_config.windows); retrain it with "
                                 "this version to play it as a kind: policy chartist")
            return self
        if env.get("kind") != "market" or not env.get("policy_config"):
            raise ValueError(f"{self.checkpoint} was trained in a {env.get('kind')!r} "
                             "environment; policy agents take abmm.env.market_v0 (market "
                             "making), abmm.env.trading_v0 (chartist) or "
                             "abmm.env.execution_v0 (executor) policies")
        return self


def _role_env(env: dict, role: str) -> dict:
    """The environment description of one role of an ecology policy file: the role's own
    environment kind and ``policy_config`` (``EcologyEnv.policy_config``)."""
    return {"kind": ROLE_ENV[role], "policy_config": env["policy_config"][role]}


def _load(name_or_path: str):
    """``({learner: Policy}, config)`` of a policy file or shipped name (cached per file)."""
    path = policy_path(name_or_path)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        from abmm.policy.file import load_policy

        _CACHE[key] = load_policy(path)
    return _CACHE[key]


class PolicyAgent(TraderAgent):
    """A market maker whose quotes a saved policy decides, a chartist when the policy is a
    trading policy, an executor when it is an execution policy (see the module docstring)."""

    kind = "policy"

    def setup(self) -> None:
        """Load the policy (cached) and its environment conventions."""
        p = self.params
        policies, payload = _load(p.checkpoint)  # checked by PolicyGroup
        names = sorted(policies)
        self.learner_name = p.learner or names[self.index % len(names)]
        # its own copy: a sequence policy (window > 1) keeps this agent's observation window
        self.policy = policies[self.learner_name].fork()
        env = payload["env"]
        if env.get("kind") == "ecology":  # one role's conventions (checked by PolicyGroup)
            env = _role_env(env, env["policy_config"]["roles"][self.learner_name])
        self.cfg = cfg = env["policy_config"]
        self.decision_ns = int(cfg["decision_ns"])
        self.decisions = 0
        self.chartist = env.get("kind") == "trading"
        self.executor = env.get("kind") == "execution"
        if self.executor:
            self.buy = p.side == "buy"
            self.t_end = p.start + p.duration
            self.vol_scale = float(cfg.get("vol_scale", 2.0))
            self.tape: execution.ExecutionTape | None = None
            self.arrival_price: float | None = None
            self.vwap_num = 0.0
            self.done = False
            return
        if self.chartist:
            self.view = ChartistView(cfg)
            self.pos, self.entry, self.stop, self.stopped, self.stops_hit = 0, 0.0, None, \
                False, 0
            self._fills = None
            return
        self.quotes = QuoteActions(cfg["action_mode"], cfg["quote_size"], cfg["max_size"],
                                   cfg["max_offset"], cfg["offsets"])
        self.max_inventory = int(cfg["max_inventory"])
        self.features: MarketFeatures | None = None
        self.book_levels = int(cfg.get("book_levels", 0))
        self.book_scale = float(cfg.get("book_scale", 20.0))
        self.obs = np.zeros(N_FEATURES + 4 * self.book_levels, np.float32)
        self.decisions = 0

    def first_wake(self, start: int, end: int) -> int | None:
        """The end of the warm-up (a chartist: one decision interval after the start; an
        executor: its ``start``)."""
        if self.executor:
            return max(self.params.start, start)
        if self.chartist:
            return start + self.decision_ns
        return self.venue.warmup_end

    def next_wake(self, now: int) -> int | None:
        """One decision interval later, if before the close (a chartist: the next market
        step, up to the close; an executor: until its parent is done)."""
        if self.executor:
            nxt = now + self.decision_ns
            return None if self.done or nxt >= self.venue.end else nxt
        if self.chartist:
            m = self.venue
            if self.stop is None or self.stopped:  # nothing to watch: the next decision time
                k = (now - m.start) // self.decision_ns + 1
                nxt = m.start + k * self.decision_ns
            else:  # a stop armed: checked at every market step
                nxt = now + m.step_ns
            return nxt if nxt <= m.end else None
        nxt = now + self.decision_ns
        return nxt if nxt < self.venue.end else None  # as in the env: no decision at the close

    def observe(self) -> np.ndarray:
        """The observation ``abmm.env.market_v0`` would give this agent now."""
        m = self.venue
        if self.features is None:
            self.features = MarketFeatures(m, self.decision_ns, self.cfg["vol_halflife"],
                                           vpin_bucket=self.cfg["vpin_bucket"])
        market = self.features.update()
        o = self.obs
        o[2:2 + len(market)] = market
        t0 = m.warmup_end
        left = (m.end - m.now) / max(m.end - t0, 1)
        agent_features(self, m, self.features.mid, left, self.max_inventory,
                       self.quotes.max_offset, o)
        if self.book_levels:
            book_features(m.book, self.features.mid, self.book_levels, self.quotes.max_offset,
                          self.book_scale, o)
        return o

    def on_wake(self) -> None:
        """Observe, ask the policy, requote (a chartist: ``chartist_wake``; an executor:
        ``executor_wake``)."""
        if self.executor:
            self.executor_wake()
            return
        if self.chartist:
            self.chartist_wake()
            return
        obs = self.observe()
        action = self.policy(obs[None])[0]
        ob, sb, oa, sa = self.quotes.decode(self.name, action)
        requote(self, target_quotes(self.features.mid, ob, sb, oa, sa, self.inventory,
                                    self.max_inventory))
        self.decisions += 1

    # ------------------------------------------------------------------ executor
    def executor_wake(self) -> None:
        """One decision of execution_v0: the tape's interval, the observation, the policy's
        child order (everything left at market from the end of the schedule on)."""
        m, p = self.venue, self.params
        if self.tape is None:  # the parent starts: the arrival mark, the tape from now on
            self.tape = execution.ExecutionTape(m)
            self.arrival_price = m.mark_price()
        else:
            self.tape.track(m)
        if p.quantity - abs(self.inventory) <= 0:
            self.cancel_all()
            self.done = True
            return
        self.last_obs = obs = execution.observe(
            m, self, self.tape, p.quantity, 1 if self.buy else -1, self.arrival_price,
            self.t_end, p.duration, self.vol_scale)
        final = m.now >= self.t_end
        act = 0
        if not final:
            act = execution.check_action(self.name, self.policy(obs[None])[0])
            self.decisions += 1
        execution.send_child(m, self, act, final, p.quantity, self.buy,
                             execution.base_lot(p.quantity, self.inventory, self.t_end, m.now,
                                                self.decision_ns))

    def on_fill(self, order_id: int, side: int, price: int, qty: int, maker: bool) -> None:
        """An executor accumulates ``price * qty`` of its fills (its average price)."""
        super().on_fill(order_id, side, price, qty, maker)
        if self.executor:
            self.vwap_num += price * qty

    # ------------------------------------------------------------------ chartist
    def chartist_wake(self) -> None:
        """Book fills and check the stop (after the warm-up), sample the mid on decision
        boundaries, decide at each decision after the warm-up (as trading_v0 does)."""
        m = self.venue
        now = m.now
        live = now >= m.warmup_end
        if live and self._fills is not None:
            self._account()
        if (now - m.start) % self.decision_ns == 0:
            self.view.sample(now, m.top, m.mark_price())
        if live and (now - m.warmup_end) % self.decision_ns == 0 and now < m.end:
            if self._fills is None:  # the episode starts: fills count from now on
                self._fills = m.watch_fills(self)
                self.pos = self.inventory
                self.entry = m.mark_price() if self.inventory else 0.0
            self._decide()

    def _decide(self) -> None:
        m = self.venue
        mark = m.mark_price()
        left = (m.end - m.now) / max(m.end - m.warmup_end, 1)
        self.last_obs = obs = self.view.observe(self.inventory, self.entry, mark, left)
        action = self.policy(obs[None])[0]
        c = self.cfg
        target, stop = decode_action(self.name, action, c["action_mode"], c["max_position"],
                                     c["max_stop_sigma"])
        self.cancel_all()
        delta = target - self.inventory
        if delta:
            self.market_order(BUY if delta > 0 else SELL, abs(delta))
        self.stop = None if stop is None else self.view.stop_ticks(stop)
        self.stopped = False
        self.decisions += 1

    def _account(self) -> None:
        """Position and average entry from the exchange's fills; fire the stop."""
        fills = self._fills
        for _, x, p, _, _ in fills:
            q = self.pos
            new = q + x
            if new == 0:
                self.entry = 0.0
            elif q == 0 or (q > 0) != (new > 0):
                self.entry = float(p)
            elif abs(new) > abs(q):
                self.entry = (self.entry * abs(q) + p * abs(x)) / abs(new)
            self.pos = new
        fills.clear()
        q = self.pos
        if self.stop is None or self.stopped or not q:
            return
        if (self.venue.mark_price() - self.entry) * (1 if q > 0 else -1) <= -self.stop:
            self.cancel_all()
            self.market_order(SELL if q > 0 else BUY, abs(q))
            self.stopped = True
            self.stops_hit += 1

    def summary(self) -> dict:
        """The agent summary plus its learner and number of decisions (an executor: and the
        executor's parent, completion, average and arrival prices and shortfall per lot,
        ticks, positive = cost)."""
        out = super().summary() | {"learner": self.learner_name, "decisions": self.decisions}
        if self.executor:
            q = self.params.quantity
            done = abs(self.inventory)
            avg = self.vwap_num / done if done else None
            arr = self.arrival_price
            out |= {"parent_qty": q, "executed": done, "completion": done / q,
                    "avg_price_ticks": avg, "arrival_price_ticks": arr,
                    "shortfall_ticks": None if avg is None or arr is None
                    else (avg - arr) * (1 if self.buy else -1)}
        return out
