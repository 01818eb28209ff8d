"""Loading scenarios: YAML/JSON files, dicts or strings, ``key.path=value`` overrides, and every
schema problem reported at once with its key path (``ScenarioError``)."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import yaml
from pydantic import ValidationError

from abmm.agents import KINDS
from abmm.errors import AbmmError
from abmm.resources import scenario_path
from abmm.scenario.schema import Market, Scenario, _Problems
from abmm.schema.files import MAX_DEPTH, check_depth, read_config_text
from abmm.schema.timing import format_ns, parse_duration

__all__ = ["ScenarioError", "load_scenario", "apply_overrides", "apply_until", "yaml_load",
           "get_value"]

log = logging.getLogger(__name__)


class ScenarioError(AbmmError, ValueError):
    """A scenario file that cannot be used; ``problems`` lists ``(key path, message)``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path or '(top level)'}: {msg}" for path, msg in problems)
        n = len(problems)
        super().__init__(f"{source}: {n} problem{'s' * (n != 1)}:\n{lines}")


class _Loader(yaml.SafeLoader):
    """YAML without YAML 1.1's base-60 numbers: ``close: 10:30`` stays the clock time "10:30"
    (PyYAML would read the integer 630)."""


def _no_sexagesimal(kind):
    base = getattr(yaml.SafeLoader, f"construct_yaml_{kind}")

    def construct(loader, node):
        if ":" in str(node.value):
            return loader.construct_scalar(node)
        return base(loader, node)

    return construct


_Loader.add_constructor("tag:yaml.org,2002:int", _no_sexagesimal("int"))
_Loader.add_constructor("tag:yaml.org,2002:float", _no_sexagesimal("float"))


def yaml_load(text: str):
    """Parse YAML text (safe loading; ``10:30`` stays a string, not a base-60 number)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


_SHOCK_KINDS = ("flash_crash", "liquidity_withdrawal", "news_jump", "fat_finger")


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            out.extend(cause.problems)
            continue
        loc = [str(p) for p in err["loc"]]
        # drop the union tag pydantic puts in the path: agents.0.noise.count -> agents.0.count
        if len(loc) >= 3 and loc[0] in ("agents", "shocks") and loc[2] in (*KINDS, *_SHOCK_KINDS):
            del loc[2]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            got = err["input"]
            if not isinstance(got, (dict, list)) and repr(got) not in msg:
                msg += f" (got {got!r})"
        if err["type"] == "union_tag_invalid":
            msg += f"; known kinds: {sorted(KINDS)}" if loc and loc[0] == "agents" else ""
        out.append((".".join(loc), msg))
    return out


def _set_path(data: dict, path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if key.isdigit():
                idx = int(key)
            else:  # a group by name: agents.noise.count
                idx = next((j for j, g in enumerate(node)
                            if isinstance(g, dict) and (g.get("name") or g.get("kind")) == key), None)
            if idx is None or idx >= len(node):
                raise KeyError(f"{'.'.join(keys[:i + 1])}: no such list item")
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise KeyError(f"{'.'.join(keys[:i])} is not a mapping or list")


def get_value(data, path: str):
    """The value at the override path ``path`` (``agents.noise.count``: list items by index,
    ``name`` or ``kind``, as ``--set`` finds them) in a scenario dict; ``KeyError`` naming the
    first part that is not there."""
    node = data
    for i, key in enumerate(path.split(".")):
        if isinstance(node, list):
            idx = int(key) if key.isdigit() else next(
                (j for j, g in enumerate(node)
                 if isinstance(g, dict) and (g.get("name") or g.get("kind")) == key), None)
            if idx is None or idx >= len(node):
                raise KeyError(".".join(path.split(".")[:i + 1]))
            node = node[idx]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise KeyError(".".join(path.split(".")[:i + 1]))
    return node


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to a scenario dict (a copy)."""
    data = copy.deepcopy(data)
    problems = []
    for item in overrides or []:
        if "=" not in item:
            problems.append((item, "an override must look like key.path=value"))
            continue
        path, raw = item.split("=", 1)
        if not path.strip() or any(not k for k in path.strip().split(".")):
            problems.append((item, "an override needs a key path before '=', e.g. "
                                   "agents.noise.count=500"))
            continue
        try:
            _set_path(data, path.strip(), yaml_load(raw))
        except (KeyError, yaml.YAMLError) as exc:
            problems.append((path, str(exc).strip("'\"")))
    if problems:
        raise ScenarioError("--set", problems)
    return data


def apply_until(data: dict, until) -> tuple[dict, list[str]]:
    """A scenario dict (a copy) that stops at clock time ``until`` of the FIRST day (``"10:30"``,
    ``"10:30:15"`` or ns since midnight): the market closes then (``close``, or ``end`` where
    the file uses that name) and runs one day; shocks after it are dropped (one note each).
    ``until`` must lie after the open and at most at the first day's close."""
    src = f"--until {until}"
    try:
        t = parse_duration(until)
    except ValueError as exc:
        raise ScenarioError(src, [("until", f"{exc}; expected a clock time HH:MM[:SS]")]) from None
    data = copy.deepcopy(data)
    market = data.get("market") or {}
    if not isinstance(market, dict):
        return data, []  # the schema reports it
    try:
        m = Market.model_validate(market)
    except (ValidationError, ValueError):
        m = None  # the scenario's own problems are reported by the schema
    if m is not None:
        first = m.sessions[0]
        if not first[0] < t <= first[1]:
            raise ScenarioError(src, [("until", f"{format_ns(t)} is outside the first day's "
                                                f"session [{format_ns(first[0])}, "
                                                f"{format_ns(first[1])}]; expected a time after "
                                                "the open, at most the close")])
        if t - first[0] <= m.warmup:
            raise ScenarioError(src, [("until", f"{format_ns(t)} is within the warm-up, which "
                                                f"ends at {format_ns(first[0] + m.warmup)}; "
                                                "expected a later time (or --set market.warmup=0)")])
    key = "end" if "end" in market and "close" not in market else "close"
    data["market"] = {**market, key: t, "days": 1}
    notes, kept = [], []
    for i, shock in enumerate(data.get("shocks") or []):
        try:
            at = parse_duration(shock.get("at")) if isinstance(shock, dict) else None
        except ValueError:
            at = None  # the schema reports it
        if at is not None and at > t:
            notes.append(f"shocks.{i} ({shock.get('kind')} at {format_ns(at)}): after --until "
                         f"{format_ns(t)}; dropped")
        else:
            kept.append(shock)
    if notes:
        data["shocks"] = kept
    return data, notes


def load_scenario(source, overrides: list[str] | None = None, until=None) -> Scenario:
    """A validated ``Scenario`` from a path (YAML/JSON), a shipped scenario's name
    (``"default"``), or a dict; ``overrides`` are ``"key.path=value"`` strings; ``until``
    (a clock time) stops the run at that time of the first day (:func:`apply_until`). Agent
    windows outside the (possibly shortened) session are clipped, not refused: the returned
    scenario's ``notes`` say what changed (each also logged as a warning)."""
    name = "scenario"
    if isinstance(source, dict):
        data = source
    else:
        path = scenario_path(source)  # a file, else a shipped scenario's name
        name = str(path)
        try:
            text = read_config_text(path, "scenario file")
        except OSError as exc:
            raise ScenarioError(name, [("", f"cannot read the file: {exc.strerror}")]) from None
        except ValueError as exc:
            raise ScenarioError(name, [("", str(exc).removeprefix(f"{path}: "))]) from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ScenarioError(name, [("", f"not valid YAML/JSON: {exc}")]) from None
        except RecursionError:
            raise ScenarioError(name, [("", f"nested too deeply (expected at most {MAX_DEPTH} "
                                            "levels)")]) from None
        try:
            check_depth(data, name)
        except ValueError as exc:
            raise ScenarioError(name, [("", str(exc).removeprefix(f"{name}: "))]) from None
    if not isinstance(data, dict):
        raise ScenarioError(name, [("", f"expected a mapping at the top level, got "
                                        f"{type(data).__name__}")])
    data = apply_overrides(data, overrides)
    notes: list[str] = []
    if until is not None:
        data, notes = apply_until(data, until)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(name, _format_errors(exc)) from None
    for note in notes:
        log.warning("%s", note)
    scenario._notes = notes + scenario._notes
    return scenario
