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
import os
import struct
from pathlib import Path

import numpy as np
import torch

from abmm.errors import AbmmError

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(_to_saveable(payload), buf)
    data = buf.getvalue()
    head = _HEAD.pack(MAGIC, VERSION, len(data), hashlib.sha256(data).digest())
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load(path, expect_hash: str | None = None, map_location="cpu") -> dict:
    """Read and verify a checkpoint (see the module docstring for the errors)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    raw = path.read_bytes()
    if len(raw) < _HEAD.size or raw[:8] != MAGIC:
        raise CheckpointError(f"{path}: not an abmm checkpoint (no {MAGIC!r} header; "
                              f"{len(raw)} bytes)")
    _, version, n, digest = _HEAD.unpack(raw[:_HEAD.size])
    if version > VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this abmm "
                              f"reads ({VERSION}); upgrade abmm")
    data = raw[_HEAD.size:]
    if len(data) != n:
        raise CheckpointError(f"{path}: truncated or padded: the header says {n} payload "
                              f"bytes, the file has {len(data)}")
    if hashlib.sha256(data).digest() != digest:
        raise CheckpointError(f"{path}: corrupt: the payload's SHA-256 does not match its "
                              "header")
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file here
        raise CheckpointError(f"{path}: unreadable payload ({type(exc).__name__}: {exc})") \
            from None
    if not isinstance(payload, dict) or "kind" not in payload:
        raise CheckpointError(f"{path}: payload is not an abmm checkpoint dict")
    if expect_hash is not None and payload.get("config_hash") != expect_hash:
        raise CheckpointError(
            f"{path}: written for another configuration (config hash "
            f"{str(payload.get('config_hash'))[:12]}..., this one {expect_hash[:12]}...): "
            "the scenario or the environment arguments differ")
    return payload
