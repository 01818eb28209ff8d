"""Reading configuration files (scenarios, training configs) with bounds: a size limit checked
before anything is parsed, UTF-8 decoding errors that name the file, and a nesting limit, so a
wrong or hostile file (``/dev/zero``, a binary, a deeply nested document) gives one clear error
instead of exhausting memory or the stack."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MAX_CONFIG_BYTES", "MAX_DEPTH", "read_config_text", "check_depth", "write_atomic"]

#: A scenario or training config is a small text file: larger ones are refused unread.
MAX_CONFIG_BYTES = 4 * 2**20
#: Deepest nesting of mappings and lists accepted in a config.
MAX_DEPTH = 32


def read_config_text(path: str | Path, what: str = "config file",
                     max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The text of ``path``, read only up to ``max_bytes`` (+1, to tell a larger file); raises
    ``ValueError`` naming the file when it is larger or not UTF-8 text, and ``OSError`` when it
    cannot be read."""
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path}: larger than {max_bytes / 2**20:g} MiB; expected a small YAML "
                         f"or JSON {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); expected a "
                         f"YAML or JSON {what}") from None


def check_depth(data, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``ValueError`` when ``data`` nests mappings and lists deeper than ``max_depth``."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > max_depth:
                raise ValueError(f"{source}: nested more than {max_depth} levels deep; expected "
                                 "a scenario or config a person wrote")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children)


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: to ``PATH.tmp-PID``, fsync'd, then renamed over
    ``path`` (``os.replace``). A killed writer leaves the old file whole and no temporary."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
