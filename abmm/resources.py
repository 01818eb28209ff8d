"""Shipped scenarios and policies, found by name in the installed package.

The repository keeps them at the top level (``scenarios/``, ``policies/``); the build maps those
folders into the package as ``abmm._data.scenarios`` and ``abmm._data.policies`` (see
``setup.py``), so an installed wheel carries them and an editable install sees the repository's
own files. ``abmm run default`` and ``--policy mm_coevolved`` resolve through here.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

__all__ = ["shipped_scenarios", "shipped_policies", "scenario_path", "policy_path",
           "scenario_description", "shipped_training_configs", "training_config_path"]

_SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
_POLICY_SUFFIXES = (".npz", ".pt", ".yaml")  # .yaml: tuned-baseline specs


def _folder(kind: str) -> Path | None:
    """The folder holding the shipped ``kind`` (``scenarios`` or ``policies``), or None."""
    installed = Path(str(resources.files("abmm._data"))) / kind  # a wheel: inside the package
    if installed.is_dir():
        return installed
    try:  # an editable install maps abmm._data.<kind> onto the repository's top-level folder
        module = importlib.import_module(f"abmm._data.{kind}")
        for entry in getattr(module, "__path__", []):
            if Path(entry).is_dir():
                return Path(entry)
    except ImportError:
        pass
    repo = Path(__file__).resolve().parent.parent / kind  # a source checkout without install
    return repo if repo.is_dir() else None


def _listing(kind: str, suffixes: tuple[str, ...], recursive: bool = False) -> dict[str, Path]:
    folder = _folder(kind)
    if folder is None:
        return {}
    out: dict[str, Path] = {}
    files = folder.rglob("*") if recursive else folder.iterdir()
    for p in sorted(files):
        if p.suffix in suffixes and p.is_file() and not p.name.startswith("_"):
            name = p.relative_to(folder).with_suffix("").as_posix()
            # several formats of one policy: the first suffix listed wins (.npz before .pt)
            if name not in out or suffixes.index(p.suffix) < suffixes.index(out[name].suffix):
                out[name] = p
    return out


def shipped_scenarios() -> dict[str, Path]:
    """Shipped scenario names (``default``, ``crypto_24h``, ...) and their files."""
    return _listing("scenarios", _SCENARIO_SUFFIXES)


def shipped_training_configs() -> dict[str, Path]:
    """Shipped training configs (``train/mm_coevolve``, ...: ``scenarios/train/``) by name."""
    return {k: v for k, v in _listing("scenarios", _SCENARIO_SUFFIXES, recursive=True).items()
            if k.startswith("train/")}


def shipped_policies() -> dict[str, Path]:
    """Shipped policy names (``mm_coevolved``, ...) and their files."""
    return _listing("policies", _POLICY_SUFFIXES)


def scenario_path(name_or_path: str | Path) -> Path:
    """A scenario file: ``name_or_path`` itself if it is an existing file, else the shipped
    scenario of that name; else the path unchanged (the loader reports it missing)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    return shipped_scenarios().get(str(name_or_path), p)


def training_config_path(name_or_path: str | Path) -> Path:
    """A training config: the file itself if it exists, else the shipped config of that name
    (``train/mm_coevolve`` or just ``mm_coevolve``); else the path unchanged."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    configs = shipped_training_configs()
    key = str(name_or_path)
    return configs.get(key) or configs.get(f"train/{key}", p)


def policy_path(name_or_path: str | Path) -> Path:
    """A policy file: ``name_or_path`` itself if it is an existing file, else the shipped policy
    of that name; else the path unchanged (the loader reports it missing)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    return shipped_policies().get(str(name_or_path), p)


def scenario_description(path: Path) -> str:
    """The first sentence of a scenario file's ``description`` (without loading the schema)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    desc = data.get("description", "") if isinstance(data, dict) else ""
    text = " ".join(str(desc).split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]
