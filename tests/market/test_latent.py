"""The latent order book (``kind: latent``): in a market made of it alone, a metaorder's impact
grows as the square root of its size while the book remembers where the price was; with a
memory shorter than the metaorder the book re-forms around each new price and impact is linear
again (the negative control)."""

from __future__ import annotations

import math

import pytest

from abmm.scenario import ScenarioError, build_model
from abmm.schema.timing import SECOND


def scenario(agents, close="10:00"):
    return {"name": "t", "seed": 1, "market": {"open": "09:30", "close": close},
            "fundamental": {"sigma_1h": 0.0}, "agents": list(agents), "shocks": []}


def build(agents, close="10:00"):
    return build_model(scenario(agents, close))


def executor(name, algo, **kw):
    g = {"kind": "executor", "name": name, "algo": algo, "latency": 0}
    g.update(kw)
    return g

DENSITY = 2.0  # lots per tick per tick of distance


def latent(**kw):
    g = {"kind": "latent", "name": "lat", "latency": 0, "density": DENSITY, "width_ticks": 2000,
         "memory": "10h", "reveal_ticks": 5, "wake": {"kind": "fixed", "interval": "1s"}}
    g.update(kw)
    return g


def impact(q: int, memory: str) -> float:
    """Ticks the mid moves while a TWAP buys ``q`` lots over 10 minutes against the latent book."""
    ex = executor("ex", "twap", side="buy", quantity=q, start="09:35", duration="10min",
                  wake={"kind": "fixed", "interval": "5s"}, latency=0)
    model = build([latent(memory=memory), ex], close="10:00")
    e = model.groups["ex"][0]
    model.run_until(e.begin - SECOND)
    m0 = model.mark_price()
    model.run_until(e.finish_at + 2 * SECOND)
    assert e.inventory == q  # the whole parent traded against revealed latent liquidity
    return model.mark_price() - m0


def test_latent_book_impact_is_square_root_of_size_and_linear_without_memory():
    sizes = (200, 800, 3200)  # each 4x the last: sqrt -> 2x the impact, linear -> 4x
    long = [impact(q, "10h") for q in sizes]
    for q, d in zip(sizes, long, strict=True):  # uncovering D ticks reveals density * D**2 / 2 lots
        assert d == pytest.approx(math.sqrt(2 * q / DENSITY), rel=0.15), (q, d)
    slope = math.log(long[-1] / long[0]) / math.log(sizes[-1] / sizes[0])
    assert 0.4 <= slope <= 0.6, long
    # negative control: a memory of one second re-centres the book after every child order
    short = [impact(q, "1s") for q in sizes]
    slope_short = math.log(short[-1] / short[0]) / math.log(sizes[-1] / sizes[0])
    assert slope_short > 0.8, short


def test_latent_book_shows_only_levels_near_the_mid():
    model = build([latent(reveal_ticks=3)], close="09:40")
    model.run_until(model.start + 10 * SECOND)
    agent = model.groups["lat"][0]
    mid = model.mark_price()
    prices = [o[1] for o in agent.open_orders.values()]
    assert prices and all(abs(p - mid) <= 3 + 1 for p in prices)
    # the level d ticks away holds density * d lots
    for side, price, qty, _ in agent.open_orders.values():
        assert qty == int(DENSITY * abs(price - mid)), (side, price, qty)


@pytest.mark.parametrize("bad,msg", [({"memory": 0}, "memory"), ({"density": -1}, "density"),
                                     ({"reveal_ticks": 0}, "reveal_ticks")])
def test_latent_schema_errors_name_the_field(bad, msg):
    with pytest.raises(ScenarioError, match=msg):
        build_model(scenario([latent(**bad)]))
