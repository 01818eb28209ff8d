"""The strict pydantic base model and the ``Duration`` field type every schema uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from abmm.schema.timing import parse_duration

__all__ = ["Strict", "Duration"]


def _duration(v):
    try:
        return parse_duration(v)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


#: A duration: an int of nanoseconds or a string like "250ms", "1.5s", "10min", "6.5h", "09:30".
Duration = Annotated[int, BeforeValidator(_duration)]


class Strict(BaseModel):
    """A frozen schema model that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
