"""Calibration of a scenario to real data: the simulated method of moments (``abmm calibrate``)."""
