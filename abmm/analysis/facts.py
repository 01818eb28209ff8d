"""Stylized facts of a run or of real bars: one import for the estimators, the run facts and
the scorecard.

The code lives by idea -- :mod:`abmm.analysis.estimators` (returns, kurtosis, Hill tail index,
ACF, power-law fits, leverage, volume/volatility), :mod:`abmm.analysis.run_facts` (book and
order-sign facts read from a run directory) and :mod:`abmm.analysis.scorecard` (the checks
against Cont 2001 and their table) -- and this module re-exports their public names, so that
``from abmm.analysis import facts as F; F.scorecard(bars)`` keeps working.
"""

from __future__ import annotations

from abmm.analysis.estimators import (
    AGG_SCALES,
    MIN_AGG_RETURNS,
    MIN_RETURNS,
    acf,
    acf_band,
    acf_decay_exponent,
    acf_se,
    aggregation_kurtosis,
    excess_kurtosis,
    fit_power_law,
    hill_tail_index,
    leverage,
    log_returns,
    volume_volatility,
)
from abmm.analysis.run_facts import book_facts, order_sign_facts, order_signs
from abmm.analysis.scorecard import (
    ABS_LAGS,
    ACF_FLOOR,
    HILL_RANGE,
    KURT_MIN,
    LIN_LAGS,
    Z_BONFERRONI,
    FactRow,
    Scorecard,
    _num,
    bar_facts,
    facts_from_run,
    format_scorecard,
    scorecard,
)

__all__ = [
    "MIN_RETURNS", "MIN_AGG_RETURNS", "ABS_LAGS", "AGG_SCALES", "ACF_FLOOR", "LIN_LAGS",
    "Z_BONFERRONI", "HILL_RANGE", "KURT_MIN",
    "log_returns", "excess_kurtosis", "hill_tail_index", "acf", "acf_se", "acf_band",
    "fit_power_law", "acf_decay_exponent", "leverage", "volume_volatility",
    "aggregation_kurtosis", "book_facts", "order_signs", "order_sign_facts", "bar_facts",
    "FactRow", "Scorecard", "scorecard", "facts_from_run", "format_scorecard", "_num",
]
