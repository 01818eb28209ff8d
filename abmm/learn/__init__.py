"""Learning agents (torch): tabular Q-learning, DQN, PPO, checkpoints, the co-evolution league,
training (``abmm train``) and evaluation on held-out seeds (``abmm evaluate``).

Runs on the CPU; uses a CUDA device when one is present and asked for (``device: auto``).
Modules: ``normalize`` (running observation statistics), ``buffers`` (GAE, replay), ``nets``
(policy and value networks, with optional conv1d or GRU sequence encoders over an observation
window), ``ppo``, ``dqn``, ``tabular``, ``checkpoint`` (versioned training
files), ``config`` (training configs), ``trainer`` (the loop and the co-evolution league),
``policy`` (acting with saved policies), ``export`` (to the torch-free ``.npz`` policy file of
``abmm.policy``), ``evaluate``. The execution environment is ``abmm.env.execution_v0``.
"""
