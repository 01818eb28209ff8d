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
refused with the ``abmm export`` command that converts it. Only market-making policies
(``abmm.env.market_v0``) drive policy agents: a trading policy (``abmm.env.trading_v0``) is
refused with a one-line scenario error (evaluate it with ``abmm evaluate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from abmm.agents.base import TraderAgent
from abmm.policy.actions import QuoteActions, requote, target_quotes
from abmm.policy.features import N_FEATURES, MarketFeatures, agent_features
from abmm.resources import policy_path
from abmm.schema import GroupBase, WakeCfg

_CACHE: dict = {}


class PolicyGroup(GroupBase):
    """Agents driven by a saved policy (see the module docstring)."""

    kind: Literal["policy"] = "policy"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=1_000_000_000)  # replaced by the policy's
    checkpoint: str = Field(min_length=1)
    learner: str | None = None

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
        if env.get("kind") == "trading":
            raise ValueError(f"{self.checkpoint} is a trading (abmm.env.trading_v0) policy; "
                             "kind: policy agents take market_v0 market-making policies only "
                             "-- evaluate it with abmm evaluate on a scenario with learnable "
                             "chartists")
        if env.get("kind") != "market" or not env.get("policy_config"):
            raise ValueError(f"{self.checkpoint} was trained in a {env.get('kind')!r} "
                             "environment; policy agents take abmm.env.market_v0 policies")
        return self


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
    """A market maker whose quotes a saved policy decides (see the module docstring)."""

    kind = "policy"

    def setup(self) -> None:
        """Load the policy (cached) and its environment conventions."""
        p = self.params
        policies, payload = _load(p.checkpoint)  # checked by PolicyGroup
        names = sorted(policies)
        self.learner_name = p.learner or names[self.index % len(names)]
        # its own copy: a sequence policy (window > 1) keeps this agent's observation window
        self.policy = policies[self.learner_name].fork()
        self.cfg = cfg = payload["env"]["policy_config"]
        self.decision_ns = int(cfg["decision_ns"])
        self.quotes = QuoteActions(cfg["action_mode"], cfg["quote_size"], cfg["max_size"],
                                   cfg["max_offset"], cfg["offsets"])
        self.max_inventory = int(cfg["max_inventory"])
        self.features: MarketFeatures | None = None
        self.obs = np.zeros(N_FEATURES, np.float32)
        self.decisions = 0

    def first_wake(self, start: int, end: int) -> int | None:
        """The end of the warm-up."""
        return self.model.warmup_end

    def next_wake(self, now: int) -> int | None:
        """One decision interval later, if before the close."""
        nxt = now + self.decision_ns
        return nxt if nxt < self.model.end else None  # as in the env: no decision at the close

    def observe(self) -> np.ndarray:
        """The observation ``abmm.env.market_v0`` would give this agent now."""
        m = self.model
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
        return o

    def on_wake(self) -> None:
        """Observe, ask the policy, requote."""
        obs = self.observe()
        action = self.policy(obs[None])[0]
        ob, sb, oa, sa = self.quotes.decode(self.name, action)
        requote(self, target_quotes(self.features.mid, ob, sb, oa, sa, self.inventory,
                                    self.max_inventory))
        self.decisions += 1

    def summary(self) -> dict:
        """The agent summary plus its learner and number of decisions."""
        return super().summary() | {"learner": self.learner_name, "decisions": self.decisions}
