"""Episode bookkeeping shared by the agent-based environments (market_v0, trading_v0): the
seed of each episode, its optional event log, releasing the previous market, and the end of an
episode."""

from __future__ import annotations


def env_scenario(scenario, overrides):
    """An environment's ``Scenario`` from a path, dict or ``Scenario`` (with ``--set``-style
    ``overrides`` applied; a ``Scenario`` without overrides is used as it is)."""
    from abmm.scenario import Scenario, load_scenario

    if isinstance(scenario, Scenario):
        return load_scenario(scenario.resolved(), overrides=overrides) if overrides \
            else scenario
    return load_scenario(scenario, overrides=overrides)


def check_max_cycles(max_cycles) -> None:
    """``ValueError`` unless ``max_cycles`` is None or a positive int."""
    if max_cycles is not None and (isinstance(max_cycles, bool) or int(max_cycles) < 1):
        raise ValueError(f"max_cycles must be a positive int, got {max_cycles!r}")


class EpisodeMarkets:
    """Mixin for an env with ``scenario``, ``model``, ``log_dir``, ``_episodes`` and
    ``_next_seed``: ``_new_market(seed)`` disposes of the previous market and builds the next
    one -- on ``seed`` when given, else the next integer after the last episode's seed (the
    first episode uses the scenario's seed) -- logging it under ``log_dir`` when set."""

    def _new_market(self, seed=None):
        from abmm.scenario import build_model

        if seed is not None:
            self._next_seed = int(seed)
        ep = self._next_seed
        self._next_seed += 1
        self._dispose()
        out = None
        if self.log_dir is not None:
            out = self.log_dir / f"episode-{self._episodes:05d}-seed{ep}"
        self._episodes += 1
        self.model = build_model(self.scenario, seed=ep, out=out)
        self.episode_seed = ep
        return self.model

    def _step_ends(self) -> tuple[dict, dict]:
        """``(terminations, truncations)`` after a step: the episode ends at ``_t_end``, a
        termination when that is the market's end, else a truncation (``max_cycles``). At the
        end the agents are cleared and a logged market is finished; ``render_mode="human"``
        renders every step."""
        m = self.model
        ended = m.now >= self._t_end
        term = ended and self._t_end >= m.end
        trunc = ended and not term
        terminations = dict.fromkeys(self.agents, bool(term))
        truncations = dict.fromkeys(self.agents, bool(trunc))
        if ended:
            self.agents = []
            if m.out_dir is not None:
                m.finish()
        if self.render_mode == "human":
            self.render()
        return terminations, truncations

    def _dispose(self) -> None:
        if self.model is not None:
            if self.model.out_dir is not None and not self.model.finished:
                self.model.finish(status="incomplete", error="episode ended early (reset/close)")
            self.model.release()  # Mesa keeps models and agents alive otherwise
            self.model = None
