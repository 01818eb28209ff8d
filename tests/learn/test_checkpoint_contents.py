"""Checkpoints with a valid header but bad contents are refused with a clear error that names
the file and what is wrong (issue 13), before anything acts on them."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch

from abmm.learn import checkpoint as ckpt
from abmm.learn.checkpoint import CheckpointError


def _training(**changes) -> dict:
    p = {"kind": "training", "algo": "ppo", "config": {}, "config_hash": "h", "env": {},
         "learners": {"mm_0": {"policy": {"spec": {"hidden": [64, 64]},
                                          "weights": {"w": torch.zeros(3)}}}},
         "update": 3, "history": []}
    p.update(changes)
    return {k: v for k, v in p.items() if v is not None}


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


CASES = [
    (_training(update=None), "without ['update']"),
    (_training(update=-5), "'update' is -5; expected an int >= 0"),
    (_training(learners={}), "'learners' must be a non-empty mapping"),
    (_training(learners={"mm_0": {"policy": {"spec": {"hidden": [200_000, 200_000]}}}}),
     "expected layer sizes between 1 and 16384"),
    (_training(learners={"mm_0": {"w": torch.tensor([0.0, float("nan")])}}),
     "learners.mm_0.w holds NaN or infinite values"),
    (_training(env={"policy_config": {"decision_ns": 0}}), "decision_ns is 0"),
    ({"kind": "policy", "env": {}, "config_hash": "h"}, "without ['policies']"),
]


@pytest.mark.parametrize("payload,fragment", CASES)
def test_bad_contents_are_refused(tmp_path, payload, fragment):
    path = ckpt.save(tmp_path / "c.pt", payload)
    with pytest.raises(CheckpointError, match="c.pt") as err:
        ckpt.load(path)
    assert fragment in str(err.value)


def test_a_good_payload_loads(tmp_path):
    assert ckpt.load(ckpt.save(tmp_path / "c.pt", _training()))["update"] == 3


def test_a_pickled_object_is_refused_without_torchs_unsafe_advice(tmp_path):
    buf = io.BytesIO()
    torch.save({"kind": "training", "evil": _Evil()}, buf)
    data = buf.getvalue()
    head = ckpt._HEAD.pack(ckpt.MAGIC, ckpt.VERSION, len(data), hashlib.sha256(data).digest())
    (tmp_path / "evil.pt").write_bytes(head + data)
    with pytest.raises(CheckpointError, match="only tensors and plain data") as err:
        ckpt.load(tmp_path / "evil.pt")
    assert "weights_only" not in str(err.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    n = ckpt.MAX_BYTES + 1
    path = tmp_path / "huge.pt"
    with open(path, "wb") as f:
        f.write(ckpt._HEAD.pack(ckpt.MAGIC, ckpt.VERSION, n, b"\0" * 32))
        f.truncate(ckpt._HEAD.size + n)  # sparse: no disk used
    reads = []
    real_open = open

    def spy(file, mode="r", *a, **k):
        fh = real_open(file, mode, *a, **k)
        if str(file) == str(path):
            real_read = fh.read
            fh_read = lambda size=-1: reads.append(size) or real_read(size)  # noqa: E731
            fh.read = fh_read
        return fh

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(CheckpointError, match="MiB of payload"):
        ckpt.load(path)
    assert reads == [ckpt._HEAD.size]  # only the header was read
