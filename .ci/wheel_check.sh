#!/usr/bin/env bash
# Build abmm's wheel, install it (with constraints.txt, as every install here) into a fresh venv
# outside the repository, and use it from there: list the shipped scenarios, run one, evaluate a
# shipped policy on a few seeds. Nothing from the source tree is importable there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip wheel -q --disable-pip-version-check --no-deps -c constraints.txt -w "$WORK/dist" .
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check -c "$ROOT/constraints.txt" "$WORK"/dist/abmm-*.whl
cd "$WORK"
ABMM="$WORK/venv/bin/abmm"
"$WORK/venv/bin/python" - <<'PY'
import abmm, abmm.engine, pathlib, sys
where = pathlib.Path(abmm.__file__).resolve()
assert "site-packages" in str(where), f"abmm imported from {where}, not the installed wheel"
assert abmm.engine.ENGINE == "compiled", f"the wheel's engine is {abmm.engine.ENGINE}"
import importlib, abmm._compiled as c  # noqa: E401
for name in c.MODULES:  # every hot module the wheel lists must run from its compiled copy
    importlib.import_module(name)
missing = sorted(set(c.MODULES) - set(c.compiled()))
assert not missing, f"the wheel runs these hot modules as source: {missing}"
import abmm.market.kernel as K  # noqa: E402
assert K.EventQueue.__module__ == "abmm.market._cqueue", f"the wheel's event queue is {K.EventQueue}"
import abmm.agents.base as B  # noqa: E402
assert B.Latency.__module__ == "abmm.agents._crng", f"the wheel's latency draws are {B.Latency}"
from abmm.signals import MidVolatility  # noqa: E402
assert MidVolatility.__module__ == "abmm.signals._cvol", f"the wheel's volatility is {MidVolatility}"
print("wheel: abmm from", where.parent, "engine", abmm.engine.ENGINE,
      "compiled modules", len(c.compiled()), "of", len(c.MODULES))
PY
"$ABMM" scenarios
"$ABMM" run default --out run-default --set market.close=11:30 --no-facts
test "$(python3 -c 'import json,sys; print(json.load(open("run-default/summary.json"))["status"])')" = complete
"$ABMM" evaluate --scenario mm_eval --policy mm_coevolved --policy as --seeds 1000-1001
echo "wheel check: passed"
