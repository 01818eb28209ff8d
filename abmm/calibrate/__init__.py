"""Calibration of a scenario to real data: the simulated method of moments (``abmm calibrate``).

See :mod:`abmm.calibrate.smm`."""

from abmm.calibrate.smm import (
    NAN_Z,
    CalibrationResult,
    Param,
    Target,
    calibrate,
    parse_param,
    returns_length,
    simulate_moments,
)

__all__ = ["Param", "parse_param", "Target", "CalibrationResult", "calibrate",
           "simulate_moments", "returns_length", "NAN_Z"]
