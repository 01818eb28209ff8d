"""Every AbmmError survives pickling (errors cross process pools: sweeps, benchmarks, vector
envs); an exception whose __init__ takes several arguments would otherwise kill the pool's
result thread instead of reaching the caller."""

import pickle

import pytest

from abmm.errors import AbmmError, DataError, InvalidPriceError, UnknownSymbolError
from abmm.learn.config import ConfigError
from abmm.scenario.loader import ScenarioError


class Bare(Exception):
    def __init__(self, source, problems):
        super().__init__(f"{source}: {problems}")


@pytest.mark.parametrize("err", [
    ScenarioError("s.yaml", [("agents[0].p_market", "must be <= 1"), ("seed", "not an int")]),
    InvalidPriceError("price", -1, "a positive integer", index=3),
    UnknownSymbolError("XYZ", ("ABM",)),
    DataError("bad file"),
    ConfigError("c.yaml: algo: 'x' is not one of ppo, dqn, tabular"),
])
def test_abmm_errors_round_trip_through_pickle(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.__dict__ == err.__dict__


def test_pickling_fails_without_the_reduce_hook():
    """Negative control: the same multi-argument error without AbmmError.__reduce__ cannot be
    rebuilt by pickle (the failure the hook prevents)."""
    with pytest.raises(TypeError):
        pickle.loads(pickle.dumps(Bare("s.yaml", [])))
    assert issubclass(ScenarioError, AbmmError)
