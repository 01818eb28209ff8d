"""A shipped ``.npz`` policy is evaluated with torch unavailable (as in an install without the
``rl`` extra); a torch checkpoint then fails with a clear error instead."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed (blocked by the test)")
sys.meta_path.insert(0, _Block())
from abmm.cli import main
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(BLOCK + code)],
                          capture_output=True, text=True, timeout=300)


def test_evaluate_a_shipped_policy_without_torch():
    out = _run("""
rc = main(["evaluate", "--scenario", "mm_eval", "--policy", "mm_coevolved", "--seeds", "1000",
           "--json"])
assert "torch" not in sys.modules, "torch was imported"
sys.exit(rc)
""")
    assert out.returncode == 0, out.stderr[-2000:]
    assert '"mm_coevolved"' in out.stdout


def test_a_torch_checkpoint_without_torch_is_a_clear_error():
    out = _run("""
sys.exit(main(["evaluate", "--scenario", "mm_eval", "--policy", "policies/mm_coevolved.pt",
               "--seeds", "1000"]))
""")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "needs torch" in out.stderr and "abmm export" in out.stderr
