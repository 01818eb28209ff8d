"""The one seed-list syntax of abmm (``abmm evaluate --seeds``, training configs' ``eval.seeds``,
sweep files' ``seeds``, the benchmarks): ``"1000-1099"``, ``"1,2,5-7"``."""

from __future__ import annotations

__all__ = ["MAX_SEEDS", "parse_seeds"]

#: Most seeds one list may hold.
MAX_SEEDS = 100_000


def parse_seeds(text: str) -> list[int]:
    """``"1000-1099"`` -> 1000..1099; ``"1,2,5-7"`` -> [1, 2, 5, 6, 7]; ``ValueError`` naming
    the text and the expected form when it is malformed, empty, negative or too long."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                if hi - lo >= MAX_SEEDS or len(out) + hi - lo >= MAX_SEEDS:
                    raise OverflowError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except OverflowError:
            raise ValueError(f"seeds {text!r}: more than {MAX_SEEDS:,} seeds") from None
        except ValueError:
            raise ValueError(f"seeds {text!r}: {part!r} is not an int or a range 'a-b' with "
                             "a <= b") from None
    if not out:
        raise ValueError(f"seeds {text!r}: no seeds")
    if min(out) < 0:
        raise ValueError(f"seeds {text!r}: seeds must be >= 0")
    return out
