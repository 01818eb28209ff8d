"""Shared fixtures for the calibration tests: the tiny market, and a target it produced."""

from __future__ import annotations

from pathlib import Path

import pytest

from abmm.calibrate import Target, simulate_moments

#: A two-hour market (115 one-minute returns after the warm-up), about 0.5 s a run.
TINY = Path(__file__).resolve().parent / "tiny_market.yaml"
#: The true volatility of the fundamental the target is made with.
TRUE_SIGMA = 1.0
#: The target's seeds: none of them is a seed the calibrations run (1, 2, ...).
TARGET_SEEDS = range(101, 109)


@pytest.fixture(scope="session")
def tiny() -> Path:
    """The tiny market's scenario file."""
    return TINY


@pytest.fixture(scope="session")
def true_sigma() -> float:
    """The ``sigma_1h`` the target is made with."""
    return TRUE_SIGMA


@pytest.fixture(scope="session")
def target() -> Target:
    """The moments of the tiny market with ``sigma_1h = TRUE_SIGMA`` over eight seeds the
    calibrations do not use (their mean, and their seed-to-seed variance)."""
    sims = simulate_moments(TINY, TARGET_SEEDS, [f"fundamental.sigma_1h={TRUE_SIGMA}"],
                            workers=2)
    return Target.from_moments(sims, source="tiny_market sigma_1h=1.0, seeds 101-108")
