"""Fixtures of the data tests: the fake Bybit server (tests/data/fake_bybit.py)."""

from fake_bybit import fake_bybit  # noqa: F401
