"""Learning agents (torch): tabular Q-learning, DQN, PPO, checkpoints, the co-evolution league,
training (``abmm train``) and evaluation on held-out seeds (``abmm evaluate``).

Runs on the CPU; uses a CUDA device when one is present and asked for (``device: auto``).
Modules: ``normalize`` (running observation statistics), ``buffers`` (rollouts, GAE, replay),
``nets`` (policy and value networks), ``ppo``, ``dqn``, ``tabular``, ``checkpoint``, ``league``,
``config`` (training configs), ``trainer``, ``evaluate``, ``execution`` (the RL executor env).
"""
