"""abmm ecology, version 0: every learning archetype at once in one agent-based market.

``parallel_env(**kwargs)`` gives the PettingZoo ``ParallelEnv`` (``EcologyEnv``);
``env(**kwargs)`` the AEC version (PettingZoo's ``parallel_to_aec`` wrapper, with its
order-enforcing wrapper); ``raw_env(**kwargs)`` the AEC version without it.

Agents and roles
    The scenario's ``learnable: true`` groups, each in the role its kind plays:

    ==============================  ==========  ===================================
    kind                            role        observations, actions, rewards of
    ==============================  ==========  ===================================
    ``market_maker``, ``policy``    maker       ``abmm.env.market_v0``
    ``momentum``                    chartist    ``abmm.env.trading_v0``
    ``executor``                    executor    ``abmm.env.execution_v0``
    ``informed``                    adversary   ``abmm.env.adversary_env``
    ==============================  ==========  ===================================

    An adversary (one per learnable informed group, ``"GROUP_0"``) steers its group's
    informed traders -- the direction they lean and the size they trade -- against the
    target market makers, for minus their PnL (Spooner & Savani's adversary, with flow
    instead of drift; ``abmm.env.adversary_env`` documents it). Agents are named
    ``"group_index"``, makers first, then chartists, executors and adversaries
    (``possible_agents``); ``env.role(name)`` gives the role, ``observation_space(name)`` and
    ``action_space(name)`` are the role's own (so the spaces differ between roles), and
    ``env.learner(name)`` the Mesa agent. A learnable group of any other kind is an error.
    Every other agent of the scenario keeps acting on the market's event clock.

Episodes
    ``reset(seed=)`` builds one market from the scenario with that seed (without one: the
    scenario's seed, then the next integers), runs it through the warm-up (the chartists'
    indicators sample the mid as in trading_v0) and starts every role: the executors' parent
    orders start with the episode (their group's ``start`` is not used; ``duration``,
    ``quantity`` and ``side`` are), the arrival price is the mid then. One ``step()`` sends
    every role's orders, advances ``decision_interval`` (the chartists' stops are checked
    after every market step) and collects every role's observations and rewards, each exactly
    as its own environment computes them. An executor whose parent order is done (or whose
    ``duration`` has passed and whose remainder has been swept at market) terminates and leaves
    ``agents`` early; every other agent's episode ends at the session close (terminations) or
    after ``max_cycles`` decisions (truncations). Same scenario, seed and actions give the
    same observations, rewards and event log (``log_dir=`` writes one per episode).

    With the learnable groups of one role only, the ecology is that role's environment: its
    observations and rewards equal ``market_v0``'s, ``trading_v0``'s (same scenario,
    ``decision_interval`` and ``max_cycles``) step by step, and for executors
    ``execution_v0``'s when the group's ``start`` is the end of the warm-up
    (tests/env/test_ecology.py).

Actions
    A dict ``{agent: action}`` of live agents, each in its role's action space (a live agent
    left out keeps its quotes, position and stop, or waits). A bad action raises
    ``InvalidActionError`` naming the agent, the action and what was expected.

Arguments
    ``scenario`` (path, dict or ``Scenario``; default ``abmm/env/ecology.yaml``: two makers,
    two chartists and a seller among default's crowd, 30 minutes after a 60-minute warm-up),
    ``overrides``, ``decision_interval`` (a multiple of ``market.step``, the same for every
    role; default ``"10s"``), ``max_cycles``, ``maker`` / ``chartist`` / ``executor`` /
    ``adversary`` (dicts of that role's environment arguments; the adversary's ``targets``
    default to the learnable makers' groups, e.g. ``maker={"offsets": [1, 2, 4, 8], "reward":
    {...}}``, ``chartist={"risk_aversion": 0.01}``, ``executor={"vol_scale": 2.0}``; the
    ecology's own arguments are refused there), ``render_mode`` (``"human"`` logs text at
    INFO, ``"ansi"`` returns it), ``log_dir``.

Training
    ``abmm train`` with ``env: ecology`` trains one learner per agent (``sharing:
    independent``; parameter sharing across roles is refused since the spaces differ), with
    league snapshots for every agent: ``scenarios/train/ecology.yaml``, docs/ecology.md.

Version history
    v0 (abmm 0.1): first version.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.ecology_env import DEFAULT_SCENARIO, ROLE_OF_KIND, ROLES, EcologyEnv

__all__ = ["parallel_env", "env", "raw_env", "EcologyEnv", "DEFAULT_SCENARIO", "ROLES",
           "ROLE_OF_KIND"]


def parallel_env(**kwargs) -> EcologyEnv:
    """The parallel environment (see the module docstring for the arguments)."""
    return EcologyEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC version without wrappers."""
    return parallel_to_aec(EcologyEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))
