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
    binned_decay_exponent,
    excess_kurtosis,
    fit_power_law,
    hill_tail_index,
    intraday_profile,
    leverage,
    log_returns,
    loss_gain_ratio,
    skewness,
    variance_ratio,
    volume_volatility,
)
from abmm.analysis.run_facts import MIN_SIGNS, book_facts, order_sign_facts, order_signs
from abmm.analysis.scorecard import (
    ABS_LAGS,
    ACF_FLOOR,
    BETA_RANGE,
    CHECK_KEYS,
    GAMMA_RANGE,
    HILL_RANGE,
    KURT_MIN,
    LIN_LAGS,
    VOL_BAND,
    VR_LAGS,
    Z_BONFERRONI,
    Z_LAG1,
    Z_VR,
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
    "Z_BONFERRONI", "Z_LAG1", "Z_VR", "VR_LAGS", "BETA_RANGE", "GAMMA_RANGE", "VOL_BAND",
    "CHECK_KEYS", "HILL_RANGE", "KURT_MIN", "MIN_SIGNS", "binned_decay_exponent",
    "variance_ratio", "skewness", "loss_gain_ratio", "intraday_profile",
    "log_returns", "excess_kurtosis", "hill_tail_index", "acf", "acf_se", "acf_band",
    "fit_power_law", "acf_decay_exponent", "leverage", "volume_volatility",
    "aggregation_kurtosis", "book_facts", "order_signs", "order_sign_facts", "bar_facts",
    "FactRow", "Scorecard", "scorecard", "facts_from_run", "format_scorecard", "_num",
]
