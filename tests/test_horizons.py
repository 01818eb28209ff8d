"""Convenient horizons: ``abmm run --until``, the ``market.end`` alias of ``market.close``, and
agent windows clipped (or their group dropped) when the session is shortened."""

from __future__ import annotations

import json
import logging

import pytest

from abmm.cli import EXIT_INPUT, main
from abmm.scenario import ScenarioError, build_model, load_scenario
from abmm.schema.timing import HOUR, MINUTE, parse_duration

SC = {"name": "horizon", "seed": 2,
      "market": {"open": "09:30", "close": "12:00"},
      "agents": [{"kind": "noise", "count": 20, "wake": {"kind": "poisson", "interval": "10s"}},
                 {"kind": "market_maker", "count": 1},
                 {"kind": "executor", "name": "twap", "quantity": 100, "start": "11:00",
                  "duration": "60min"}],
      "shocks": [{"kind": "flash_crash", "at": "09:50", "qty": 50},
                 {"kind": "news_jump", "at": "11:30", "size": 1.0}]}


def executor(sc):
    """The executor group of a scenario."""
    return next(g for g in sc.agents if g.kind == "executor")


def test_market_end_is_an_alias_of_close():
    a = load_scenario({**SC, "market": {"open": "09:30", "end": "12:00"}})
    b = load_scenario(SC)
    assert a.market.close == b.market.close == 12 * HOUR and a.market.end_ns == b.market.end_ns
    assert "end" not in a.resolved()["market"]  # recorded under its one name


def test_close_and_end_together_is_an_error_naming_both():
    with pytest.raises(ScenarioError) as info:
        load_scenario({**SC, "market": {"open": "09:30", "close": "12:00", "end": "11:00"}})
    (path, msg), = info.value.problems
    assert path == "market" and "market.close" in msg and "market.end" in msg
    assert "'12:00'" in msg and "'11:00'" in msg


def test_window_inside_the_session_is_untouched():
    sc = load_scenario(SC)
    assert sc.notes == [] and executor(sc).start == 11 * HOUR and executor(sc).count == 1


def test_shortened_session_clips_the_window_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="abmm"):
        sc = load_scenario(SC, overrides=["market.close=11:30"])
    ex = executor(sc)
    assert (ex.start, ex.duration, ex.count) == (11 * HOUR, 30 * MINUTE, 1)
    assert len(sc.notes) == 1
    note = sc.notes[0]
    assert "agents.2 (twap)" in note and "11:00:00.000-12:00:00.000" in note
    assert "clipped to 11:00:00.000-11:30:00.000" in note
    assert [r.getMessage() for r in caplog.records] == sc.notes
    assert build_model(sc).by_name("twap/0").finish_at <= parse_duration("11:30")


def test_window_entirely_outside_drops_the_group_and_says_so():
    sc = load_scenario(SC, overrides=["market.close=10:30", "shocks=[]"])
    assert executor(sc).count == 0
    (note,) = sc.notes
    assert "agents.2 (twap)" in note and "outside the session" in note and "dropped" in note
    model = build_model(sc)
    assert "twap" not in model.groups
    model.run()  # runs to the close without the executor


def test_shortened_default_runs_with_the_executor_dropped():
    """default.yaml (5 days, executor 11:00-12:00) with its close moved before the window."""
    sc = load_scenario("default", overrides=["market.close=10:30"])
    assert executor(sc).count == 0 and "outside the session" in sc.notes[0]


def test_until_stops_on_the_first_day_and_drops_later_shocks():
    sc = load_scenario(SC, until="10:30")
    assert sc.market.close == parse_duration("10:30") and sc.market.days == 1
    assert [s.kind for s in sc.shocks] == ["flash_crash"]
    assert len(sc.notes) == 2 and "shocks.1 (news_jump at 11:30:00.000)" in sc.notes[0]
    assert "agents.2 (twap)" in sc.notes[1] and "dropped" in sc.notes[1]
    multi = load_scenario("default", until="10:00")
    assert multi.market.days == 1 and multi.market.end_ns == 10 * HOUR
    aliased = load_scenario({**SC, "market": {"open": "09:30", "end": "12:00"}}, until="11:00")
    assert aliased.market.close == 11 * HOUR


@pytest.mark.parametrize("until, fragment", [
    ("09:00", "outside the first day's session [09:30:00.000, 12:00:00.000]"),
    ("13:00", "outside the first day's session"),
    ("soon", "expected a clock time HH:MM[:SS]"),
    ("09:40", "within the warm-up, which ends at 09:45:00.000"),
])
def test_bad_until_names_it(until, fragment):
    with pytest.raises(ScenarioError) as info:
        load_scenario(SC, until=until, overrides=["market.warmup=15min"])
    assert f"--until {until}" in str(info.value) and fragment in str(info.value)


def test_cli_until_on_default_is_quick_and_reports_the_executor(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["run", "default", "--until", "10:00", "--out", str(out), "--no-facts"])
    cap = capsys.readouterr()
    assert status == 0, cap.err
    warnings = [ln for ln in cap.err.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "agents.5 (executor)" in warnings[0]
    assert "dropped" in warnings[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert "10:00:00.000" in cap.out


def test_cli_until_clips_the_executor(tmp_path, capsys):
    status = main(["run", "default", "--until", "11:10", "--out", str(tmp_path / "r"),
                   "--no-facts", "--set", "agents.noise.count=20"])
    cap = capsys.readouterr()
    assert status == 0, cap.err
    (warning,) = [ln for ln in cap.err.splitlines() if "warning" in ln]
    assert "clipped to 11:00:00.000-11:10:00.000" in warning


def test_cli_bad_until_and_both_close_and_end(tmp_path, capsys):
    assert main(["run", "default", "--until", "17:00", "--out", str(tmp_path / "a")]) == EXIT_INPUT
    assert "--until 17:00" in capsys.readouterr().err
    assert main(["run", "default", "--set", "market.end=10:30",
                 "--out", str(tmp_path / "b")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "market.close" in err and "market.end" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
