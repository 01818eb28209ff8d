"""The HTML report of a run (abmm.analysis.report)."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

from abmm.analysis.bars import run_bars
from abmm.analysis.report import SECTIONS, write_report
from abmm.scenario import build_model

SCENARIO = {
    "name": "report", "seed": 2,
    "market": {"open": "09:30", "close": "10:00"},
    "agents": [
        {"kind": "noise", "count": 60, "wake": {"kind": "poisson", "interval": "5s"}},
        {"kind": "value", "count": 10},
        {"kind": "market_maker", "name": "mm", "count": 1, "half_spread_ticks": 1},
        {"kind": "executor", "start": "09:31", "duration": "10min", "quantity": 500,
         "wake": {"kind": "fixed", "interval": "10s"}},
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    build_model(SCENARIO, seed=2, out=out).run()
    return out


def test_report_has_every_section(run):
    path = write_report(run)
    assert path == run / "report.html" and path.exists()
    text = path.read_text()
    for sid in ("price", "depth", "returns", "acf", "agents", "scorecard", "summary"):
        assert sid in SECTIONS
        assert f'<section id="{sid}">' in text
    images = re.findall(r'<img alt="chart" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) >= 5 and all(len(i) > 1000 for i in images)
    # the group table: one column per group
    table = text[text.index('id="group-metrics"'):]
    table = table[:table.index("</table>")]
    for group in ("noise", "value", "mm", "executor"):
        assert f"<th>{group}</th>" in table
    assert "spread_pnl" in table and "quoting_ratio" in table
    assert 'id="executor-metrics"' in text
    # self-contained: no external assets
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<script" not in text
    assert 'id="scorecard-table"' in text


def test_report_out_and_real(run, tmp_path):
    bars = run_bars(run, "1min")
    real = tmp_path / "real.csv"
    bars.to_csv(real, index=False)
    path = write_report(run, out=tmp_path / "reports", real=real)
    assert path == tmp_path / "reports" / "report.html" and path.exists()
    named = write_report(run, out=tmp_path / "x.html", real=pd.read_csv(real))
    assert named == tmp_path / "x.html" and named.exists()
    text = path.read_text()
    table = text[text.index('id="scorecard-table"'):]
    assert "<th>real</th>" in table[:table.index("</thead>")]


def test_importing_the_report_leaves_matplotlib_alone():
    code = ("import sys, abmm.analysis.report, abmm.analysis.metrics; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_reports_returns_kurtosis_and_acf_are_the_scorecards(run):
    """The returns and ACF sections draw what the scorecard beside them reports."""
    import math

    import numpy as np

    from abmm.analysis import facts as F
    from abmm.analysis.report import return_stats

    fat = np.random.default_rng(3).standard_t(4, 2_000) * 1e-3  # heavy-tailed returns
    for bars in (run_bars(run, "10s", after_warmup=True),
                 pd.DataFrame({"close": 100 * np.exp(np.cumsum(fat))})):
        stats = return_stats(bars, nlags=50)
        card = {r.name: r.value for r in F.scorecard(bars).rows}
        assert len(stats["r"]) == card["returns"] > F.MIN_RETURNS
        assert np.array_equal(stats["r"], F.log_returns(bars).to_numpy())
        assert stats["kurtosis"] == card["excess kurtosis"]
        assert stats["acf_r"][1] == card["ACF r lag 1"]
        for k in (1, 5, 10, 20, 50):
            assert stats["acf_abs"][k] == card[f"ACF |r| lag {k}"]
        assert stats["band"] == 1.96 / math.sqrt(len(stats["r"]))


def test_the_reports_acf_is_nan_past_the_data():
    """Lags at or past the number of returns are NaN (the old report's ACF had no guard)."""
    import numpy as np

    from abmm.analysis.report import return_stats

    close = 100 * np.exp(np.cumsum([0.0, 0.01, -0.02, 0.015, 0.0, -0.01]))
    stats = return_stats(pd.DataFrame({"close": close}), nlags=30)
    n = len(stats["r"])
    assert n == 5 and np.isfinite(stats["acf_r"][1:n]).all()
    assert np.isnan(stats["acf_r"][n:]).all() and np.isnan(stats["kurtosis"])


def test_report_with_a_real_feed(run, tmp_path):
    """``real_feed`` adds the tick-level section: the figure and the table beside it."""
    import gzip
    import json

    import numpy as np

    rng = np.random.default_rng(1)
    lines = []
    for i in range(400):
        t = 1_700_000_000_000 + i * 50
        bid = 60_000 + round(float(rng.normal()), 1)
        lines.append(f"{t * 10**6} " + json.dumps({"stream": "btcusdt@bookTicker", "data": {
            "u": i, "b": f"{bid:.1f}", "B": "1.5", "a": f"{bid + 0.1 * (1 + i % 3):.1f}",
            "A": "0.8", "T": t}}))
        lines.append(f"{t * 10**6} " + json.dumps({"stream": "btcusdt@trade", "data": {
            "t": i, "p": f"{bid:.1f}", "q": f"{0.001 * (1 + i % 7):.3f}", "T": t,
            "m": bool(rng.integers(2)), "X": "MARKET"}}))
    feed = tmp_path / "feed.gz"
    with gzip.open(feed, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    path = write_report(run, out=tmp_path / "tick.html", real_feed=feed)
    text = path.read_text()
    assert '<section id="tick">' in text and '<a href="#tick">' in text
    section = text[text.index('<section id="tick">'):]
    assert 'id="tick-table"' in section and "data:image/png;base64," in section
    assert "trade size mean (lots)" in section and "feed.gz" in section
    assert '<section id="tick">' not in write_report(run, out=tmp_path / "x.html").read_text()
    bad = tmp_path / "bars.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n" * 200)
    with pytest.raises(ValueError, match="not a Binance feed"):
        write_report(run, out=tmp_path / "y.html", real_feed=bad)
    assert not (tmp_path / "y.html").exists()
