"""Scenario files: every shipped file validates and runs (shortened), malformed files give a clear
``ScenarioError`` naming the key path, and ``abmm run`` handles good and bad input.

The shipped files are shortened to a few minutes with ``--set``-style overrides computed from the
file itself (session, warm-up, shock and executor times, large populations), so a file added to
``scenarios/`` is tested without touching this module.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from abmm.agents import KINDS
from abmm.cli import main
from abmm.errors import AbmmError
from abmm.market.shocks import FatFinger, FlashCrash, LiquidityWithdrawal, NewsJump
from abmm.rundir.layout import (
    EVENT_COLUMNS,
    EVENT_LOG_DTYPE,
    FUNDAMENTAL_COLUMNS,
    TOP_COLUMNS,
    TOP_DTYPE,
)
from abmm.scenario import (
    FundamentalCfg,
    Jumps,
    Logging,
    Market,
    Regimes,
    Scenario,
    ScenarioError,
    build_model,
    load_scenario,
    yaml_load,
)
from abmm.schema import LatencyCfg, WakeCfg
from abmm.schema.timing import MINUTE, SECOND

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))
RUN_FILES = {"scenario.yaml", "events", "top", "agents.parquet", "fundamental.parquet",
             "summary.json"}

SHORT_MINUTES = 5
MAX_AGENTS = 1_500  # larger populations are scaled down for the short CI run


def short_overrides(sc: Scenario, minutes: int = SHORT_MINUTES) -> list[str]:
    """Overrides that shrink a scenario to ``minutes`` of one session, keeping every group and
    every shock: shocks and executors are moved into the window, big populations scaled down."""
    open_ = sc.market.open
    close = open_ + minutes * MINUTE
    ov = ["market.days=1", f"market.close={close}", "market.warmup=0"]
    for i, shock in enumerate(sc.shocks):
        at = min(open_ + MINUTE + i * 20 * SECOND, close - SECOND)
        ov.append(f"shocks.{i}.at={at}")
        if isinstance(shock, FlashCrash):
            ov.append(f"shocks.{i}.over={min(shock.over, 30 * SECOND)}")
    total = sum(g.count for g in sc.agents)
    scale = min(1.0, MAX_AGENTS / max(total, 1))
    for i, g in enumerate(sc.agents):
        if scale < 1.0:
            ov.append(f"agents.{i}.count={math.ceil(g.count * scale)}")
        if g.kind == "executor":
            ov += [f"agents.{i}.start={open_ + MINUTE}", f"agents.{i}.duration=2min",
                   f"agents.{i}.quantity={min(g.quantity, 2_000)}"]
    return ov


# ---------------------------------------------------------------------- (a) shipped files
def test_shipped_scenarios_exist():
    names = {p.stem for p in SCENARIOS}
    assert {"default", "rmsc04_like", "flash_crash", "execution", "large"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_file_validates(path):
    sc = load_scenario(path)
    assert sc.agents and sc.market.end_ns > sc.market.start_ns
    # the resolved form (what a run directory records) validates again, to the same scenario
    again = load_scenario(yaml.safe_load(yaml.safe_dump(sc.resolved(), sort_keys=False)))
    assert again == sc


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_file_runs_short(path, tmp_path):
    full = load_scenario(path)
    sc = load_scenario(path, overrides=short_overrides(full))
    assert sc.market.end_ns - sc.market.start_ns == SHORT_MINUTES * MINUTE
    assert len(sc.shocks) == len(full.shocks)
    t0 = time.perf_counter()
    model = build_model(sc, out=tmp_path / "run")
    summary = model.run()
    wall = time.perf_counter() - t0
    assert summary["status"] == "complete"
    assert summary["orders"] > 0 and summary["trades"] > 0
    assert summary["now_ns"] == sc.market.end_ns
    assert {p.name for p in (tmp_path / "run").iterdir()} >= RUN_FILES - {"scenario.yaml"}
    if sc.shocks and any(isinstance(s, (FlashCrash, FatFinger)) for s in sc.shocks):
        assert summary["groups"]["shocks"]["orders"] > 0
    for i, g in enumerate(sc.agents):
        if g.kind == "executor":
            # it traded (a market child order can expire in the thin book of a short run's
            # first minutes, so the parent need not complete here)
            done = [a.summary()["completion"] for a in model.groups[g.group_name]]
            assert all(0 < c <= 1 for c in done), (i, g.group_name, done)
    log.info("%s: a %d-minute run took %.1f s", path.name, SHORT_MINUTES, wall)


def test_short_overrides_handle_multi_day_files():
    """A 24/7 multi-day file is cut to one short session (days > 1 needs open 00:00/close 24:00,
    so ``days`` must be reset together with ``close``)."""
    data = {"market": {"open": "00:00", "close": "24:00", "days": 3},
            "agents": [{"kind": "noise", "count": 20}, {"kind": "market_maker"}],
            "shocks": [{"kind": "news_jump", "at": "30:00", "size": 1.0}]}
    full = load_scenario(data)
    assert full.market.end_ns == 3 * 24 * 60 * MINUTE
    sc = load_scenario(data, overrides=short_overrides(full))
    assert sc.market.days == 1 and sc.market.end_ns == SHORT_MINUTES * MINUTE


def test_scenarios_readme_lists_every_file():
    text = (SCENARIO_DIR / "README.md").read_text()
    for path in SCENARIOS:
        assert path.name in text, f"scenarios/README.md does not list {path.name}"


def _schema_keys():
    classes = [Scenario, Market, FundamentalCfg, Jumps, Regimes, Logging, LatencyCfg, WakeCfg,
               FlashCrash, LiquidityWithdrawal, NewsJump, FatFinger]
    classes += [group for group, _ in KINDS.values()]
    return sorted({(cls.__name__, key) for cls in classes for key in cls.model_fields})


@pytest.mark.parametrize("owner,key", _schema_keys())
def test_scenarios_readme_documents_every_key(owner, key):
    text = (SCENARIO_DIR / "README.md").read_text()
    assert f"`{key}`" in text, f"scenarios/README.md does not document {owner}.{key}"


def test_scenarios_readme_documents_every_kind():
    text = (SCENARIO_DIR / "README.md").read_text()
    for kind in [*KINDS, "flash_crash", "liquidity_withdrawal", "news_jump", "fat_finger"]:
        assert f"`{kind}`" in text


def test_event_log_doc_names_every_column():
    text = (ROOT / "docs" / "event_log.md").read_text()
    for name in [*EVENT_LOG_DTYPE.names, *TOP_DTYPE.names]:
        assert f"`{name}`" in text, f"docs/event_log.md does not describe column {name}"


# ---------------------------------------------------------------------- (b) malformed files
GOOD = """\
name: tiny
market: {open: "09:30", close: "09:35"}
agents:
  - {kind: noise, count: 40, wake: {kind: poisson, interval: 10s}}
  - {kind: market_maker, levels: 2}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems_of(source, overrides=None) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(source, overrides=overrides)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, AbmmError)
    assert err.problems, "a ScenarioError must list its problems"
    for path, msg in err.problems:  # every problem is in the message, with its key path
        assert msg in str(err)
        assert (path or "(top level)") in str(err)
    return err.problems


def paths(problems) -> list[str]:
    return [p for p, _ in problems]


def test_good_file_loads(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.name == "tiny" and [g.group_name for g in sc.agents] == ["noise", "market_maker"]


def test_wrong_types(tmp_path):
    probs = problems_of(write(tmp_path, GOOD.replace("name: tiny", "seed: abc").replace(
        "count: 40", "count: many")))
    assert paths(probs) == ["seed", "agents.0.count"]
    assert "valid integer" in probs[0][1] and "'abc'" in probs[0][1]
    probs = problems_of(write(tmp_path, GOOD + "logging: {top_of_book: maybe}\n"))
    assert paths(probs) == ["logging.top_of_book"]
    probs = problems_of(write(tmp_path, GOOD.replace("market: {", "market: {tick_size: [1], ")))
    assert paths(probs) == ["market.tick_size"]


def test_unknown_top_level_key(tmp_path):
    probs = problems_of(write(tmp_path, GOOD + "colour: red\n"))
    assert probs == [("colour", "Extra inputs are not permitted")]


def test_unknown_key_inside_agent_group(tmp_path):
    probs = problems_of(write(tmp_path, GOOD.replace("count: 40,", "count: 40, bogus: 1,")))
    assert paths(probs) == ["agents.0.bogus"]
    assert "Extra inputs" in probs[0][1]
    probs = problems_of(write(tmp_path, GOOD.replace("interval: 10s", "interval: 10s, jitter: 1")))
    assert paths(probs) == ["agents.0.wake.jitter"]
    probs = problems_of(write(tmp_path, GOOD.replace('close: "09:35"', 'close: "09:35", tz: UTC')))
    assert paths(probs) == ["market.tz"]


def test_negative_count(tmp_path):
    probs = problems_of(write(tmp_path, GOOD.replace("count: 40", "count: -3")))
    assert paths(probs) == ["agents.0.count"]
    assert ">= 0" in probs[0][1] or "greater than or equal to 0" in probs[0][1]


def test_unknown_agent_kind(tmp_path):
    probs = problems_of(write(tmp_path, GOOD.replace("kind: market_maker", "kind: whale")))
    assert paths(probs) == ["agents.1"]
    assert "'whale'" in probs[0][1]
    for kind in KINDS:
        assert kind in probs[0][1]
    probs = problems_of(write(tmp_path, GOOD.replace("kind: market_maker, ", "")))
    assert paths(probs) == ["agents.1"] and "kind" in probs[0][1]


@pytest.mark.parametrize("where,bad", [
    ("market.close", "4pm"),
    ("market.step", "1.5"),  # a float without a unit
    ("market.warmup", "-5"),
    ("agents.0.wake.interval", "5 parsecs"),
    ("agents.0.order_ttl", "10 minutes"),
    ("agents.0.latency.value", "fast"),
    ("market.open", "25:61"),
])
def test_bad_durations(tmp_path, where, bad):
    data = yaml.safe_load(GOOD)
    node = data
    keys = where.replace(".noise", "").split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    node[keys[-1]] = yaml_load(bad)  # abmm's loader: "25:61" stays a string
    probs = problems_of(write(tmp_path, yaml.safe_dump(data)))
    assert paths(probs) == [where]
    assert "duration" in probs[0][1] or "clock time" in probs[0][1]


def test_clock_times_are_not_base_60(tmp_path):
    """Unquoted ``close: 10:30`` is the clock time, not YAML 1.1's sexagesimal 630."""
    sc = load_scenario(write(tmp_path, GOOD.replace('close: "09:35"', "close: 10:30")))
    assert sc.market.close == (10 * 60 + 30) * MINUTE


def test_close_before_open(tmp_path):
    probs = problems_of(write(tmp_path, GOOD.replace('close: "09:35"', 'close: "09:00"')))
    assert paths(probs) == ["market"]
    assert "close (09:00:00.000) must be after open (09:30:00.000)" in probs[0][1]


def test_multi_day_sessioned_market(tmp_path):
    """days > 1 on a sessioned market (issue 12: default is scored over several days): one
    session a day; a close past 24:00 would overlap the next day and is refused."""
    sc = load_scenario(write(tmp_path, GOOD.replace("market: {", "market: {days: 2, ")))
    (o1, c1), (o2, c2) = sc.market.sessions
    assert o2 - o1 == c2 - c1 == 24 * 3600 * 10**9 and sc.market.end_ns == c2
    text = GOOD.replace("market: {", "market: {days: 2, ").replace('"09:35"', '"25:00"')
    probs = problems_of(write(tmp_path, text))
    assert paths(probs) == ["market"] and "by 24:00" in probs[0][1]


def test_duplicate_group_names(tmp_path):
    text = GOOD + "  - {kind: noise, count: 5}\n"
    probs = problems_of(write(tmp_path, text))
    # a cross-field check of the whole scenario, reported at the repeated group's name
    assert len(probs) == 1 and probs[0][0] == "agents.2.name"
    assert "already used" in probs[0][1] and "'noise'" in probs[0][1]
    text = GOOD + "  - {kind: value, name: market_maker}\n"
    assert "'market_maker'" in problems_of(write(tmp_path, text))[0][1]
    load_scenario(write(tmp_path, GOOD + "  - {kind: noise, name: noise2}\n"))  # distinct: fine


def test_shock_outside_the_session(tmp_path):
    text = GOOD + "shocks:\n  - {kind: flash_crash, at: '10:00', qty: 100}\n"
    probs = problems_of(write(tmp_path, text))
    assert len(probs) == 1
    path, msg = probs[0]
    assert path == "shocks.0.at" and "outside the session" in msg and "10:00:00.000" in msg
    text = GOOD + "shocks:\n  - {kind: news_jump, at: '09:31', size: 1}\n" \
                  "  - {kind: fat_finger, at: '09:00'}\n" \
                  "  - {kind: flash_crash, at: '11:00'}\n"
    assert paths(problems_of(write(tmp_path, text))) == ["shocks.1.at", "shocks.2.at"]


def test_bad_shocks(tmp_path):
    text = GOOD + "shocks:\n  - {kind: meteor, at: '09:31'}\n  - {kind: flash_crash}\n" \
                  "  - {kind: news_jump, at: '09:31'}\n"
    probs = problems_of(write(tmp_path, text))
    assert paths(probs) == ["shocks.0", "shocks.1.at", "shocks.2.size"]
    text = GOOD + "shocks:\n  - {kind: liquidity_withdrawal, at: '09:31', duration: 1min, " \
                  "groups: [mm]}\n"
    probs = problems_of(write(tmp_path, text))
    assert probs[0][0] == "shocks.0.groups" and "no agent group named 'mm'" in probs[0][1]


def test_yaml_syntax_error(tmp_path):
    probs = problems_of(write(tmp_path, "name: x\nagents: [\n  {kind: noise\n"))
    assert len(probs) == 1 and probs[0][0] == ""
    assert "not valid YAML" in probs[0][1] and "line" in probs[0][1]


@pytest.mark.parametrize("text,got", [("- kind: noise\n", "list"), ("just a string\n", "str"),
                                      ("", "NoneType"), ("42\n", "int")])
def test_non_mapping_document(tmp_path, text, got):
    probs = problems_of(write(tmp_path, text))
    assert probs == [("", f"expected a mapping at the top level, got {got}")]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.source == str(path)
    assert info.value.problems[0][0] == "" and "cannot read the file" in info.value.problems[0][1]
    assert str(path) in str(info.value)


def test_json_files(tmp_path):
    data = yaml.safe_load(GOOD)
    assert load_scenario(write(tmp_path, json.dumps(data), "s.json")).name == "tiny"
    probs = problems_of(write(tmp_path, "{\"name\": ", "bad.json"))
    assert "not valid YAML/JSON" in probs[0][1]


def test_several_problems_are_all_listed(tmp_path):
    text = """\
seed: -1
colour: red
market: {tick_size: 0, close: "4pm"}
fundamental: {sigma_1h: -1, regimes: {multipliers: [1, 2], mean_durations: [1h]}}
agents:
  - {kind: noise, count: -1, p_market: 2}
  - {kind: value, max_qty: 0, smoothing: 2}
  - {kind: whale}
  - {kind: momentum, short_window: 30}
logging: {chunk_rows: 0}
"""
    probs = problems_of(write(tmp_path, text))
    assert set(paths(probs)) == {
        "seed", "colour", "market.tick_size", "market.close", "fundamental.sigma_1h",
        "fundamental.regimes", "agents.0.count", "agents.0.p_market",
        "agents.1.smoothing", "agents.1.max_qty", "agents.2", "agents.3",
        "logging.chunk_rows"}
    assert str(len(probs)) + " problems" in str(ScenarioError("x", probs))


def test_group_level_checks(tmp_path):
    for bad, where, words in [
        ("{kind: noise, min_qty: 5, max_qty: 2}", "agents.2", "max_qty"),
        ("{kind: momentum, rsi_low: 80}", "agents.2", "rsi_low"),
        ("{kind: noise, name: 'bad name'}", "agents.2.name", "pattern"),
        ("{kind: noise, name: n2, wake: {kind: fixed, interval: 0}}", "agents.2.wake",
         "interval > 0"),
        ("{kind: noise, name: n2, latency: {kind: uniform, low: 5ms, high: 1ms}}",
         "agents.2.latency", "high >= low"),
        ("{kind: market_maker, name: m2, half_spread_ticks: 0.1}",
         "agents.2.half_spread_ticks", "0.5"),
        ("{kind: executor, algo: vwop}", "agents.2.algo", "twap"),
    ]:
        probs = problems_of(write(tmp_path, GOOD + f"  - {bad}\n"))
        assert paths(probs) == [where], bad
        assert words in probs[0][1], (bad, probs)


# ---------------------------------------------------------------------- overrides
def test_overrides_by_index_and_by_group_name(tmp_path):
    path = write(tmp_path, GOOD)
    sc = load_scenario(path, overrides=["agents.noise.count=7", "agents.1.size=3",
                                        "market.close=09:40", "fundamental.jumps.rate_per_hour=2",
                                        "agents.noise.wake={kind: once}", "seed=9"])
    assert sc.agents[0].count == 7 and sc.agents[1].size == 3 and sc.seed == 9
    assert sc.market.close == (9 * 60 + 40) * MINUTE
    assert sc.fundamental.jumps.rate_per_hour == 2.0
    assert sc.agents[0].wake.kind == "once"
    text = GOOD + "shocks:\n  - {kind: flash_crash, at: '09:32', qty: 100}\n"
    sc = load_scenario(write(tmp_path, text), overrides=["shocks=[]"])
    assert sc.shocks == []
    sc = load_scenario(write(tmp_path, text), overrides=["shocks.0.qty=300"])
    assert sc.shocks[0].qty == 300


def test_bad_overrides(tmp_path):
    path = write(tmp_path, GOOD)
    probs = problems_of(path, ["agents.whale.count=3", "nonsense", "agents.9.count=1"])
    assert probs == [("agents.whale.count", "agents.whale: no such list item"),
                     ("nonsense", "an override must look like key.path=value"),
                     ("agents.9.count", "agents.9: no such list item")]
    assert paths(problems_of(path, ["agents.noise.count=-2"])) == ["agents.0.count"]
    assert paths(problems_of(path, ["market.colour=red"])) == ["market.colour"]
    assert "flow sequence" in problems_of(path, ["market.close=[oops"])[0][1]


# ---------------------------------------------------------------------- (c) the CLI
def test_cli_bad_file_exits_2_and_creates_nothing(tmp_path, capsys):
    bad = write(tmp_path, GOOD.replace("count: 40", "count: -1"))
    out = tmp_path / "run"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "invalid scenario" in err and "agents.0.count" in err
    assert main(["run", str(tmp_path / "missing.yaml"), "--out", str(out)]) == 2
    assert not out.exists()
    assert "cannot read the file" in capsys.readouterr().err


def test_cli_good_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, GOOD)), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == RUN_FILES
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["error"] is None
    assert summary["scenario"] == "tiny" and summary["orders"] > 0 and summary["trades"] > 0
    assert list((out / "events").glob("part-*.parquet"))
    events = pq.read_table(out / "events")
    assert events.column_names == list(EVENT_COLUMNS)
    assert events.num_rows == summary["events_logged"]
    assert pq.read_table(out / "top").column_names == list(TOP_COLUMNS)
    agents = pq.read_table(out / "agents.parquet").to_pylist()
    assert len(agents) == 40 + 1 + 1  # noise, market maker, the shock pseudo-agent
    assert sum(a["orders"] for a in agents) >= summary["orders"]
    fundamental = pq.read_table(out / "fundamental.parquet")
    assert fundamental.column_names == list(FUNDAMENTAL_COLUMNS)
    # the recorded scenario is the resolved one and validates as it is
    assert load_scenario(out / "scenario.yaml") == load_scenario(write(tmp_path, GOOD))
    assert "run directory" in capsys.readouterr().out
    # an existing, non-empty run directory needs --force
    assert main(["run", str(write(tmp_path, GOOD)), "--out", str(out)]) == 2
    assert main(["run", str(write(tmp_path, GOOD)), "--out", str(out), "--force"]) == 0


def test_cli_set_overrides_apply(tmp_path):
    out = tmp_path / "run"
    rc = main(["run", str(write(tmp_path, GOOD)), "--out", str(out), "--seed", "5",
               "--set", "agents.noise.count=7", "--set", "name=tinier",
               "--set", "market.close=09:33"])
    assert rc == 0
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["agents"][0]["count"] == 7 and resolved["name"] == "tinier"
    assert resolved["seed"] == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["groups"]["noise"]["agents"] == 7 and summary["seed"] == 5
    assert summary["end_ns"] == (9 * 60 + 33) * MINUTE


@pytest.mark.parametrize("bad", ["agents.whale.count=3", "nonsense", "agents.noise.count=-1",
                                 "market.close=09:00", "agents.noise.bogus=1"])
def test_cli_bad_set_exits_2(tmp_path, capsys, bad):
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, GOOD)), "--out", str(out), "--set", bad]) == 2
    assert not out.exists()
    assert "invalid scenario" in capsys.readouterr().err
