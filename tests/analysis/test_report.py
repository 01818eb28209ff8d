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
