"""The layer contract (docs/architecture.md) holds, and its checkers catch a break.

``lint-imports`` (import-linter, contracts in pyproject.toml) and the guide's own
``../shared/tools/layers.py`` both pass on the tree, and both fail on a copy of the package
with one upward import planted (the negative control).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS_TOOL = ROOT.parent / "shared" / "tools" / "layers.py"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return subprocess.run([exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def _copy_with_break(tmp_path: Path, module: str, line: str) -> Path:
    dst = tmp_path / "tree"
    shutil.copytree(ROOT / "abmm", dst / "abmm",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "_data"))
    target = dst / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return dst


def test_the_tree_keeps_the_layer_contract():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("module,line", [
    ("abmm/market/model.py", "import abmm.scenario  # upward: market -> scenario"),
    ("abmm/agents/policy.py", "import abmm.learn  # upward: agents -> learn"),
    ("abmm/policy/features.py", "import torch  # the policy layer must stay torch-free"),
    ("abmm/signals/flow.py", "import abmm.market.model  # signals are pure"),
])
def test_lint_imports_fails_on_a_planted_break(tmp_path, module, line):
    out = _lint_imports(_copy_with_break(tmp_path, module, line))
    assert out.returncode != 0, out.stdout[-3000:]
    assert "BROKEN" in out.stdout


@pytest.mark.skipif(not LAYERS_TOOL.is_file(), reason=f"{LAYERS_TOOL} not present")
def test_guide_layers_tool_passes_and_catches_a_break(tmp_path):
    ok = subprocess.run([sys.executable, str(LAYERS_TOOL), str(ROOT)], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout
    bad = _copy_with_break(tmp_path, "abmm/market/model.py", "from abmm.scenario import x")
    out = subprocess.run([sys.executable, str(LAYERS_TOOL), str(bad)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and "market -> scenario" in out.stdout
