"""The command line's error boundary (issue 13): every bad input below ends in one line
``abmm <command>: ...`` naming what was wrong, the documented exit status, no traceback, and
no directory left behind; ``abmm --debug`` shows the traceback instead."""

from __future__ import annotations

import pytest

from abmm.cli import EXIT_FAULT, EXIT_INPUT, main
from abmm.scenario import build_model

TINY = {"name": "tiny", "seed": 1, "market": {"open": "09:30", "close": "09:40"},
        "agents": [{"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "5s"}},
                   {"kind": "market_maker", "levels": 2}]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    build_model(TINY, out=out).run()
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "binary.yaml").write_bytes(b"name: x\n\xff\xfe\x00\x81 binary")
    (d / "deep.yaml").write_text("a: " + "[" * 2000 + "]" * 2000 + "\n")
    (d / "deep.json").write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    (d / "unknown_keys.yaml").write_text(
        "name: t\nenv: market\nenv_args: {scenario: mm_train, bogus: 1}\nalgo: ppo\n"
        "algo_args: {nope: 2}\nupdates: 1\n")
    return d


CASES = [
    # (argv with {run} / {bad} / {tmp} placeholders, message fragment, exit status)
    (["run", "/dev/zero"], "larger than 4 MiB", EXIT_INPUT),
    (["run", "{bad}/binary.yaml"], "not UTF-8 text", EXIT_INPUT),
    (["run", "{bad}/deep.yaml"], "nested too deeply", EXIT_INPUT),
    (["run", "{bad}/deep.json"], "nested too deeply", EXIT_INPUT),
    (["run", "default", "--set", "=5", "--out", "{tmp}/o"], "key path before '='", EXIT_INPUT),
    (["run", "default", "--set", "agents.noise.count=100000000", "--out", "{tmp}/o"],
     "--allow-large", EXIT_INPUT),
    (["train", "/dev/zero", "--out", "{tmp}/o"], "larger than 4 MiB", EXIT_INPUT),
    (["train", "train/mm_coevolve", "--out", "{tmp}/o", "--updates", "0"],
     "--updates 0: expected a number of updates >= 1", EXIT_INPUT),
    (["train", "{bad}/unknown_keys.yaml", "--out", "{tmp}/o"],
     "env_args: unknown key(s) ['bogus'] for market", EXIT_INPUT),
    (["demo", "--seed", "-3", "--messages", "100"], "--seed -3: expected an integer >= 0",
     EXIT_INPUT),
    (["demo", "--stream", "{bad}/missing.npz"], "No such file or directory", EXIT_INPUT),
    (["facts", "{run}", "--freq", "0min"], "must be a positive duration", EXIT_INPUT),
    (["facts", "{run}", "--freq", "1ns"], "expected at most 5,000,000", EXIT_INPUT),
    (["bars", "{run}", "--out", "{tmp}"], "Is a directory", EXIT_INPUT),
    (["evaluate", "--scenario", "mm_eval", "--policy", "as", "--seeds", "0-99999999999"],
     "more than 100,000 seeds", EXIT_INPUT),
    (["evaluate", "--scenario", "mm_eval", "--policy", "as", "--seeds=-5"],
     "--seeds: seeds '-5': seeds must be >= 0", EXIT_INPUT),
    (["evaluate", "--scenario", "mm_eval", "--policy", "twap", "--seeds", "1"],
     "'twap' is an execution baseline", EXIT_INPUT),
    (["sweep", "/dev/zero", "--out", "{tmp}/o"], "larger than 4 MiB", EXIT_INPUT),
    (["sweep", "{bad}/binary.yaml", "--out", "{tmp}/o"], "not UTF-8 text", EXIT_INPUT),
    (["sweep", "{bad}/deep.yaml", "--out", "{tmp}/o"], "nested", EXIT_INPUT),
    (["sweep", "{bad}/deep.json", "--out", "{tmp}/o"], "nested", EXIT_INPUT),
    (["sweep", "{bad}/missing.yaml", "--out", "{tmp}/o"], "cannot read the file", EXIT_INPUT),
]


@pytest.mark.parametrize("argv,fragment,status", CASES, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_bad_input_is_one_clear_line(argv, fragment, status, run_dir, files, tmp_path, capsys):
    argv = [a.format(run=run_dir, bad=files, tmp=tmp_path) for a in argv]
    assert main(argv) == status
    err = capsys.readouterr().err
    assert fragment in err, err
    assert "Traceback" not in err
    assert err.startswith(f"abmm {argv[0]}:"), err
    assert not (tmp_path / "o").exists()  # nothing left behind


def test_an_unexpected_fault_is_one_line_and_debug_shows_it(monkeypatch, capsys):
    import abmm.cli as cli

    def boom(a):
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "cmd_scenarios", boom)
    assert main(["scenarios"]) == EXIT_FAULT
    err = capsys.readouterr().err
    assert err.startswith("abmm scenarios: internal error: RuntimeError: something broke")
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="something broke"):
        main(["--debug", "scenarios"])


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped a third of the way (as by SIGTERM): summary.json says incomplete."""
    out = tmp_path_factory.mktemp("stopped") / "r"
    model = build_model(TINY, out=out)
    stop_at = model.start + (model.end - model.start) // 3

    def progress(now):
        if now >= stop_at:
            model.stop_requested = "stopped by signal SIGTERM"

    assert model.run(progress)["status"] == "incomplete"
    return out


@pytest.mark.parametrize("command", [["facts"], ["bars", "--out", "{tmp}/b.csv"],
                                     ["report", "--out", "{tmp}/r.html"]])
def test_readers_refuse_an_unfinished_run_unless_allowed(command, stopped_run, tmp_path, capsys):
    argv = [command[0], str(stopped_run)] + [a.format(tmp=tmp_path) for a in command[1:]]
    assert main(argv) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "stopped by signal SIGTERM" in err and "got to 09:33:20.000" in err
    assert "--allow-incomplete" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written
    assert main(argv + ["--allow-incomplete"]) == 0
    assert "analysing what was logged" in capsys.readouterr().err
