"""Mesa agents of the market. ``KINDS`` maps a scenario ``kind`` to (group schema, agent class)."""

from abmm.agents.base import Latency, TraderAgent, Wake
from abmm.agents.cross import (
    ArbitrageAgent,
    ArbitrageGroup,
    BasketAgent,
    BasketGroup,
    HedgingMarketMaker,
    HedgingMMGroup,
)
from abmm.agents.executor import ExecutorAgent, ExecutorGroup
from abmm.agents.inferred import InferredAgent, InferredGroup
from abmm.agents.informed import InformedAgent, InformedGroup
from abmm.agents.latent import LatentAgent, LatentGroup
from abmm.agents.market_maker import MarketMakerAgent, MarketMakerGroup
from abmm.agents.metaorder import MetaorderAgent, MetaorderGroup
from abmm.agents.momentum import MomentumAgent, MomentumGroup
from abmm.agents.noise import NoiseAgent, NoiseGroup
from abmm.agents.policy import PolicyAgent, PolicyGroup
from abmm.agents.shock import ShockAgent, ShockGroup
from abmm.agents.value import ValueAgent, ValueGroup

KINDS = {
    "noise": (NoiseGroup, NoiseAgent),
    "value": (ValueGroup, ValueAgent),
    "informed": (InformedGroup, InformedAgent),
    "momentum": (MomentumGroup, MomentumAgent),
    "executor": (ExecutorGroup, ExecutorAgent),
    "market_maker": (MarketMakerGroup, MarketMakerAgent),
    "metaorder": (MetaorderGroup, MetaorderAgent),
    "policy": (PolicyGroup, PolicyAgent),
    "inferred": (InferredGroup, InferredAgent),
    "latent": (LatentGroup, LatentAgent),
    "arbitrage": (ArbitrageGroup, ArbitrageAgent),
    "hedging_mm": (HedgingMMGroup, HedgingMarketMaker),
    "basket": (BasketGroup, BasketAgent),
}

__all__ = ["KINDS", "TraderAgent", "Latency", "Wake", "ShockAgent", "ShockGroup",
           "NoiseAgent", "ValueAgent", "InformedAgent", "MomentumAgent", "ExecutorAgent",
           "MarketMakerAgent", "MetaorderAgent", "PolicyAgent", "InferredAgent", "LatentAgent",
           "ArbitrageAgent", "HedgingMarketMaker", "BasketAgent"]
