"""Checkpoints: a versioned, checksummed file written atomically.

Layout: ``MAGIC`` (8 bytes ``b"ABMMCKPT"``), the format version (uint32, little endian), the
payload length (uint64), the SHA-256 of the payload (32 bytes), then the payload: a
``torch.save`` of a dict of tensors, numbers, strings, lists and dicts (numpy arrays are stored
as tensors), read back with ``torch.load(weights_only=True)`` -- no pickled code runs on load.

The payload of a training checkpoint holds ``kind`` (``"training"`` or ``"policy"``),
``algo``, every learner's weights, optimizer state, observation normalizer and random states,
the training ``config`` and its ``config_hash`` (SHA-256 of the canonical JSON of the config's
environment part: resolved scenario and env arguments), and the counters (``update``,
``episodes``, ``env_steps``), so training resumes exactly.

Written to ``PATH.tmp-PID`` then renamed over ``PATH`` (``os.replace``): a killed writer leaves
the old checkpoint intact. Loading a file that is not a checkpoint, is truncated, fails its
checksum, comes from a newer format, or (``expect_hash``) belongs to another configuration
raises ``CheckpointError`` saying which.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import numpy as np
import torch

from abmm.errors import AbmmError
from abmm.schema.files import write_atomic

MAGIC = b"ABMMCKPT"
VERSION = 1
_HEAD = struct.Struct("<8sIQ32s")


class CheckpointError(AbmmError, ValueError):
    """A checkpoint that cannot be used (not one, truncated, corrupt, newer, mismatched)."""


def config_hash(cfg) -> str:
    """SHA-256 of the canonical JSON of ``cfg`` (keys sorted)."""
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _to_saveable(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, dict):
        return {k: _to_saveable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_saveable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return x


def save(path, payload: dict) -> Path:
    """Write ``payload`` to ``path`` atomically; returns the path."""
    buf = io.BytesIO()
    torch.save(_to_saveable(payload), buf)
    data = buf.getvalue()
    head = _HEAD.pack(MAGIC, VERSION, len(data), hashlib.sha256(data).digest())
    return write_atomic(path, head + data)


#: Largest checkpoint payload read (abmm's are a few MiB).
MAX_BYTES = 1 << 30
#: Largest hidden layer accepted in a network spec.
MAX_HIDDEN = 16_384
_REQUIRED = {
    "training": ("algo", "config", "config_hash", "env", "learners", "update", "history"),
    "policy": ("policies", "env", "config_hash"),
}


def _validate(path: Path, payload: dict) -> None:
    """Refuse a payload whose header was fine but whose contents are not what abmm writes:
    missing keys, wrong types, negative counters, absurd network sizes, non-finite weights."""
    kind = payload["kind"]
    if kind not in _REQUIRED:  # the container's own tests; callers check the kind they need
        return
    missing = [k for k in _REQUIRED[kind] if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: a {kind} checkpoint without {missing}")
    if kind == "training":
        upd = payload["update"]
        if not isinstance(upd, int) or isinstance(upd, bool) or upd < 0:
            raise CheckpointError(f"{path}: 'update' is {upd!r}; expected an int >= 0")
        if not isinstance(payload["learners"], dict) or not payload["learners"]:
            raise CheckpointError(f"{path}: 'learners' must be a non-empty mapping")
    elif not isinstance(payload["policies"], dict) or not payload["policies"]:
        raise CheckpointError(f"{path}: 'policies' must be a non-empty mapping")
    env = payload.get("env")
    pc = env.get("policy_config") if isinstance(env, dict) else None
    if isinstance(pc, dict) and "decision_ns" in pc:
        d = pc["decision_ns"]
        if not isinstance(d, (int, float)) or not d > 0:
            raise CheckpointError(f"{path}: env.policy_config.decision_ns is {d!r}; expected a "
                                  "positive number of ns")
    stack = [("", payload)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key in ("hidden", "channels"):  # (a GRU encoder's hidden is one int)
                sizes = node.get(key)
                if isinstance(sizes, int) and not isinstance(sizes, bool):
                    sizes = [sizes]
                if sizes is not None and (not isinstance(sizes, (list, tuple)) or any(
                        not isinstance(h, int) or not 0 < h <= MAX_HIDDEN for h in sizes)):
                    raise CheckpointError(f"{path}: {where}.{key} is {node.get(key)!r}; "
                                          f"expected layer sizes between 1 and {MAX_HIDDEN}")
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(node))
        elif isinstance(node, torch.Tensor) and node.is_floating_point() \
                and not torch.isfinite(node).all():
            raise CheckpointError(f"{path}: {where} holds NaN or infinite values")


def load(path, expect_hash: str | None = None, map_location="cpu") -> dict:
    """Read and verify a checkpoint (see the module docstring for the errors)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    size = path.stat().st_size
    with open(path, "rb") as f:  # the header first: a foreign file is refused unread
        head = f.read(_HEAD.size)
        if len(head) < _HEAD.size or head[:8] != MAGIC:
            raise CheckpointError(f"{path}: not an abmm checkpoint (no {MAGIC!r} header; "
                                  f"{size} bytes)")
        _, version, n, digest = _HEAD.unpack(head)
        if version > VERSION:
            raise CheckpointError(f"{path}: format version {version} is newer than this abmm "
                                  f"reads ({VERSION}); upgrade abmm")
        if size - _HEAD.size != n:
            raise CheckpointError(f"{path}: truncated or padded: the header says {n} payload "
                                  f"bytes, the file has {size - _HEAD.size}")
        if n > MAX_BYTES:
            raise CheckpointError(f"{path}: {n / 2**20:,.0f} MiB of payload; abmm's checkpoints "
                                  f"are far smaller (at most {MAX_BYTES / 2**20:,.0f} MiB read)")
        data = f.read()
    if hashlib.sha256(data).digest() != digest:
        raise CheckpointError(f"{path}: corrupt: the payload's SHA-256 does not match its "
                              "header")
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file here
        # torch's own message suggests loading untrusted code; never relay that advice
        raise CheckpointError(f"{path}: unreadable payload ({type(exc).__name__}): abmm loads "
                              "only tensors and plain data from a checkpoint") from None
    if not isinstance(payload, dict) or "kind" not in payload:
        raise CheckpointError(f"{path}: payload is not an abmm checkpoint dict")
    _validate(path, payload)
    if expect_hash is not None and payload.get("config_hash") != expect_hash:
        raise CheckpointError(
            f"{path}: written for another configuration (config hash "
            f"{str(payload.get('config_hash'))[:12]}..., this one {expect_hash[:12]}...): "
            "the scenario or the environment arguments differ")
    return payload
