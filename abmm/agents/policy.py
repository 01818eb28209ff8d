"""Policy agents: a saved torch policy (``abmm train`` output) acting as a normal Mesa agent.

Scenario group::

    - kind: policy
      name: rl_mm
      count: 2
      checkpoint: policies/mm_coevolved.pt   # a policy file or a training checkpoint
      learner: learner_0                     # which learner of the file (default: agent i
                                             # takes the file's learner i, cycling)
      latency: 1ms

The agent decides every ``decision_ns`` of the policy (the environment's decision interval it
was trained with), first at the end of the warm-up: it builds the same observation as
``abmm.env.market_v0`` (``abmm.agents.quoting``), asks the policy for its deterministic action
and sends the quotes, exactly as the environment would. ``time_left`` runs from the end of the
warm-up to the session close. A file that cannot be read is a scenario error naming it; torch
is imported only when a policy agent is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from abmm.agents.base import TraderAgent
from abmm.agents.groups import GroupBase, WakeCfg
from abmm.agents.quoting import (
    N_FEATURES,
    MarketFeatures,
    QuoteActions,
    agent_features,
    requote,
    target_quotes,
)

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
        if not Path(v).is_file():
            raise ValueError(f"policy file {v!r} not found (relative paths are from the "
                             f"current directory, {Path.cwd()})")
        return v

    @model_validator(mode="after")
    def _readable(self):
        from abmm.errors import AbmmError

        try:
            policies, payload = _load(self.checkpoint)
        except AbmmError as exc:  # a corrupt or foreign file: say so at validation
            raise ValueError(str(exc)) from None
        if self.learner is not None and self.learner not in policies:
            raise ValueError(f"{self.checkpoint} has no learner {self.learner!r}; it has "
                             f"{sorted(policies)}")
        env = payload.get("env", {})
        if env.get("kind") != "market" or not env.get("policy_config"):
            raise ValueError(f"{self.checkpoint} was trained in a {env.get('kind')!r} "
                             "environment; policy agents take abmm.env.market_v0 policies")
        return self


def _load(path: str):
    key = str(Path(path).resolve())
    if key not in _CACHE:
        from abmm.learn.policy import load_policies  # torch, only when used

        _CACHE[key] = load_policies(path)
    return _CACHE[key]


class PolicyAgent(TraderAgent):
    kind = "policy"

    def setup(self) -> None:
        p = self.params
        policies, payload = _load(p.checkpoint)  # checked by PolicyGroup
        names = sorted(policies)
        self.learner_name = p.learner or names[self.index % len(names)]
        self.policy = policies[self.learner_name]
        self.cfg = cfg = payload["env"]["policy_config"]
        self.decision_ns = int(cfg["decision_ns"])
        self.quotes = QuoteActions(cfg["action_mode"], cfg["quote_size"], cfg["max_size"],
                                   cfg["max_offset"], cfg["offsets"])
        self.max_inventory = int(cfg["max_inventory"])
        self.features: MarketFeatures | None = None
        self.obs = np.zeros(N_FEATURES, np.float32)
        self.decisions = 0

    def first_wake(self, start: int, end: int) -> int | None:
        return self.model.warmup_end

    def next_wake(self, now: int) -> int | None:
        nxt = now + self.decision_ns
        return nxt if nxt < self.model.end else None  # as in the env: no decision at the close

    def observe(self) -> np.ndarray:
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
        obs = self.observe()
        action = self.policy(obs[None])[0]
        ob, sb, oa, sa = self.quotes.decode(self.name, action)
        requote(self, target_quotes(self.features.mid, ob, sb, oa, sa, self.inventory,
                                    self.max_inventory))
        self.decisions += 1

    def summary(self) -> dict:
        return super().summary() | {"learner": self.learner_name, "decisions": self.decisions}
