"""The ``abmm`` command line.

* ``abmm run SCENARIO [--out DIR] [--seed N] [--set key.path=value ...] [--until HH:MM[:SS]]``:
  simulate a market (SCENARIO: a file, or a shipped scenario's name such as ``default``);
  ``--until`` stops the run at that clock time of the first day.
* ``abmm scenarios [--json]``: the shipped scenarios with their one-line descriptions.
* ``abmm facts [RUN_DIR] [--real FILE] [--real-feed FEED] [--json]``: the stylized-facts scorecard of a run (or of
  a real OHLCV file alone).
* ``abmm report RUN_DIR [--real FILE] [--out FILE]``: a self-contained HTML report.
* ``abmm bars RUN_DIR --freq 1min --out FILE.csv``: OHLCV bars of a run's mid price.
* ``abmm train CONFIG --out DIR [--resume] [--workers N]``: train learning agents
  (``scenarios/train/``), rollouts on N workers.
* ``abmm evaluate --scenario S --policy P [--policy P ...] --seeds 1000-1099 [--json]``:
  policies (checkpoints or baselines) on the same held-out seeds.
* ``abmm tune-baseline --scenario S --kind as|glft --seeds 1-20 --out FILE.yaml [--like POLICY]
  [--workers N]``: grid-search a closed-form market maker (gamma x volatility window) on
  training seeds, maximizing Sharpe; ``abmm evaluate --policy FILE.yaml`` plays the spec.
* ``abmm pareto --scenario S --policy P --seeds 1000-1019 --out DIR``: a weight-conditioned
  market maker's Pareto front (PnL against mean |inventory|) across its reward weights, beside
  AS's and GLFT's curves over gamma (``abmm.learn.pareto``).
* ``abmm export CHECKPOINT OUT.npz [--learner NAME]``: a torch checkpoint to the torch-free
  policy file (``abmm.policy``) that ``kind: policy`` agents load; ``abmm export sb3:MODEL.zip
  OUT.npz`` and ``torchscript:FILE`` convert outside policies (``abmm.learn.importers``).
* ``abmm sweep SWEEP.yaml --out DIR [--workers N] [--address ADDR]``: a grid or random sample
  of scenario overrides x seeds, on Ray or a local process pool, into ``DIR/results.parquet``
  (``abmm.cli.sweep``; docs/sweeps.md).
* ``abmm demo``: replay an order-message stream through the matching engine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="msg", unit_scale=True, file=sys.stderr,
                disable=None)  # None: shown on a terminal only


def cmd_demo(a: argparse.Namespace) -> int:
    """``abmm demo``: replay a random or shared/bench order stream through the matching engine
    and report throughput, event counts and the final book; returns the exit status."""
    from abmm.engine import ENGINE, EventKind, OrderBook, PyOrderBook
    from abmm.engine.streams import bench_to_messages, load_bench_stream, outcome, random_messages

    if a.stream:
        cols, expected = load_bench_stream(a.stream)
        msgs = bench_to_messages(*cols)
        source = f"{a.stream} (shared/bench format)"
    else:
        msgs = random_messages(a.messages, seed=a.seed)
        expected = None
        source = f"random stream, seed {a.seed}"
    print(f"abmm {ENGINE} engine: replaying {len(msgs):,} messages from {source}")
    book = OrderBook()
    counts = np.zeros(len(EventKind), np.int64)
    t0 = time.perf_counter()
    with _progress(len(msgs), "matching") as bar:
        for i in range(0, len(msgs), a.chunk):
            events = book.process(msgs[i:i + a.chunk])
            counts += np.bincount(events["kind"], minlength=len(EventKind))
            bar.update(min(a.chunk, len(msgs) - i))
    dt = time.perf_counter() - t0
    book._check()
    result = outcome(book)
    stats = book.stats()
    print(f"processed in {dt:.3f} s: {len(msgs) / dt:,.0f} messages/s")
    print("events: " + ", ".join(f"{k.name.lower()} {counts[k]:,}" for k in EventKind))
    print(f"orders {stats['next_id'] - 1:,}, fills {stats['fills']:,}, traded {stats['volume']:,} "
          f"lots; live orders {stats['live_orders']:,} ({stats['resting_qty']:,} lots)")
    print(f"best bid {result['best_bid']}  best ask {result['best_ask']}")
    for side, name in ((1, "asks"), (0, "bids")):
        prices, qtys, n = book.depth(side, 5)
        rows = "  ".join(f"{p}x{q}" for p, q in zip(prices.tolist(), qtys.tolist(), strict=True))
        print(f"  top-5 {name}: {rows or '(empty)'}")
    status = 0
    if expected is not None:
        ok = result == expected
        print(f"matches the stream's expected outcome: {ok}")
        status = 0 if ok else 1
    if a.check and ENGINE != "python":
        ref = PyOrderBook()
        t1 = time.perf_counter()
        ref_events = ref.process(msgs)
        dt_ref = time.perf_counter() - t1
        same = outcome(ref) == result and ref.stats() == stats
        print(f"pure-Python reference: {len(msgs) / dt_ref:,.0f} messages/s; "
              f"identical book and counters: {same} ({len(ref_events):,} events)")
        status = status or (0 if same else 1)
    if a.json:
        print(json.dumps({"engine": ENGINE, "messages": len(msgs), "seconds": dt, **result,
                          "stats": stats}))
    return status


def cmd_run(a: argparse.Namespace) -> int:
    """``abmm run``: simulate a scenario into a run directory and print its summary; returns
    0, 2 (invalid scenario or run directory), 130 (Ctrl-C) or 143 (SIGTERM): a signal during
    the build leaves no directory, one during the run stops it between two steps with the
    events so far flushed and summary.json "incomplete"."""
    import shutil
    from pathlib import Path

    from tqdm import tqdm

    from abmm.scenario import ScenarioError, build_model, load_scenario
    from abmm.schema.timing import SECOND, format_ns

    try:
        scenario = load_scenario(a.scenario, overrides=a.set, until=a.until)
    except ScenarioError as exc:
        print(f"abmm run: invalid scenario\n{exc}", file=sys.stderr)
        return 2
    for note in scenario.notes:  # agent windows clipped to a shortened session, shocks dropped
        print(f"abmm run: warning: {note}", file=sys.stderr)
    seed = scenario.seed if a.seed is None else a.seed
    out = Path(a.out) if a.out else Path("runs") / f"{scenario.name}-seed{seed}"
    if out.exists() and not out.is_dir():
        print(f"abmm run: --out {out} is a file; expected a run directory (new or empty)",
              file=sys.stderr)
        return 2
    if out.exists() and any(out.iterdir()):
        if not a.force:
            print(f"abmm run: {out} exists and is not empty (use --out DIR or --force)",
                  file=sys.stderr)
            return 2
        shutil.rmtree(out)
    import signal

    got: list[int] = []

    def _during_build(signum, frame):  # a signal while building: nothing ran, undo it all
        got.append(signum)
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _during_build)
    out.mkdir(parents=True, exist_ok=True)
    try:
        model = build_model(scenario, seed=seed, out=out, allow_large=a.allow_large)
    except KeyboardInterrupt:  # nothing ran: leave no directory behind
        shutil.rmtree(out, ignore_errors=True)
        name = signal.Signals(got[0]).name if got else "SIGINT"
        print(f"abmm run: stopped by {name} while building the market; nothing was written",
              file=sys.stderr)
        return EXIT_SIGTERM if got and got[0] == signal.SIGTERM else EXIT_SIGINT
    except Exception as exc:  # noqa: BLE001 - nothing ran: leave no run directory behind
        shutil.rmtree(out, ignore_errors=True)
        print(f"abmm run: cannot build the market: {exc}", file=sys.stderr)
        return 2

    def _stop(signum, frame):
        # Ctrl-C or a kill (SIGTERM): stop between two steps, flush the log, mark incomplete;
        # a second Ctrl-C interrupts at once
        if model.stop_requested:
            raise KeyboardInterrupt
        model.stop_requested = f"stopped by signal {signal.Signals(signum).name}"

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    n = len(model._by_id) - 1
    print(f"abmm run: {scenario.name}, seed {seed}, {n:,} agents, {format_ns(model.start)} to "
          f"{format_ns(model.end)} -> {out}")
    total = (model.end - model.start) / SECOND
    with tqdm(total=round(total), desc="simulated", unit="s", file=sys.stderr, disable=None,
              bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} sim-s [{elapsed}<{remaining}]") as bar:
        def progress(now):
            bar.update(round((now - model.start) / SECOND) - bar.n)
        try:
            summary = model.run(progress)
        except KeyboardInterrupt:
            summary = {"status": "incomplete"}
    if summary["status"] != "complete":
        why = model.stop_requested or "interrupted"
        print(f"\nabmm run: {why}; {out} holds the events so far (summary.json: incomplete)",
              file=sys.stderr)
        return EXIT_SIGTERM if "SIGTERM" in why else EXIT_SIGINT
    _print_summary(summary, model.tick_size)
    if not a.no_facts:
        _print_run_scorecard(out, model.symbols if len(model.symbols) > 1 else (None,))
    print(f"run directory: {out}")
    return 0


def _print_run_scorecard(run_dir, symbols=(None,)) -> None:
    from abmm.analysis.facts import facts_from_run
    from abmm.rundir import open_run

    for sym in symbols:
        where = "" if sym is None else f" of {sym}"
        flag = "" if sym is None else f" --symbol {sym}"
        try:
            card = facts_from_run(open_run(run_dir, symbol=sym))
        except Exception as exc:  # noqa: BLE001 - a short run may not support every estimator
            print(f"stylized facts{where}: not available for this run ({exc})")
            continue
        checked = [r for r in card.rows if r.passed is not None]
        ok = sum(bool(r.passed) for r in checked)
        print(f"stylized facts{where} (1-min mid returns): {ok}/{len(checked)} pass"
              f" -- {'PASS' if card.passed else 'FAIL'}; details: abmm facts {run_dir}{flag}")
        for r in checked:
            if not r.passed:
                print(f"  fails: {r.name} = {r.value:.4g} (expected {r.expected})")


def _check_run_dir(path: str, allow_incomplete: bool = False, symbol: str | None = None):
    """The run directory ``path`` (its view of ``symbol`` when given), or None (with a
    message) when it does not look like one, or when it holds several symbols and ``symbol``
    names none of them.

    An unfinished run (stopped, killed, still running) raises ``IncompleteRunError`` saying how
    far it got, unless ``allow_incomplete``: then a note labels the analysis, which covers
    exactly what was logged."""
    from pathlib import Path

    from abmm.rundir import SymbolError, layout, open_run

    p = Path(path)
    if not (p / layout.SCENARIO).exists() or not (p / layout.EVENTS).is_dir():
        print(f"abmm: {p} is not a run directory (no {layout.SCENARIO} / {layout.EVENTS}/)",
              file=sys.stderr)
        return None
    try:
        run = open_run(p, allow_incomplete=allow_incomplete, symbol=symbol)
        run.check_symbol()
    except SymbolError as exc:
        print(f"abmm: {exc}", file=sys.stderr)
        return None
    run.check_complete(allow_incomplete)
    if run.state != "complete":
        print(f"abmm: note: {p}: {run.describe_incomplete()}; analysing what was logged",
              file=sys.stderr)
    return run


_SYMBOL_HELP = ("the symbol to analyse in a multi-symbol run (required there; the run's "
                "symbols are listed when it is missing)")


def _real_bars(path):
    from abmm.analysis.bars import read_ohlcv

    return None if path is None else read_ohlcv(path)


def cmd_facts(a: argparse.Namespace) -> int:
    """``abmm facts``: print the stylized-facts scorecard of a run, or of a real file alone
    (``abmm facts --real FILE``), as text or JSON (every row with its stable ``key``)."""
    from abmm.analysis.bars import run_bars
    from abmm.analysis.facts import format_scorecard, scorecard

    if a.run_dir is None and a.real is None:
        print("abmm facts: give a run directory, a real OHLCV file (--real FILE), or both",
              file=sys.stderr)
        return 2
    run = None
    if a.run_dir is not None:
        run = _check_run_dir(a.run_dir, a.allow_incomplete, a.symbol)
        if run is None:
            return 2
    try:
        real = _real_bars(a.real)
    except (OSError, ValueError) as exc:
        print(f"abmm facts: cannot read --real {a.real}: {exc}", file=sys.stderr)
        return 2
    feed = None
    if a.real_feed:
        if run is None:
            print("abmm facts: --real-feed compares a run with a feed: give a run directory",
                  file=sys.stderr)
            return 2
        from abmm.analysis.feed import read_binance_feed

        try:
            feed = read_binance_feed(a.real_feed)
        except (OSError, ValueError) as exc:
            print(f"abmm facts: cannot read --real-feed {a.real_feed}: {exc}", file=sys.stderr)
            return 2
    if run is None:  # the real file's own scorecard
        card = scorecard(real, price="trade")
    else:
        try:
            bars = run_bars(run, a.freq, after_warmup=True, price=a.price)
        except ValueError as exc:
            print(f"abmm facts: {exc}", file=sys.stderr)
            return 2
        card = scorecard(bars, real=real, run_dir=run, price=a.price)
    ticks = None
    if feed is not None:
        from abmm.analysis.feed import tick_comparison

        ticks = tick_comparison(run, feed)
    if a.json:
        out = card.to_dict()
        if ticks is not None:
            from abmm.analysis.feed import tick_comparison_records

            out["tick_comparison"] = tick_comparison_records(ticks)
        print(json.dumps(out))
    else:
        print(format_scorecard(card))
        if ticks is not None:
            from abmm.analysis.feed import format_tick_comparison

            print()
            print(format_tick_comparison(ticks))
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    """``abmm report``: write a run's self-contained HTML report."""
    from abmm.analysis.report import write_report

    run = _check_run_dir(a.run_dir, a.allow_incomplete, a.symbol)
    if run is None:
        return 2
    try:
        real = _real_bars(a.real)
    except (OSError, ValueError) as exc:
        print(f"abmm report: cannot read --real {a.real}: {exc}", file=sys.stderr)
        return 2
    try:
        path = write_report(run, out=a.out, real=real, real_feed=a.real_feed)
    except (FileNotFoundError, ValueError) as exc:
        print(f"abmm report: cannot report on {run}: {exc}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0


def cmd_bars(a: argparse.Namespace) -> int:
    """``abmm bars``: export OHLCV bars of a run's mid (or trade) price as CSV."""
    from abmm.analysis.bars import run_bars

    run = _check_run_dir(a.run_dir, a.allow_incomplete, a.symbol)
    if run is None:
        return 2
    try:
        bars = run_bars(run, a.freq, price=a.price, spread=a.spread)
    except ValueError as exc:
        print(f"abmm bars: {exc}", file=sys.stderr)
        return 2
    bars.to_csv(a.out, index=False)
    print(f"{len(bars):,} bars ({a.freq}) -> {a.out}")
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    """``abmm train``: train learning agents from a config (optionally resuming), then
    evaluate the policy if the config asks for it."""
    import logging
    from pathlib import Path

    from tqdm import tqdm

    from abmm.errors import AbmmError
    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg, base = load_config(a.config)
        if a.updates is not None:
            if a.updates < 1:
                print(f"abmm train: --updates {a.updates}: expected a number of updates >= 1",
                      file=sys.stderr)
                return 2
            cfg = cfg.model_copy(update={"updates": a.updates})
        out = Path(a.out)
        if out.exists() and not out.is_dir():
            print(f"abmm train: --out {out} is a file; expected a directory for the run",
                  file=sys.stderr)
            return 2
        if a.workers < 1:
            print(f"abmm train: --workers {a.workers}: expected an integer >= 1",
                  file=sys.stderr)
            return 2
        par = {"workers": a.workers, "backend": a.backend, "address": a.address}
        if a.resume:
            trainer = Trainer.resume(cfg, base, out, **par)
        else:
            if (out / "checkpoint.pt").exists() and not a.force:
                print(f"abmm train: {out} already holds a training run; use --resume to "
                      "continue it or --force to start over", file=sys.stderr)
                return 2
            trainer = Trainer(cfg, base, out, **par)
    except (AbmmError, ValueError, OSError) as exc:
        print(f"abmm train: {exc}", file=sys.stderr)
        return 2
    where = "" if trainer.rollout_backend == "serial" else (
        f", rollouts on {trainer.workers} {trainer.rollout_backend} worker(s)")
    print(f"abmm train: {cfg.name}: {cfg.algo} on {cfg.env} ({len(trainer.learners)} "
          f"learner(s), {len(trainer.assign)} agent(s)), updates {trainer.update}"
          f" -> {cfg.updates}, out {out}{where}", file=sys.stderr)
    with tqdm(total=cfg.updates, initial=trainer.update, desc="updates", file=sys.stderr,
              disable=None) as bar:
        def progress(row):
            bar.update(1)
            keys = [k for k in row if k.endswith("/return")]
            bar.set_postfix({k.split("/")[0]: f"{row[k]:.3g}" for k in keys[:3]})
        import signal

        def _stop(signum, frame):  # Ctrl-C, SIGTERM, SIGHUP: stop after the current update
            if trainer.stop_requested:  # a second one: stop now (checkpoint of the last update)
                raise KeyboardInterrupt
            trainer.stop_requested = signal.Signals(signum).name

        trainer.stop_requested = None
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _stop)
        try:
            trainer.run(progress)
        except AbmmError as exc:  # a rollout worker died, a Ray cluster went away
            print(f"\nabmm train: {exc}; the last saved checkpoint in {trainer.out} is kept; "
                  "continue with --resume", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nabmm train: stopped at once (a second signal) in the middle of an update; "
                  f"the last saved checkpoint in {trainer.out} is kept; continue with --resume",
                  file=sys.stderr)
            return EXIT_SIGINT
        if trainer.stop_requested:
            path = trainer.out / "checkpoint.pt"
            print(f"\nabmm train: stopped by {trainer.stop_requested}: checkpoint at update "
                  f"{trainer.update} in {path}; continue with --resume", file=sys.stderr)
            return EXIT_SIGTERM if trainer.stop_requested == "SIGTERM" else EXIT_SIGINT
    last = trainer.history[-1]
    print(f"trained {trainer.update} updates, {trainer.episodes} episodes, "
          f"{trainer.env_steps:,} env steps in {trainer.wall:.0f} s")
    for k in trainer.learners:
        print(f"  {k}: return {last[f'{k}/return']:.4g}, PnL {last[f'{k}/pnl']:.4g}, "
              f"mean |inventory| {last[f'{k}/map']:.3g}")
    print(f"policy: {out / 'policy.pt'} (torch-free: {out / 'policy.npz'}); curves: "
          f"{out / 'curves.csv'}, {out / 'curves.png'}")
    if cfg.eval is not None and trainer.eval_scenario() is not None:
        from abmm.learn.config import parse_seeds
        from abmm.learn.evaluate import evaluate, format_table

        scen = trainer.eval_scenario()
        res = evaluate(scen, [str(out / "policy.pt"), *cfg.eval.baselines],
                       parse_seeds(cfg.eval.seeds))
        (out / "eval.json").write_text(json.dumps(res, indent=1))
        print(format_table(res))
    return 0


def cmd_tune_baseline(a: argparse.Namespace) -> int:
    """``abmm tune-baseline``: the best AS or GLFT maker of a market, as a baseline spec."""
    from pathlib import Path

    from tqdm import tqdm

    from abmm.errors import AbmmError
    from abmm.learn.config import parse_seeds
    from abmm.learn.tune import GAMMAS, WINDOWS, tune_baseline, write_spec
    from abmm.resources import scenario_path

    try:
        seeds = parse_seeds(a.seeds)
    except ValueError as exc:
        print(f"abmm tune-baseline: --seeds: {exc}", file=sys.stderr)
        return 2
    try:
        gammas = [float(x) for x in a.gammas.split(",")] if a.gammas else list(GAMMAS)
        windows = [float(x) for x in a.windows.split(",")] if a.windows else list(WINDOWS)
    except ValueError as exc:
        print(f"abmm tune-baseline: {exc}", file=sys.stderr)
        return 2
    scenario = scenario_path(a.scenario)
    if not Path(scenario).is_file():
        print(f"abmm tune-baseline: --scenario {a.scenario}: no such file or shipped scenario "
              "(abmm scenarios lists them)", file=sys.stderr)
        return 2
    out = Path(a.out)
    if out.suffix not in (".yaml", ".yml"):
        print(f"abmm tune-baseline: --out {a.out}: expected a .yaml file name", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"abmm tune-baseline: --out {a.out}: no such directory {out.parent}",
              file=sys.stderr)
        return 2
    env_args = {}
    try:
        if a.like:
            from abmm.learn.evaluate import _resolved

            env_args = _resolved(a.like, str(scenario), {})[0]
        with tqdm(total=len(gammas) * len(windows), desc=f"{a.kind} grid", file=sys.stderr,
                  disable=None) as bar:
            spec = tune_baseline(str(scenario), a.kind, seeds, gammas=gammas, windows=windows,
                                 env_args=env_args, workers=max(1, a.workers),
                                 progress=lambda r: bar.update(1))
        write_spec(spec, out)
    except (AbmmError, ValueError, OSError) as exc:
        print(f"abmm tune-baseline: {exc}", file=sys.stderr)
        return 2
    t = spec["tuned"]
    print(f"{a.kind}: gamma {spec['params']['gamma']:g}, vol_halflife "
          f"{spec['env_args']['vol_halflife']:g}: Sharpe {t['sharpe']:.3f} on seeds {t['seeds']} "
          f"of {t['scenario']} ({len(t['grid'])} cells) -> {out}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    """``abmm evaluate``: evaluate policies on held-out seeds and print a table or JSON."""
    from pathlib import Path

    from tqdm import tqdm

    from abmm.errors import AbmmError
    from abmm.learn.config import parse_seeds
    from abmm.learn.evaluate import evaluate, format_table

    try:
        seeds = parse_seeds(a.seeds)
    except ValueError as exc:
        print(f"abmm evaluate: --seeds: {exc}", file=sys.stderr)
        return 2
    from abmm.resources import scenario_path

    scenario = scenario_path(a.scenario)  # a file, or a shipped scenario's name
    if not Path(scenario).is_file():
        print(f"abmm evaluate: --scenario {a.scenario}: no such file or shipped scenario "
              "(abmm scenarios lists them)", file=sys.stderr)
        return 2
    total = len(seeds) * len(a.policy)
    try:
        with tqdm(total=total, desc="episodes", file=sys.stderr, disable=None) as bar:
            res = evaluate(str(scenario), a.policy, seeds, progress=lambda p, s: bar.update(1))
    except (AbmmError, ValueError, OSError) as exc:
        print(f"abmm evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(res) if a.json else format_table(res))
    return 0


def cmd_pareto(a: argparse.Namespace) -> int:
    """``abmm pareto``: a weight-conditioned policy's front against AS and GLFT over gamma."""
    import shutil
    from pathlib import Path

    from tqdm import tqdm

    from abmm.errors import AbmmError
    from abmm.learn.config import parse_seeds
    from abmm.learn.pareto import DEFAULT_GAMMAS, pareto
    from abmm.resources import scenario_path

    try:
        seeds = parse_seeds(a.seeds)
    except ValueError as exc:
        print(f"abmm pareto: --seeds: {exc}", file=sys.stderr)
        return 2
    try:
        gammas = DEFAULT_GAMMAS if a.gammas is None else tuple(
            float(g) for g in a.gammas.split(","))
        if not gammas or any(not g > 0 for g in gammas):
            raise ValueError
    except ValueError:
        print(f"abmm pareto: --gammas {a.gammas}: expected positive numbers separated by "
              "commas, e.g. 0.01,0.03,0.1", file=sys.stderr)
        return 2
    scenario = scenario_path(a.scenario)
    if not Path(scenario).is_file():
        print(f"abmm pareto: --scenario {a.scenario}: no such file or shipped scenario "
              "(abmm scenarios lists them)", file=sys.stderr)
        return 2
    out = Path(a.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not a.force:
        print(f"abmm pareto: --out {out} exists and is not an empty directory; use --force to "
              "overwrite its pareto files", file=sys.stderr)
        return 2
    created = not out.exists()
    total = a.weights + len(gammas) * 2
    try:
        with tqdm(total=total, desc="points", file=sys.stderr, disable=None) as bar:
            res = pareto(str(scenario), a.policy, seeds, out, n_weights=a.weights,
                         gammas=gammas, progress=lambda src, i: bar.update(1))
    except (AbmmError, ValueError, OSError) as exc:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        print(f"abmm pareto: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"{'source':<8}{'params':<34}{'PnL':>10}{'95 % CI':>22}{'mean |q|':>10}{'Sharpe':>8}")
    ranged = [k for k, (lo, hi) in res["objectives"].items() if hi > lo]
    for r in res["rows"]:
        ci = f"[{r['pnl_lo']:.3g}, {r['pnl_hi']:.3g}]"
        par = json.loads(r["params"])
        text = ", ".join(f"{k} {par[k]:.3g}" for k in (ranged if r["source"] == "learned"
                                                       else par))
        print(f"{r['source']:<8}{text[:33]:<34}{r['pnl_mean']:>10.4g}{ci:>22}"
              f"{r['map_mean']:>10.3g}{r['sharpe']:>8.3f}")
    print("baseline points dominated by a learned point at 95 % (higher PnL and lower mean "
          "|inventory|): " + ", ".join(f"{k.upper()} {v} of {len(gammas)}"
                                      for k, v in res["points_dominated"].items()))
    print(f"wrote {out / 'pareto.csv'}, {out / 'pareto.json'}, {out / 'pareto.png'}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    """``abmm export``: a torch policy file or training checkpoint to a ``.npz`` policy."""
    from abmm.errors import AbmmError
    from abmm.learn.export import export_policy
    from abmm.learn.importers import export_external, is_external
    from abmm.resources import policy_path, scenario_path

    try:
        if is_external(a.checkpoint):
            scen = None if a.scenario is None else str(scenario_path(a.scenario))
            path = export_external(a.checkpoint, a.out, scenario=scen)
        else:
            path = export_policy(policy_path(a.checkpoint), a.out, a.learner)
    except (AbmmError, ValueError, OSError, KeyError) as exc:
        print(f"abmm export: {exc}", file=sys.stderr)
        return 2
    print(f"{a.checkpoint} -> {path}")
    return 0


def _print_summary(s: dict, tick_size: float) -> None:
    if "symbols" in s:  # a multi-symbol market: one line per symbol
        print(f"wall time {s['wall_seconds']:.2f} s; orders {s['orders']:,}, "
              f"cancels {s['cancels']:,}, trades {s['trades']:,}")
        for sym, v in s["symbols"].items():
            print(f"{sym}: trades {v['trades']:,} ({v['volume_lots']:,} lots); final price "
                  f"{v['final_price']:.6g} (fundamental {v['final_fundamental']:.6g}); "
                  f"bid {v['final_bid']} ask {v['final_ask']}")
    else:
        print(f"wall time {s['wall_seconds']:.2f} s; orders {s['orders']:,}, "
              f"cancels {s['cancels']:,}, trades {s['trades']:,} ({s['volume_lots']:,} lots)")
        print(f"final price {s['final_price']:.6g} (fundamental {s['final_fundamental']:.6g}); "
              f"bid {s['final_bid']} ask {s['final_ask']}")
    print(f"{'group':<18}{'kind':<14}{'agents':>8}{'orders':>13}{'fills':>13}{'inventory':>13}"
          f"{'PnL':>16}")
    for name, g in s["groups"].items():
        if g["kind"] == "shock" and not g["orders"]:
            continue
        print(f"{name:<18}{g['kind']:<14}{g['agents']:>8,} {g['orders']:>12,} {g['fills']:>12,} "
              f"{g['inventory_total']:>12,} {g['pnl_total']:>15,.2f}")


def cmd_scenarios(a: argparse.Namespace) -> int:
    """List the shipped scenarios (names usable wherever a scenario file is expected)."""
    from abmm.resources import scenario_description, shipped_scenarios

    found = shipped_scenarios()
    if a.json:
        print(json.dumps({name: {"path": str(p), "description": scenario_description(p)}
                          for name, p in found.items()}, indent=1))
        return 0
    if not found:
        print("abmm scenarios: no shipped scenarios found (is abmm installed?)", file=sys.stderr)
        return 1
    width = max(len(n) for n in found)
    for name, p in found.items():
        print(f"{name:<{width}}  {scenario_description(p)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``abmm`` argument parser with every subcommand."""
    ap = argparse.ArgumentParser(
        prog="abmm", description="abmm: agent-based market simulator",
        epilog="exit status: 0 success, 1 runtime fault, 2 bad input, 130 Ctrl-C, 143 SIGTERM")
    ap.add_argument("--debug", action="store_true",
                    help="show the traceback of a failure instead of a one-line message")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="simulate a market from a scenario file")
    r.add_argument("scenario", help="scenario file (YAML or JSON), e.g. scenarios/default.yaml, "
                                    "or a shipped scenario's name, e.g. default (abmm scenarios)")
    r.add_argument("--out", help="run directory (default runs/NAME-seedN)")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a scenario value, e.g. --set agents.noise.count=500")
    r.add_argument("--until", metavar="HH:MM[:SS]",
                   help="a quick run: stop at this clock time of the FIRST day (the market "
                        "closes then and later days are dropped; agent windows after it are "
                        "clipped or their group dropped, shocks after it dropped, each with a "
                        "warning)")
    r.add_argument("--force", action="store_true", help="replace an existing run directory")
    r.add_argument("--allow-large", action="store_true",
                   help="build a scenario even if its memory estimate exceeds what is available")
    r.add_argument("--no-facts", action="store_true", help="skip the stylized-facts summary")
    r.set_defaults(func=cmd_run)
    sc = sub.add_parser("scenarios", help="list the shipped scenarios")
    sc.add_argument("--json", action="store_true", help="name -> {path, description} as JSON")
    sc.set_defaults(func=cmd_scenarios)
    f = sub.add_parser("facts", help="print the stylized-facts scorecard of a run "
                                     "(or of a real OHLCV file alone: abmm facts --real FILE)")
    f.add_argument("run_dir", nargs="?", help="run directory (optional with --real)")
    f.add_argument("--real", help="a real OHLCV file (CSV/Parquet) to compare side by side, "
                                  "or to score alone without RUN_DIR")
    f.add_argument("--freq", default="1min", help="bar frequency of the run's returns "
                                                  "(default 1min)")
    f.add_argument("--price", choices=["mid", "trade"], default="mid",
                   help="bars of the mid price (default) or of trade prices")
    f.add_argument("--json", action="store_true")
    f.add_argument("--real-feed", metavar="FILE",
                   help="a recorded Binance websocket feed (.gz) to compare at the tick level")
    f.add_argument("--allow-incomplete", action="store_true",
                   help="analyse a run that did not finish (stopped, killed): exactly what "
                        "was logged, labelled as such")
    f.add_argument("--symbol", help=_SYMBOL_HELP)
    f.set_defaults(func=cmd_facts)
    rp = sub.add_parser("report", help="write report.html for a run")
    rp.add_argument("run_dir")
    rp.add_argument("--real", help="a real OHLCV file to compare with")
    rp.add_argument("--out", help="output file (default RUN_DIR/report.html)")
    rp.add_argument("--real-feed", metavar="FILE",
                    help="a recorded Binance websocket feed (.gz): adds the tick-level section")
    rp.add_argument("--allow-incomplete", action="store_true",
                   help="analyse a run that did not finish (stopped, killed): exactly what "
                        "was logged, labelled as such")
    rp.add_argument("--symbol", help=_SYMBOL_HELP)
    rp.set_defaults(func=cmd_report)
    b = sub.add_parser("bars", help="export OHLCV bars of a run's mid price as CSV")
    b.add_argument("run_dir")
    b.add_argument("--freq", default="1min", help="bar length, a pandas frequency (default 1min)")
    b.add_argument("--out", required=True, help="output CSV file")
    b.add_argument("--price", choices=["mid", "trade"], default="mid",
                   help="close = last mid (default) or last trade price of the bar")
    b.add_argument("--spread", action="store_true",
                   help="add a 'spread' column: the quoted spread (price units) at each bar's "
                        "close (mid bars; abmm calibrate --real reads it as the spread moments)")
    b.add_argument("--allow-incomplete", action="store_true",
                   help="analyse a run that did not finish (stopped, killed): exactly what "
                        "was logged, labelled as such")
    b.add_argument("--symbol", help=_SYMBOL_HELP)
    b.set_defaults(func=cmd_bars)
    t = sub.add_parser("train", help="train learning agents from a config (scenarios/train/)")
    t.add_argument("config")
    t.add_argument("--out", required=True, help="run directory (curves, checkpoints, policy)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.add_argument("--force", action="store_true", help="start over in an existing OUT")
    t.add_argument("--updates", type=int, help="override the config's number of updates")
    t.add_argument("--workers", type=int, default=1,
                   help="play each update's episodes on N rollout workers (PPO; Ray actors "
                        "when installed, else processes); 1 (default): in this process")
    t.add_argument("--backend", choices=["auto", "ray", "pool"], default="auto",
                   help="rollout workers: auto (Ray when installed, else a process pool), ray "
                        "or pool")
    t.add_argument("--address", help="run the rollouts on an existing Ray cluster (auto, "
                                     "HOST:PORT or ray://HOST:PORT; docs/training.md)")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="evaluate policies on held-out seeds")
    e.add_argument("--scenario", required=True)
    e.add_argument("--policy", action="append", required=True,
                   help="sb3:MODEL.zip or torchscript:FILE (outside policies), a baseline (as, "
                        "glft, fixed, random; twap, ac for executors), a shipped policy's name "
                        "(mm_coevolved) or a policy file (.npz or .pt), resolved in that "
                        "order (docs/policies.md); repeat to compare")
    e.add_argument("--seeds", default="1000-1099", help="e.g. 1000-1099 or 1,2,5-9")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)
    pa = sub.add_parser("pareto", help="a weight-conditioned market maker's Pareto front "
                                       "against AS and GLFT over gamma")
    pa.add_argument("--scenario", required=True)
    pa.add_argument("--policy", required=True,
                    help="a policy trained with env_args.objectives (.pt, .npz or checkpoint)")
    pa.add_argument("--seeds", default="1000-1019", help="held-out seeds, e.g. 1000-1019")
    pa.add_argument("--out", required=True, help="directory for pareto.csv, .json and .png")
    pa.add_argument("--weights", type=int, default=8, help="weight vectors to play (default 8)")
    pa.add_argument("--gammas", help="AS and GLFT risk aversions, comma-separated (default 8 "
                                     "values from 0.003 to 0.3)")
    pa.add_argument("--force", action="store_true", help="write into a non-empty --out")
    pa.add_argument("--json", action="store_true")
    pa.set_defaults(func=cmd_pareto)
    tb = sub.add_parser("tune-baseline", help="grid-search AS or GLFT on training seeds (Sharpe) "
                                              "and write a baseline spec for abmm evaluate")
    tb.add_argument("--scenario", required=True)
    tb.add_argument("--kind", required=True, choices=["as", "glft"])
    tb.add_argument("--seeds", default="1-20", help="training seeds (below 1000), e.g. 1-20")
    tb.add_argument("--out", required=True, help="the baseline spec to write (.yaml)")
    tb.add_argument("--like", help="tune on this policy's action grid (its market_v0 "
                                   "arguments), e.g. mm_coevolved; default market_v0's")
    tb.add_argument("--gammas", help="comma-separated risk aversions (default 12 values, "
                                     "0.003 to 3, log-spaced)")
    tb.add_argument("--windows", help="comma-separated volatility windows (EWMA half-lives in "
                                      "decisions; default 5,30,120)")
    tb.add_argument("--workers", type=int, default=1, help="grid cells in parallel processes")
    tb.set_defaults(func=cmd_tune_baseline)
    x = sub.add_parser("export", help="export a torch checkpoint to a torch-free .npz policy")
    x.add_argument("checkpoint", help="policy.pt, checkpoint.pt, a shipped policy's name, or "
                                      "sb3:MODEL.zip / torchscript:FILE to convert")
    x.add_argument("out", help="the .npz policy file to write")
    x.add_argument("--learner", action="append", metavar="NAME",
                   help="export only this learner (repeat for several; default all)")
    x.add_argument("--scenario", help="for sb3:/torchscript: the market_v0 scenario whose spaces "
                                      "and conventions the policy gets (default market_v0's)")
    x.set_defaults(func=cmd_export)
    d = sub.add_parser("demo", help="replay an order stream through the matching engine")
    d.add_argument("--messages", type=int, default=1_000_000, help="random stream length")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--stream", help="a shared/bench gen_stream .npz to replay instead")
    d.add_argument("--chunk", type=int, default=65_536, help="messages per batch call")
    d.add_argument("--check", action="store_true",
                   help="also replay through the pure-Python reference and compare")
    d.add_argument("--json", action="store_true", help="also print a JSON summary")
    d.set_defaults(func=cmd_demo)
    from abmm.cli import calibrate as calibrate_cli
    from abmm.cli import data as data_cli
    from abmm.cli import sweep as sweep_cli

    data_cli.add_parser(sub)
    calibrate_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    return ap


#: Exit statuses: success; a runtime fault; bad input (a file, a flag, a value); stopped by
#: SIGINT (Ctrl-C) or SIGTERM after saving what could be saved.
EXIT_OK, EXIT_FAULT, EXIT_INPUT, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143


class _Terminated(BaseException):
    """SIGTERM reached a command that has nothing to save: stop with exit status 143."""


def _one_line(exc: BaseException) -> str:
    """An exception as one line: its message (a file error with its path), no traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def main(argv=None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the subcommand; returns the exit status.

    The one error boundary of the command line: a failure the user caused (a bad file, flag or
    value: ``AbmmError``, ``ValueError``, ``OSError``) prints one line ``abmm <command>:
    <what was wrong>`` and exits 2; anything else is a runtime fault, printed as one line with
    a hint, exit 1. ``abmm --debug ...`` shows the traceback instead. Ctrl-C exits 130."""
    ap = build_parser()
    a = ap.parse_args(argv)
    if getattr(a, "messages", 1) < 1 or getattr(a, "chunk", 1) < 1:
        print(f"abmm {a.command}: --messages and --chunk must be positive", file=sys.stderr)
        return EXIT_INPUT
    if a.command == "demo" and a.seed < 0:
        print(f"abmm demo: --seed {a.seed}: expected an integer >= 0", file=sys.stderr)
        return EXIT_INPUT
    import signal

    from abmm.errors import AbmmError

    def _terminated(signum, frame):  # commands with work to save install their own handlers
        raise _Terminated(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _terminated)
    try:
        return a.func(a)
    except _Terminated as exc:
        print(f"abmm {a.command}: stopped by {exc}", file=sys.stderr)
        return EXIT_SIGTERM
    except BrokenPipeError:  # output piped into a reader that stopped early (`| head`)
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        if a.debug:
            raise
        print(f"abmm {a.command}: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except (AbmmError, ValueError, OSError, RecursionError) as exc:
        if a.debug:
            raise
        import errno

        fault = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT)
                 or bool(getattr(exc, "fault", False)))
        print(f"abmm {a.command}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAULT if fault else EXIT_INPUT
    except MemoryError:
        if a.debug:
            raise
        print(f"abmm {a.command}: out of memory (is an input far larger than intended?); "
              "rerun with abmm --debug for the traceback", file=sys.stderr)
        return EXIT_FAULT
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, not a traceback
        if a.debug:
            raise
        print(f"abmm {a.command}: internal error: {type(exc).__name__}: {_one_line(exc)}; "
              "rerun with abmm --debug for the traceback", file=sys.stderr)
        return EXIT_FAULT


if __name__ == "__main__":
    sys.exit(main())
