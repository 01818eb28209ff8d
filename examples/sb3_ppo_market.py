"""Stable-Baselines3 PPO on abmm's market_v0, then `abmm evaluate --policy sb3:MODEL.zip`.

Tiny budget (runs in CI): two seeded copies of the market in two worker processes
(``abmm.env.vector``), a few hundred PPO steps, the model saved, then evaluated on two held-out
seeds beside the Avellaneda-Stoikov baseline -- once through the command line and once through
the Python API, and converted to abmm's torch-free policy file. Needs stable-baselines3
(``pip install -c constraints.txt 'abmm[sb3]'``). A plain script: no ``__main__`` guard is
needed for the worker processes.

    python examples/sb3_ppo_market.py [OUT_DIR]
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger

from abmm.env import vector
from abmm.learn.evaluate import evaluate_policy, format_table
from abmm.learn.importers import export_external

out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="abmm-sb3-"))
out.mkdir(parents=True, exist_ok=True)
ENV = {"max_cycles": 60, "overrides": ["market.close=10:07"]}

venv = vector.vec_env("market_v0", 2, num_cpus=2, seed=7, base_class="stable_baselines3", **ENV)
model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=2, seed=7, verbose=0)
model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default makes a /tmp/SB3-* folder
model.learn(total_timesteps=256)
venv.close()
path = out / "ppo_market.zip"
model.save(path)
print(f"saved {path}")

# the command line: the SB3 model beside a baseline on two held-out seeds
subprocess.run([sys.executable, "-m", "abmm.cli", "evaluate", "--scenario", "mm_eval",
                "--policy", f"sb3:{path}", "--policy", "as", "--seeds", "1000-1001"],
               check=True)

# the Python API: the same episodes and metrics; then the torch-free file for kind: policy agents
res = evaluate_policy("mm_eval", f"sb3:{path}", [1000, 1001], name="ppo (API)")
print(format_table(res))
npz = export_external(f"sb3:{path}", out / "ppo_market.npz")
print(f"torch-free policy: {npz}")
