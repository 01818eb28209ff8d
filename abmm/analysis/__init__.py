"""Analysis of runs: OHLCV bars, stylized facts, agent metrics, reports."""
