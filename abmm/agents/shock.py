"""The pseudo-agent that sends the orders of shocks (flash crash, fat finger)."""

from __future__ import annotations

from typing import Literal

from abmm.agents.base import TraderAgent
from abmm.schema import GroupBase, WakeCfg


class ShockGroup(GroupBase):
    """The group of the shock pseudo-agent, which never wakes by itself (shocks send its orders)."""

    kind: Literal["shock"] = "shock"
    wake: WakeCfg = WakeCfg(kind="once", interval=0)


class ShockAgent(TraderAgent):
    """Never wakes by itself; shocks send its orders."""

    kind = "shock"

    def first_wake(self, start: int, end: int) -> None:
        """Never wake (shocks send this agent's orders)."""
        return None
