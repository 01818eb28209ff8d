"""abmm's hot pure-Python modules, compiled by Cython as they are (``setup.py``).

The market's event loop, its accounts and event log, the agents' base class and the rule-based
crowd's strategies are plain Python (``MODULES``). When abmm is installed with a C compiler,
``setup.py`` also compiles each of them, unchanged, into an extension module beside its source
(``model.py`` -> ``model.cpython-*.so``), which Python then imports in its place: the same code
and the same results (same scenario and seed, the same event log bit for bit), with less
interpreter overhead (``benchmarks/bench_market.py``).

A compiled module must never run code older than its source. The build records the SHA-256 of
each source it compiled (``_compiled_hashes.json``); :func:`install` (run by ``import abmm``)
makes Python import the ``.py`` source instead of the compiled copy for every module whose
source has changed since (an edit in an editable install, before ``pip install -e .`` rebuilds
it; one warning names them), and for all of them when ``ABMM_PURE_PYTHON=1`` (which also
selects the pure-Python matching engine, so the whole simulator runs as Python source) or
``ABMM_SOURCE_MODULES=1`` (these modules only, the engine stays compiled: what
``benchmarks/bench_market.py --modules source`` measures against).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["MODULES", "HASHES_FILE", "install", "compiled", "source_hash"]

#: The modules setup.py compiles (read there with ``ast``: keep this a literal tuple). Not
#: deprecated shims (``abmm.agents.quoting``): a compiled module cannot be re-executed by
#: ``importlib.reload``, which their deprecation warnings rely on.
MODULES = (
    "abmm.market.model",
    "abmm.market.accounts",
    "abmm.market.eventlog",
    "abmm.market.kernel",
    "abmm.market.marketdata",
    "abmm.market.venue",
    "abmm.market.activity",
    "abmm.agents.base",
    "abmm.agents.noise",
    "abmm.agents.market_maker",
    "abmm.agents.metaorder",
    "abmm.agents.value",
    "abmm.agents.momentum",
    "abmm.agents.informed",
    "abmm.signals.volatility",
    "abmm.env.market_env",
    "abmm.env.actions",
    "abmm.env.rewards",
    "abmm.policy.features",
    "abmm.policy.actions",
)

#: The build's record of the sources it compiled: ``{module: sha256 of its .py}``.
HASHES_FILE = "_compiled_hashes.json"

_ROOT = Path(__file__).resolve().parent


def source_hash(path) -> str:
    """SHA-256 (hex) of a source file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _source(name: str) -> Path:
    return _ROOT.joinpath(*name.split(".")[1:]).with_suffix(".py")


def _has_extension(src: Path) -> bool:
    return any(src.with_suffix(s).exists() for s in importlib.machinery.EXTENSION_SUFFIXES)


class _SourceFinder:
    """A meta-path finder that imports the listed modules from their ``.py`` sources."""

    def __init__(self, sources: dict[str, Path]):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        """The source's spec for a listed module, else None (the normal finders go on)."""
        src = self.sources.get(name)
        if src is None:
            return None
        return importlib.util.spec_from_file_location(name, src)


_installed: _SourceFinder | None = None


def install() -> dict[str, Path]:
    """Route every compiled module whose source changed since the build (all of them under
    ``ABMM_PURE_PYTHON=1`` or ``ABMM_SOURCE_MODULES=1``) to its source; returns ``{module:
    source}`` for those."""
    global _installed
    if _installed is not None:
        return _installed.sources
    pure = any(os.environ.get(v, "") not in ("", "0")
               for v in ("ABMM_PURE_PYTHON", "ABMM_SOURCE_MODULES"))
    try:
        built = json.loads((_ROOT / HASHES_FILE).read_text())
    except (OSError, ValueError):
        built = {}
    route, stale = {}, []
    for name in MODULES:
        src = _source(name)
        if not src.exists() or not _has_extension(src):
            continue  # not compiled (no compiler, ABMM_NO_EXT=1): the source is what imports
        if pure:
            route[name] = src
        elif built.get(name) != source_hash(src):
            route[name] = src
            stale.append(name)
    if stale:
        log.warning("abmm: %d compiled module(s) are older than their sources (%s): running "
                    "the sources; `pip install -e .` rebuilds them", len(stale), ", ".join(stale))
    _installed = _SourceFinder(route)
    if route:
        sys.meta_path.insert(0, _installed)
    return route


def compiled() -> list[str]:
    """The listed modules running compiled now (imported from an extension module)."""
    out = []
    for name in MODULES:
        mod = sys.modules.get(name)
        f = getattr(mod, "__file__", "") or ""
        if f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            out.append(name)
    return out
