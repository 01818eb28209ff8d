"""Sequence encoders in numpy: a policy that reads a *window* of its last ``W`` observations
(``W x F``: a price history, the top-N book levels over time) through a 1-D convolution or a
GRU before its MLP head, and the per-agent observation history that feeds it.

Torch-free and float32, like ``abmm.policy.numpy_net``; ``abmm.learn.nets`` holds the torch
modules these reproduce (to float32 rounding, ~1e-6). An encoder is described by a small
``spec`` dict (what a training config's ``encoder`` key, a network spec and a policy file
hold) and its arrays in torch's layout:

``{"type": "conv1d", "window": W, "channels": [C1, C2, ...], "kernel": K}``
    ``len(channels)`` valid (unpadded, stride 1) convolutions over time with the ``F``
    features as input channels, each followed by a ReLU; the last one's output ``(W', C)``
    with ``W' = W - len(channels) (K - 1)`` is flattened time-major (index ``t * C + c``)
    into the head's input (``W' * C`` values). Arrays ``conv/I/w`` ``(C_out, C_in, K)`` and
    ``conv/I/b`` ``(C_out,)`` (``torch.nn.Conv1d``'s weight and bias).
``{"type": "gru", "window": W, "hidden": H, "layers": L}``
    an ``L``-layer GRU (``torch.nn.GRU``, gates ``r, z, n``) run over the window from a zero
    state, oldest observation first; the last layer's final hidden state (``H`` values) is the
    head's input. Arrays ``gru/I/w_ih`` ``(3H, F or H)``, ``gru/I/w_hh`` ``(3H, H)``,
    ``gru/I/b_ih`` and ``gru/I/b_hh`` ``(3H,)`` for each layer ``I``.
``{"type": "mlp", "window": 1}`` (or no encoder)
    the plain MLP on the latest observation: no encoder at all.

The window is the oldest observation first, the latest last, zero-padded (raw zeros, before
normalization) at an episode's start. The GRU is recomputed over the whole window at every
decision: a sliding window's GRU state cannot be carried from one decision to the next (the
window's first observation changes), so caching it would change the result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENCODER_TYPES", "MAX_WINDOW", "encoder_spec", "encoder_out_dim", "encoder_arrays",
           "Conv1dEncoder", "GRUEncoder", "build_encoder", "Windows"]

#: The encoder types a training config or a policy file may name.
ENCODER_TYPES = ("mlp", "conv1d", "gru")
#: The longest window accepted.
MAX_WINDOW = 4096
#: The widest channel count / hidden size accepted.
MAX_WIDTH = 16_384
_KEYS = {"mlp": ("type", "window"), "conv1d": ("type", "window", "channels", "kernel"),
         "gru": ("type", "window", "hidden", "layers")}
_DEFAULTS = {"conv1d": {"window": 16, "channels": [32, 32], "kernel": 3},
             "gru": {"window": 16, "hidden": 64, "layers": 1}}


def _int(v, key: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"encoder.{key}: {v!r}; expected an int from {lo} to {hi}")
    return int(v)


def encoder_spec(raw) -> dict | None:
    """The complete spec of an ``encoder`` mapping (defaults filled in), or ``None`` for the
    plain MLP (no encoder). ``ValueError`` with one line naming the key, the value and what
    was expected otherwise."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"encoder: {raw!r}; expected a mapping such as "
                         "{type: gru, window: 16}")
    kind = raw.get("type", "mlp")
    if kind not in ENCODER_TYPES:
        raise ValueError(f"encoder.type: {kind!r}; expected one of {', '.join(ENCODER_TYPES)}")
    unknown = sorted(str(k) for k in raw if k not in _KEYS[kind])
    if unknown:
        raise ValueError(f"encoder.{unknown[0]}: not a key of a {kind} encoder; expected some "
                         f"of {', '.join(_KEYS[kind])}")
    if kind == "mlp":
        w = _int(raw.get("window", 1), "window", 1, MAX_WINDOW)
        if w != 1:
            raise ValueError(f"encoder.window: {w} with type mlp; expected 1 (the MLP reads "
                             "only the latest observation: use conv1d or gru for a window)")
        return None
    spec = {"type": kind, **_DEFAULTS[kind], **{k: v for k, v in raw.items() if k != "type"}}
    spec["window"] = _int(spec["window"], "window", 1, MAX_WINDOW)
    if kind == "conv1d":
        ch = spec["channels"]
        if isinstance(ch, (int, np.integer)) and not isinstance(ch, bool):
            ch = [ch]
        if not isinstance(ch, (list, tuple)) or not ch:
            raise ValueError(f"encoder.channels: {ch!r}; expected a non-empty list of ints, "
                             "e.g. [32, 32]")
        spec["channels"] = [_int(c, "channels", 1, MAX_WIDTH) for c in ch]
        spec["kernel"] = _int(spec["kernel"], "kernel", 1, MAX_WINDOW)
        need = len(spec["channels"]) * (spec["kernel"] - 1) + 1
        if spec["window"] < need:
            raise ValueError(f"encoder.window: {spec['window']}; {len(spec['channels'])} "
                             f"convolution(s) of kernel {spec['kernel']} need a window of at "
                             f"least {need}")
    else:
        spec["hidden"] = _int(spec["hidden"], "hidden", 1, MAX_WIDTH)
        spec["layers"] = _int(spec["layers"], "layers", 1, 16)
    return spec


def encoder_out_dim(spec: dict | None, obs_dim: int) -> int:
    """The size of the encoder's output (the MLP head's input)."""
    if spec is None:
        return int(obs_dim)
    if spec["type"] == "conv1d":
        ch = spec["channels"]
        return ch[-1] * (spec["window"] - len(ch) * (spec["kernel"] - 1))
    return int(spec["hidden"])


def encoder_arrays(spec: dict, obs_dim: int) -> dict[str, tuple[int, ...]]:
    """The arrays an encoder spec declares, ``{relative key: shape}`` (torch layouts)."""
    out: dict[str, tuple[int, ...]] = {}
    if spec["type"] == "conv1d":
        c_in = int(obs_dim)
        for i, c in enumerate(spec["channels"]):
            out[f"conv/{i}/w"] = (c, c_in, spec["kernel"])
            out[f"conv/{i}/b"] = (c,)
            c_in = c
        return out
    h, f = spec["hidden"], int(obs_dim)
    for i in range(spec["layers"]):
        out[f"gru/{i}/w_ih"] = (3 * h, f if i == 0 else h)
        out[f"gru/{i}/w_hh"] = (3 * h, h)
        out[f"gru/{i}/b_ih"] = (3 * h,)
        out[f"gru/{i}/b_hh"] = (3 * h,)
    return out


def _f32(a) -> np.ndarray:
    return np.asarray(a, np.float32)


class Conv1dEncoder:
    """``(n, W, F)`` windows -> ``(n, W' * C)`` features (see the module docstring)."""

    def __init__(self, spec: dict, obs_dim: int, arrays: dict):
        self.spec, self.window, self.obs_dim = spec, int(spec["window"]), int(obs_dim)
        self.kernel = int(spec["kernel"])
        self.layers = []
        for i in range(len(spec["channels"])):
            w = _f32(arrays[f"conv/{i}/w"])  # (C_out, C_in, K)
            # rows ordered (c_in, k) as a window view (n, L, C_in, K) flattens
            self.layers.append((np.asfortranarray(w.reshape(w.shape[0], -1).T),
                                _f32(arrays[f"conv/{i}/b"])))
        self.out_dim = encoder_out_dim(spec, obs_dim)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(n, W, F)`` float32 windows -> ``(n, W' * C)`` features."""
        n = x.shape[0]
        k = self.kernel
        for w, b in self.layers:
            length = x.shape[1] - k + 1
            win = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)  # (n, L, C, K)
            # one 2-D product (a 3-D matmul would loop over the batch)
            x = (win.reshape(n * length, -1) @ w).reshape(n, length, -1)
            x += b
            np.maximum(x, 0, out=x)
        return x.reshape(n, -1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


class GRUEncoder:
    """``(n, W, F)`` windows -> ``(n, H)``: the GRU's last hidden state (see the module
    docstring)."""

    def __init__(self, spec: dict, obs_dim: int, arrays: dict):
        self.spec, self.window, self.obs_dim = spec, int(spec["window"]), int(obs_dim)
        self.hidden = h = int(spec["hidden"])
        self.layers = []
        for i in range(int(spec["layers"])):
            w_ih, w_hh = _f32(arrays[f"gru/{i}/w_ih"]), _f32(arrays[f"gru/{i}/w_hh"])
            b_ih, b_hh = _f32(arrays[f"gru/{i}/b_ih"]), _f32(arrays[f"gru/{i}/b_hh"])
            self.layers.append((np.asfortranarray(w_ih.T), np.asfortranarray(w_hh.T),
                                b_ih, b_hh))
        self.out_dim = h

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(n, W, F)`` float32 windows -> ``(n, H)`` last hidden states."""
        n, steps = x.shape[0], x.shape[1]
        h2 = 2 * self.hidden
        last = len(self.layers) - 1
        h = None
        for li, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.layers):
            # every input gate at once, as one 2-D product: (n, W, 3H)
            gi = (x.reshape(n * steps, -1) @ w_ih).reshape(n, steps, -1)
            gi += b_ih
            outs = np.empty((n, steps, self.hidden), np.float32) if li < last else None
            h = np.zeros((n, self.hidden), np.float32)
            for t in range(steps):
                gh = h @ w_hh + b_hh
                g = gi[:, t]
                rz = _sigmoid(g[:, :h2] + gh[:, :h2])
                cand = gh[:, h2:]
                cand *= rz[:, :self.hidden]
                cand += g[:, h2:]
                np.tanh(cand, out=cand)
                # h' = (1 - z) n + z h = n + z (h - n)
                h -= cand
                h *= rz[:, self.hidden:]
                h += cand
                if outs is not None:
                    outs[:, t] = h
            if outs is not None:
                x = outs
        return h


def build_encoder(spec: dict | None, obs_dim: int, arrays: dict):
    """The numpy encoder of ``spec`` with ``arrays`` (relative keys as ``encoder_arrays``
    names them); ``None`` for no encoder."""
    if spec is None:
        return None
    if spec["type"] == "conv1d":
        return Conv1dEncoder(spec, obs_dim, arrays)
    if spec["type"] == "gru":
        return GRUEncoder(spec, obs_dim, arrays)
    raise ValueError(f"unknown encoder type {spec['type']!r} (expected conv1d or gru)")


class Windows:
    """Observation histories: for each stream (an agent), its last ``window`` observations,
    oldest first, zero-padded until it has that many.

    ``push(obs)`` appends a batch (row ``i`` to stream ``i``: one policy driving ``n`` agents
    in a fixed order), ``push(obs, keys)`` to the named streams; both return the ``(n, window,
    obs_dim)`` windows after the push. ``peek`` gives a stream's window with one more
    observation without storing it, ``drop`` forgets a stream, ``clear`` all of them."""

    def __init__(self, window: int, obs_dim: int):
        self.window, self.obs_dim = int(window), int(obs_dim)
        self.rows: dict = {}
        self.buf = np.zeros((0, self.window, self.obs_dim), np.float32)
        self._free: list[int] = []
        self._used = 0  # rows handed out (free ones included)

    def __len__(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        """Forget every stream (a new episode)."""
        self.rows.clear()
        self._free.clear()
        self._used = 0
        self.buf[...] = 0  # (keeps the capacity)

    def drop(self, key) -> None:
        """Forget stream ``key`` (its episode ended)."""
        r = self.rows.pop(key, None)
        if r is not None:
            self.buf[r] = 0
            self._free.append(r)

    def _row(self, key) -> int:
        r = self.rows.get(key)
        if r is None:
            if self._free:
                r = self._free.pop()
            else:
                r = self._used
                self._used += 1
                if r == len(self.buf):  # full: double the capacity
                    grow = np.zeros((max(r, 1), self.window, self.obs_dim), np.float32)
                    self.buf = np.concatenate([self.buf, grow])
            self.rows[key] = r
        return r

    def push(self, obs: np.ndarray, keys=None) -> np.ndarray:
        """Append ``obs`` ``(n, obs_dim)`` to the streams ``keys`` (default ``0 .. n-1``);
        the windows ``(n, window, obs_dim)`` after it (a new array)."""
        obs = np.asarray(obs, np.float32)
        n = len(obs)
        if keys is None:
            if len(self.rows) != n or (n and next(reversed(self.rows)) != n - 1):
                if self.rows:
                    raise ValueError(f"a window of {len(self.rows)} stream(s) fed {n} "
                                     "observation(s): one policy per agent (fork()) or reset()")
                for i in range(n):
                    self._row(i)
            buf = self.buf[:n]
            buf[:, :-1] = buf[:, 1:]
            buf[:, -1] = obs
            return buf.copy()
        idx = np.fromiter((self._row(k) for k in keys), np.intp, n)
        w = self.buf[idx]
        w[:, :-1] = w[:, 1:]
        w[:, -1] = obs
        self.buf[idx] = w
        return w

    def peek(self, key, obs: np.ndarray) -> np.ndarray:
        """Stream ``key``'s window ``(window, obs_dim)`` had ``obs`` been pushed (not
        stored)."""
        r = self.rows.get(key)
        w = np.zeros((self.window, self.obs_dim), np.float32) if r is None \
            else self.buf[r].copy()
        w[:-1] = w[1:]
        w[-1] = obs
        return w
