"""MarketModel as a whole: conservation, the event log, determinism, seeds, stepping, killed runs
and Mesa data collection."""

from __future__ import annotations

import copy
import json
from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abmm.engine.types import EventKind, OrderStatus, OrderType
from abmm.market import eventlog
from abmm.market import kernel as K
from abmm.market.model import MarketModel
from abmm.market.rng import stream
from abmm.rundir import open_run
from abmm.scenario import build_model
from abmm.schema.timing import MINUTE, MS, SECOND, parse_duration

OPEN = parse_duration("09:30")
BUY = 0

#: A small market with every kind, random latencies of every shape and every shock.
BASE = {
    "name": "mixed", "seed": 11,
    "market": {"open": "09:30", "close": "09:45", "warmup": "1min", "step": "1s"},
    "fundamental": {"half_life": "30min", "sigma_1h": 0.3,
                    "jumps": {"rate_per_hour": 2, "std": 0.1}},
    "agents": [
        {"kind": "noise", "count": 12, "wake": {"kind": "poisson", "interval": "5s"},
         "latency": {"kind": "lognormal", "median": "2ms", "sigma": 0.5, "low": "200us"},
         "p_market": 0.15, "offset_ticks": 8, "cross_ticks": 1, "order_ttl": "1min"},
        {"kind": "value", "count": 4, "wake": {"kind": "poisson", "interval": "10s"},
         "latency": {"kind": "exponential", "mean": "1ms", "low": "100us"}, "aggression": 0.5},
        {"kind": "informed", "count": 1, "wake": {"kind": "poisson", "interval": "10s"},
         "horizon": "2min", "threshold_ticks": 2},
        {"kind": "momentum", "name": "chartists", "count": 2,
         "wake": {"kind": "fixed", "interval": "5s"}, "short_window": 3, "long_window": 8,
         "latency": {"kind": "uniform", "low": "1ms", "high": "3ms"}},
        {"kind": "executor", "count": 1, "side": "buy", "quantity": 300, "start": "09:35",
         "duration": "5min", "algo": "almgren_chriss", "child": "limit",
         "wake": {"kind": "fixed", "interval": "20s"}},
        {"kind": "market_maker", "name": "mm_fixed", "strategy": "fixed", "levels": 3,
         "size": 15, "latency": "500us"},
        {"kind": "market_maker", "name": "mm_as", "strategy": "avellaneda_stoikov",
         "gamma": 0.05, "k": 0.5, "levels": 2, "size": 10},
    ],
    "shocks": [
        {"kind": "news_jump", "at": "09:38", "size": 0.2},
        {"kind": "liquidity_withdrawal", "at": "09:40", "duration": "20s"},
        {"kind": "flash_crash", "at": "09:40:05", "qty": 200, "slices": 4, "over": "6s"},
        {"kind": "fat_finger", "at": "09:42", "side": "buy", "qty": 500, "price_offset": 0.01,
         "duration": "30s"},
    ],
    "logging": {"chunk_rows": 500},
}


def base(**changes) -> dict:
    d = copy.deepcopy(BASE)
    for key, value in changes.items():
        d[key] = value
    return d


def part_files(run_dir, name):
    return sorted((run_dir / name).glob("part-*.parquet"))


def read_parts(run_dir, name) -> dict:
    """A dataset read part by part in write order (so row order is the log's order)."""
    parts = part_files(run_dir, name)
    return pa.concat_tables([pq.read_table(p) for p in parts]).to_pydict()


def check_books(model: MarketModel) -> None:
    """Accounts sum to zero and the book's live orders are exactly the agents' open orders."""
    agents = list(model.agents)
    assert len(agents) == sum(len(g) for g in model.groups.values())
    assert sum(a.inventory for a in agents) == 0
    assert sum(a.cash for a in agents) == 0
    mine = {}
    for a in agents:
        for oid, (side, price, qty, _) in a.open_orders.items():
            assert oid not in mine
            mine[oid] = (a.unique_id, side, price, qty)
    book = model.book
    live = {int(o["order_id"]): (int(o["owner"]), int(o["side"]), int(o["price"]),
                                 int(o["qty"]) + int(o["hidden"]))
            for o in book.live_orders()}
    assert live == mine
    for oid in range(1, book.next_id):
        assert (book.status(oid) == OrderStatus.RESTING) == (oid in mine)
        assert book.remaining(oid) == (mine[oid][3] if oid in mine else 0)


# ------------------------------------------------------------------------------- conservation
def test_conservation_during_and_after_a_run(tmp_path):
    model = build_model(BASE, out=tmp_path)
    check_books(model)
    checked = 0
    while model.now < model.end:
        for _ in range(37):
            model.step()
        check_books(model)
        checked += 1
    assert checked > 20
    summary = model.finish()
    check_books(model)
    assert summary["status"] == "complete"
    assert summary["trades"] > 100 and summary["live_orders"] > 0
    total = sum(g["pnl_total"] for g in summary["groups"].values())
    assert total == pytest.approx(0.0, abs=1e-6)
    after = sum(g["pnl_after_warmup_total"] for g in summary["groups"].values())
    assert after == pytest.approx(0.0, abs=1e-6)
    assert sum(g["inventory_total"] for g in summary["groups"].values()) == 0


def test_event_log_accounts_for_every_order_and_every_fill(tmp_path):
    model = build_model(BASE, out=tmp_path)
    summary = model.run()
    ev = read_parts(tmp_path, "events")
    n = len(ev["ts"])
    assert n == summary["events_logged"] == model.log.n_events
    assert len(read_parts(tmp_path, "top")["ts"]) == summary["top_of_book_changes"]
    kinds = np.array(ev["kind"])
    assert EventKind.LEVEL not in set(kinds.tolist())
    # order_type is set on ACCEPTED rows only
    otype = np.array(ev["order_type"])
    assert (otype[kinds == EventKind.ACCEPTED] >= 0).all()
    assert (otype[kinds != EventKind.ACCEPTED] == -1).all()

    accepted = {}
    gone = defaultdict(int)  # lots of each order filled, cancelled, expired or rejected
    cash = defaultdict(int)
    inventory = defaultdict(int)
    fills = defaultdict(int)
    for i in range(n):
        kind, oid = ev["kind"][i], ev["order_id"][i]
        if kind == EventKind.ACCEPTED:
            assert oid not in accepted
            accepted[oid] = ev["qty"][i]
        elif kind == EventKind.FILL:
            qty, price, side = ev["qty"][i], ev["price"][i], ev["side"][i]
            gone[oid] += qty
            gone[ev["other_id"][i]] += qty
            signed = qty if side == BUY else -qty
            taker, maker = ev["other_owner"][i], ev["owner"][i]
            inventory[taker] += signed
            cash[taker] -= signed * price
            inventory[maker] -= signed
            cash[maker] += signed * price
            fills[taker] += 1
            fills[maker] += 1
        elif kind in (EventKind.CANCELLED, EventKind.EXPIRED, EventKind.REJECTED):
            gone[oid] += ev["qty"][i]
    assert sorted(accepted) == list(range(1, model.book.next_id))
    for oid, qty in accepted.items():
        assert qty == gone[oid] + model.book.remaining(oid), oid
    for a in model.agents:
        assert (a.cash, a.inventory, a.n_fills) == (
            cash[a.unique_id], inventory[a.unique_id], fills[a.unique_id]), a.name
    n_fill = int((kinds == EventKind.FILL).sum())
    assert summary["trades"] == n_fill
    assert summary["volume_lots"] == sum(q for q, k in zip(ev["qty"], ev["kind"], strict=True)
                                         if k == EventKind.FILL)
    assert summary["orders"] == len(accepted)
    # every kind of order the agents send shows up
    assert {int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.IOC),
            int(OrderType.POST_ONLY)} <= set(otype[kinds == EventKind.ACCEPTED].tolist())


def test_log_timestamps_never_go_backwards(tmp_path):
    build_model(BASE, out=tmp_path).run()
    for name in ("events", "top"):
        ts = np.array(read_parts(tmp_path, name)["ts"])
        assert len(part_files(tmp_path, name)) >= 1
        assert (np.diff(ts) >= 0).all(), name
        assert ts[0] >= OPEN and ts[-1] <= parse_duration("09:45")
    assert len(part_files(tmp_path, "events")) > 2  # chunk_rows 500: several parts


# -------------------------------------------------------------------------------- determinism
def _files(run_dir):
    return sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file())


def test_same_seed_gives_byte_identical_logs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    sa = build_model(BASE, seed=5, out=a).run()
    sb = build_model(BASE, seed=5, out=b).run()
    files = _files(a)
    assert files == _files(b)
    assert {f.parts[0] for f in files} >= {"events", "top", "summary.json", "agents.parquet"}
    for name in ("events", "top"):
        assert part_files(a, name) and len(part_files(a, name)) == len(part_files(b, name))
    for f in files:
        if f.name != "summary.json":
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    sa.pop("wall_seconds")
    sb.pop("wall_seconds")
    assert sa == sb
    ja = json.loads((a / "summary.json").read_text())
    jb = json.loads((b / "summary.json").read_text())
    ja.pop("wall_seconds")
    jb.pop("wall_seconds")
    assert ja == jb == json.loads(json.dumps(sa))


def test_a_different_seed_gives_a_different_log(tmp_path):
    build_model(BASE, seed=5, out=tmp_path / "a").run()
    build_model(BASE, seed=6, out=tmp_path / "b").run()
    ea, eb = open_run(tmp_path / "a").events(), open_run(tmp_path / "b").events()
    assert ea.num_rows > 0 and eb.num_rows > 0
    assert not ea.equals(eb)
    assert (tmp_path / "a/events/part-00000.parquet").read_bytes() != \
        (tmp_path / "b/events/part-00000.parquet").read_bytes()


def test_seed_argument_overrides_the_scenario_seed():
    s1 = build_model(BASE, out=None).run()
    s2 = build_model(BASE, seed=BASE["seed"], out=None).run()
    s3 = build_model(base(seed=12), seed=BASE["seed"], out=None).run()
    for s in (s1, s2, s3):
        s.pop("wall_seconds")
    assert s1 == s2 == s3 and s1["seed"] == 11


# ------------------------------------------------------------------------------ seed stability
def _first_wakes(model):
    return {p.name: t for t, _, kind, p in model.queue.entries() if kind == K.WAKE}


def test_adding_a_group_leaves_the_other_agents_streams_alone():
    small = base()
    big = base()
    big["agents"] = [{"kind": "noise", "name": "extra", "count": 7,
                      "latency": {"kind": "lognormal", "median": "1ms"}}] + big["agents"]
    m1 = build_model(small, out=None)
    m2 = build_model(big, out=None)
    by_name = {a.name: a for a in m2.agents}
    common = list(m1.agents)
    assert len(by_name) == len(common) + 7
    assert any(by_name[a.name].unique_id != a.unique_id for a in common)  # ids did shift
    w1, w2 = _first_wakes(m1), _first_wakes(m2)
    for a in common:
        b = by_name[a.name]
        assert w1.get(a.name) == w2.get(b.name), a.name
        assert a.prng.random(5).tolist() == b.prng.random(5).tolist(), a.name
        assert [a.latency.draw() for _ in range(5)] == [b.latency.draw() for _ in range(5)]
    assert np.array_equal(m1.fundamental.path, m2.fundamental.path)
    # the streams are the documented ones, (seed, "agent", group, index): the first wake is
    # the first draw, then the strategy's draws follow
    m3 = build_model(small, out=None)
    for i in (2, 3):
        fresh = stream(BASE["seed"], "agent", "noise", i)
        assert OPEN + int(fresh.exponential(5 * SECOND)) == w1[f"noise/{i}"]
        assert fresh.random(5).tolist() == m3.groups["noise"][i].prng.random(5).tolist()
    assert w1["noise/2"] != w1["noise/3"]


# ----------------------------------------------------------------------------------- stepping
def test_step_advances_by_the_scenario_step():
    model = build_model(base(), overrides=["market.step=250ms"], out=None)
    assert model.step_ns == 250 * MS and model.now == OPEN
    for k in range(1, 41):
        model.step()
        assert model.now == OPEN + k * 250 * MS
        nxt = model.queue.peek_time()
        assert nxt is None or nxt > model.now
    assert model.running


def test_run_until_stops_at_the_given_time(tmp_path):
    model = build_model(BASE, out=tmp_path)
    t = OPEN + 3 * MINUTE + 123_457
    model.run_until(t)
    assert model.now == t
    assert model.queue.peek_time() > t
    model.log.flush()
    ts = np.array(read_parts(tmp_path, "events")["ts"])
    assert len(ts) > 0 and ts.max() <= t
    model.run_until(t - SECOND)  # never backwards
    assert model.now == t
    model.run_until(model.end + MINUTE)  # capped at the close
    assert model.now == model.end and not model.running
    assert model.queue.peek_time() is None or model.queue.peek_time() > model.end


def test_run_goes_to_the_close_and_calls_progress():
    seen = []
    model = build_model(BASE, out=None)
    summary = model.run(progress=seen.append)
    assert model.now == model.end == summary["now_ns"]
    assert seen == [OPEN + k * SECOND for k in range(1, 15 * 60 + 1)]
    assert summary["status"] == "complete"


# --------------------------------------------------------------------------------- killed runs
def test_a_run_stopped_part_way_is_readable_and_marked_running(tmp_path):
    import os

    model = build_model(BASE, out=tmp_path)
    first = json.loads((tmp_path / "summary.json").read_text())
    assert first["status"] == "running" and first["pid"] == os.getpid() and first["heartbeat"] > 0
    assert open_run(tmp_path).state == "running"  # its writer (this process) is alive
    model.run_until(OPEN + 8 * MINUTE)
    written = model.log.events.written
    parts = part_files(tmp_path, "events")
    assert len(parts) >= 2 and written == sum(pq.read_metadata(p).num_rows for p in parts)
    assert all(pq.read_metadata(p).num_rows >= 500 for p in parts)  # chunk_rows each (or a few more)
    assert open_run(tmp_path).events().num_rows == written  # the complete parts, nothing buffered
    model.log.flush()  # as far as the run got, without finishing it
    table = open_run(tmp_path).events()
    assert table.num_rows == model.log.n_events > written
    assert max(table["ts"].to_pylist()) <= OPEN + 8 * MINUTE
    assert json.loads((tmp_path / "summary.json").read_text()) == first  # no heartbeat
    assert not (tmp_path / "agents.parquet").exists()


def test_an_exception_mid_run_leaves_an_incomplete_run(tmp_path):
    model = build_model(BASE, out=tmp_path)
    agent = model.groups["noise"][0]
    inner = agent.on_wake
    crash_at = OPEN + 6 * MINUTE

    def on_wake():
        if model.now >= crash_at:
            raise RuntimeError("strategy blew up")
        inner()

    agent.on_wake = on_wake
    with pytest.raises(RuntimeError, match="strategy blew up"):
        model.run()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "incomplete"
    assert "strategy blew up" in summary["error"]
    assert crash_at <= summary["now_ns"] < model.end
    table = open_run(tmp_path).events()
    assert table.num_rows == summary["events_logged"] > 0
    assert max(table["ts"].to_pylist()) <= summary["now_ns"]
    assert not model.finished


def test_an_interrupted_run_is_incomplete(tmp_path):
    model = build_model(BASE, out=tmp_path)

    class Boom:
        def fire(self, model):
            raise KeyboardInterrupt

    model.queue.push(OPEN + 2 * MINUTE, K.SHOCK, Boom())
    with pytest.raises(KeyboardInterrupt):
        model.run()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "incomplete" and summary["now_ns"] == OPEN + 2 * MINUTE
    assert open_run(tmp_path).events().num_rows == summary["events_logged"]


class _Killed(BaseException):
    """The process dying (SIGKILL) half-way through writing a part."""


def test_a_run_killed_while_writing_a_part_leaves_earlier_parts_readable(tmp_path, monkeypatch):
    real = pq.write_table
    calls = []

    def write_table(table, where, *args, **kwargs):
        if "events" in str(where):
            calls.append(where)
        if len(calls) == 3:  # the third events part: half its bytes reach the disk, then death
            sink = pa.BufferOutputStream()
            real(table, sink, *args, **kwargs)
            data = sink.getvalue().to_pybytes()
            with open(where, "wb") as f:
                f.write(data[: len(data) // 2])
            raise _Killed
        return real(table, where, *args, **kwargs)

    model = build_model(BASE, out=tmp_path)
    monkeypatch.setattr(eventlog.pq, "write_table", write_table)
    with pytest.raises(_Killed):
        model.run_until(model.end)
    monkeypatch.undo()
    # on disk: two complete events parts and the torn third one (under a temporary name)
    parts = part_files(tmp_path, "events")
    assert len(parts) == 2
    assert model.log.events.written == sum(pq.read_metadata(p).num_rows for p in parts)
    assert open_run(tmp_path).events().num_rows == model.log.events.written
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "running"


# ------------------------------------------------------------------------------ data collection
def test_datacollector_collects_each_step():
    model = build_model(BASE, out=None)
    model.collect_data = True
    rows = []
    for _ in range(120):
        model.step()
        rows.append((model.now, model.mid(), model.spread(), model.fundamental.value(model.now),
                     model.volume, model.n_trades))
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 120
    assert {"time", "mid", "spread", "fundamental", "last_price", "volume", "trades"} <= set(
        df.columns)
    assert df["time"].tolist() == [r[0] for r in rows]
    assert df["mid"].tolist() == [r[1] for r in rows]
    assert df["spread"].tolist() == [r[2] for r in rows]
    assert df["fundamental"].tolist() == [r[3] for r in rows]
    assert df["volume"].tolist() == [r[4] for r in rows]
    assert df["trades"].is_monotonic_increasing and df["trades"].iloc[-1] > 0
    agents = model.datacollector.get_agent_vars_dataframe()
    n_agents = len(list(model.agents))
    assert len(agents) == 120 * n_agents
    assert {"cash", "inventory", "pnl"} <= set(agents.columns)
    last = agents.xs(120, level="Step")
    assert last["inventory"].sum() == 0 and last["cash"].sum() == 0
    for a in model.agents:
        assert last.loc[a.unique_id, "inventory"] == a.inventory


def test_no_data_is_collected_by_default():
    model = build_model(BASE, out=None)
    for _ in range(5):
        model.step()
    assert len(model.datacollector.get_model_vars_dataframe()) == 0


def test_stop_requested_ends_the_run_cleanly_as_incomplete(tmp_path):
    """What abmm run's Ctrl-C / SIGTERM handler does: stop between steps, flush, mark incomplete."""
    d = {"name": "stop", "seed": 1, "market": {"open": "09:30", "close": "09:40"},
         "agents": [{"kind": "noise", "count": 50, "wake": {"kind": "poisson", "interval": "5s"}},
                    {"kind": "market_maker", "count": 1}]}
    model = build_model(d, out=tmp_path / "run")
    steps = []

    def progress(now):
        steps.append(now)
        if len(steps) == 30:
            model.stop_requested = "test stop"

    summary = model.run(progress)
    assert summary["status"] == "incomplete" and summary["error"] == "test stop"
    assert len(steps) == 30 and summary["now_ns"] == steps[-1] < model.end
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["status"] == "incomplete"
    assert open_run(tmp_path / "run").events().num_rows == summary["events_logged"] > 0


def test_activity_is_one_on_a_steady_market_from_the_first_minutes():
    """The short/long volatility ratio behind ``attention`` is bias-corrected: on a market
    whose mid moves the same way all along it is about 1 from the start (an EWMA started at
    0 would give sqrt(long half-life / short half-life) ~ 7.7 for the first hours)."""
    from abmm.market.activity import Activity

    activity = Activity()
    rng = np.random.default_rng(0)
    mids = 10_000 + np.cumsum(rng.choice([-1.0, 1.0], 3600))
    seen = []
    for i, m in enumerate(mids):  # a mid moving one tick a second, up or down
        activity.update(9 * 3600 * 10**9 + (i + 1) * 10**9, float(m))
        seen.append(activity.value)
    seen = np.array(seen)
    assert 0.6 < np.median(seen[60:600]) < 1.4  # minutes 1-10
    assert 0.6 < np.median(seen[1800:]) < 1.4


# ------------------------------------------------------------------------------- sessions
def test_a_sessioned_market_over_several_days_sleeps_overnight(tmp_path):
    """market.days on a sessioned market: three sessions 09:30-09:45, nothing happens between
    a close and the next open, positions and resting orders carry over, the fundamental moves
    overnight, and bars and returns never bridge a night."""
    from abmm.analysis.bars import run_bars
    from abmm.analysis.estimators import log_returns
    from abmm.schema.timing import DAY

    sc = base(market={**BASE["market"], "days": 3})
    model = build_model(sc, out=tmp_path)
    assert model.sessions == ((34_200 * 10**9, 35_100 * 10**9),
                              (DAY + 34_200 * 10**9, DAY + 35_100 * 10**9),
                              (2 * DAY + 34_200 * 10**9, 2 * DAY + 35_100 * 10**9))
    model.run_until(model.sessions[0][1])
    inv = {a.unique_id: a.inventory for a in model._by_id.values()}
    resting = model.book.stats()["live_orders"]
    assert resting > 0 and any(inv.values())
    f_close = model.fundamental.value(model.sessions[0][1])
    model.step()  # the clock jumps over the night
    assert model.now == model.sessions[1][0] + model.step_ns or model.now >= model.sessions[1][0]
    summary = model.run()
    assert summary["status"] == "complete" and model.n_sessions_closed == 2
    assert model.fundamental.value(model.sessions[1][0]) != f_close  # it moved overnight
    ts = open_run(tmp_path).events(["ts"]).column("ts").to_numpy()
    nights = [(c, o) for (_, c), (o, _) in zip(model.sessions, model.sessions[1:], strict=False)]
    assert ts.size > 0 and not any(((ts > c) & (ts < o)).any() for c, o in nights)
    assert all(((ts >= o) & (ts <= c)).any() for o, c in model.sessions)  # every day trades
    bars = run_bars(tmp_path, "1min")
    assert list(bars["session"].unique()) == [0, 1, 2]
    assert len(bars) == 3 * 15  # 15 one-minute bars a session, none overnight
    r = log_returns(bars)
    assert len(r) == 3 * 14  # no return across a night
    # the same scenario and seed: the same log, bit for bit
    other = tmp_path.parent / (tmp_path.name + "-again")
    build_model(sc, out=other).run()
    assert open_run(other).events().equals(open_run(tmp_path).events())


def test_a_resting_order_survives_the_night(tmp_path):
    """An order resting at the close is still in the book at the next open (orders are good
    till cancelled) and its owner still lists it."""
    sc = base(market={**BASE["market"], "days": 2})
    model = build_model(sc)
    model.run_until(model.sessions[0][1])
    owners = {oid: a for a in model._by_id.values() for oid in a.open_orders}
    assert owners
    model.step()
    for oid, a in owners.items():
        if oid in a.open_orders:  # not cancelled by its owner since
            assert model.book.remaining(oid) > 0


def test_a_full_disk_leaves_a_truthful_record(tmp_path, monkeypatch):
    """ENOSPC while the log is written (an injected writer failure): the run stops, the parts
    flushed before stay readable, and summary.json says incomplete with the reason -- never
    "running" -- so readers refuse the run with that reason."""
    import errno

    from abmm.rundir import IncompleteRunError

    real = pq.write_table
    calls = []

    def write_table(table, where, *args, **kwargs):
        calls.append(where)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real(table, where, *args, **kwargs)

    model = build_model(BASE, out=tmp_path)
    monkeypatch.setattr(eventlog.pq, "write_table", write_table)
    with pytest.raises(OSError, match="No space left"):
        model.run()
    monkeypatch.undo()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "incomplete" and "No space left" in summary["error"]
    run = open_run(tmp_path)
    assert run.state == "incomplete" and run.events().num_rows > 0
    with pytest.raises(IncompleteRunError, match="No space left"):
        run.check_complete()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.integers(3, 14))
def test_a_run_stopped_at_t_reads_as_the_full_log_cut_at_t(tmp_path_factory, minutes):
    """Property (issue 13): the bars and the scorecard's inputs of a run stopped at time t are
    those of the same run's complete log cut at t -- nothing padded, nothing lost."""
    from abmm.analysis.bars import run_bars

    base_dir = tmp_path_factory.mktemp("cut")
    full, cut = base_dir / "full", base_dir / "cut"
    build_model(BASE, out=full).run()
    model = build_model(BASE, out=cut)
    t = OPEN + minutes * MINUTE

    def progress(now):
        if now >= t:
            model.stop_requested = "stopped by signal SIGTERM"

    assert model.run(progress)["status"] == "incomplete"
    assert open_run(cut).now_ns == t
    a = run_bars(full, "1min")
    b = run_bars(open_run(cut, allow_incomplete=True), "1min")
    a = a[a["timestamp"] < b["timestamp"].iloc[-1] + pd.Timedelta(minutes=1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    ev_full = open_run(full).events().to_pandas()
    ev_cut = open_run(cut).events().to_pandas()
    pd.testing.assert_frame_equal(ev_full[ev_full["ts"] <= t].reset_index(drop=True), ev_cut)


def test_run_until_a_float_time_keeps_the_clock_integer():
    """``run_until(t + 60e9)`` (a float) runs exactly what ``run_until(int(...))`` runs, and the
    clock stays integer nanoseconds."""
    def model():
        return build_model("default", seed=2, overrides=["market.days=1"])

    a, b = model(), model()
    a.run_until(a.start + 60e9)
    b.run_until(b.start + 60 * SECOND)
    assert type(a.now) is int and a.now == b.now
    assert a.n_kernel_events == b.n_kernel_events > 0
    assert a.venue.top == b.venue.top
