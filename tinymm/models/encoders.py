"""Per-modality encoders: each maps one modality's batch to a (B, out_features) vector.

- ``ImageEncoder``: the seed's Conv -> ReLU -> MaxPool stack, then Flatten (or a global mean).
- ``TextEncoder``: Embedding + LSTM / GRU / RNN (hidden state at the last real token), or
  Embedding + positions + Transformer encoder (mean over real tokens).
- ``AudioEncoder``: Conv1d + ReLU + MaxPool1d over time, then a GRU / LSTM / RNN.
- ``FrameEncoder``: an ImageEncoder on every frame, then a GRU or a Transformer over time.
- ``VectorEncoder``: Linear + ReLU for a plain feature vector.

Every encoder has ``out_features`` (the pooled vector's size). Layers come from ``tinymm.nn``
with PyTorch's signatures.

Sequences: besides ``forward`` (the pooled vector), every encoder has
``sequence(x) -> (seq, valid)``: the token / frame / position sequence the pooled vector is
read from, ``seq`` (B, T, seq_features) and ``valid`` (B, T) bool (False at padding). It
runs the same layers as ``forward`` (so a sequence fusion and a pooled fusion train the same
encoder weights and load the same checkpoints); ``forward`` is unchanged by it.

==================  ==========================================  =========================
encoder             sequence positions T                        seq_features
==================  ==========================================  =========================
ImageEncoder        h·w cells of the last feature map           channels[-1]
TextEncoder         L tokens (valid: not padding_idx)           out_features
AudioEncoder        T' frames after pooling                     hidden_size
FrameEncoder        T video frames                              hidden_size
VectorEncoder       1                                           out_features
==================  ==========================================  =========================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import nn
from ..tensor import Tensor

RECURRENT = ("lstm", "gru", "rnn")
TEXT_KINDS = (*RECURRENT, "transformer")


def _recurrent(kind: str, input_size: int, hidden_size: int, num_layers: int = 1) -> nn.Module:
    from ..nn import recurrent

    cls = {"lstm": recurrent.LSTM, "gru": recurrent.GRU, "rnn": recurrent.RNN}[kind]
    return cls(input_size, hidden_size, num_layers=num_layers, batch_first=True)


def _check_kind(fn: str, name: str, kind: str, allowed: Sequence[str]) -> str:
    if kind not in allowed:
        raise ValueError(f"{fn}: {name} must be one of {tuple(allowed)}, got {kind!r}")
    return kind


def _last_valid(out: Tensor, lengths: np.ndarray) -> Tensor:
    """(B, T, H) sequence outputs -> (B, H): the output at step lengths-1 of each row."""
    idx = np.maximum(lengths - 1, 0)
    return out[np.arange(out.shape[0]), idx]


def _masked_mean(x: Tensor, valid: np.ndarray) -> Tensor:
    """(B, T, D) -> (B, D): mean over the positions where ``valid`` (B, T) is True."""
    w = valid.astype(x.dtype)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    return (x * w[:, :, None]).sum(dim=1)


ACTIVATIONS = ("relu", "leaky_relu")


def _activation(name: str) -> nn.Module:
    """The nonlinearity after each convolution: "relu", or "leaky_relu" (slope 0.01, PyTorch's
    default), whose features cannot die: a unit stuck below zero still passes a gradient."""
    return nn.ReLU() if name == "relu" else nn.LeakyReLU(0.01)


class ImageEncoder(nn.Module):
    """The seed's CNN: [Conv2d(k) -> ReLU -> MaxPool2d(2)] per entry of ``channels``, Flatten.

    Conv ``y(i,j) = Σ_p x(i-p+1, j-p+1) w(p)``, max pooling ``o(i,j) = max_p x(...)`` (seed §3).
    input (B, C, S, S) -> (B, channels[-1] * s * s), s the size after the last pool
    (``padding=0`` as Keras' default "valid": s_{k+1} = (s_k - kernel + 1) // 2);
    ``global_pool=True`` averages over space instead -> (B, channels[-1]).
    ``activation="leaky_relu"`` puts LeakyReLU(0.01) in place of each ReLU.

    >>> _ = tm.manual_seed(0)
    >>> enc = ImageEncoder(1, channels=(4,), image_size=8)    # 8 -> conv 6 -> pool 3
    >>> enc(tm.randn(2, 1, 8, 8)).shape, enc.out_features
    ((2, 36), 36)
    """

    def __init__(self, in_channels: int = 3, channels: Sequence[int] = (64, 128, 256),
                 image_size: int | Sequence[int] = 32, kernel_size: int = 3, padding: int = 0,
                 pool: int = 2, global_pool: bool = False, activation: str = "relu"):
        super().__init__()
        from ..nn.conv import Conv2d
        from ..nn.pool import MaxPool2d

        _check_kind("ImageEncoder", "activation", activation, ACTIVATIONS)

        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        layers: list[nn.Module] = []
        prev = in_channels
        for c in channels:
            layers += [Conv2d(prev, c, kernel_size, padding=padding),
                       _activation(activation), MaxPool2d(pool)]
            shrink = 2 * padding - kernel_size + 1  # size change of a stride-1 convolution
            h, w = (h + shrink) // pool, (w + shrink) // pool
            if h < 1 or w < 1:
                raise ValueError(f"ImageEncoder: a {image_size} image is too small for "
                                 f"{len(channels)} conv+pool stages (kernel {kernel_size}, "
                                 f"padding {padding})")
            prev = c
        self.features = nn.Sequential(*layers)
        self.global_pool = global_pool
        self.flatten = nn.Flatten()
        self.feature_shape = (prev, h, w)
        self.out_features = prev if global_pool else prev * h * w

    def forward(self, x: Tensor) -> Tensor:
        y = self.features(x)                                  # (B, C', h, w)
        return y.mean(dim=(2, 3)) if self.global_pool else self.flatten(y)

    @property
    def seq_features(self) -> int:
        return self.feature_shape[0]

    def sequence(self, x: Tensor) -> tuple[Tensor, np.ndarray]:
        """(B, C, H, W) -> the last feature map's cells (B, h·w, C') in row-major order, all valid."""
        y = self.features(x)                                  # (B, C', h, w)
        b, c = y.shape[:2]
        seq = y.reshape(b, c, -1).transpose(1, 2)             # (B, h*w, C')
        return seq, np.ones(seq.shape[:2], bool)


class TextEncoder(nn.Module):
    """Token ids (B, L) int64 -> (B, out_features).

    ``kind`` "lstm" / "gru" / "rnn": Embedding(vocab_size, embed_dim, padding_idx) and a
    recurrent layer, h_t = f(W_hh h_{t-1} + W_xh x_t + b) (seed §3); the output is the hidden
    state at the last non-padding token (the seed's "last hidden state", without the pads
    that follow a short sentence). out_features = hidden_size.

    ``kind`` "transformer": Embedding + learned positions, ``num_layers``
    TransformerEncoderLayers (padding positions masked as keys), mean over the real tokens.
    out_features = embed_dim.

    >>> _ = tm.manual_seed(0)
    >>> enc = TextEncoder(vocab_size=20, embed_dim=8, hidden_size=6)
    >>> enc(tm.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])).shape, enc.out_features   # 0 = <pad>
    ((2, 6), 6)
    """

    def __init__(self, vocab_size: int, embed_dim: int = 128, hidden_size: int = 128,
                 kind: str = "lstm", num_layers: int = 1, padding_idx: int | None = 0,
                 max_len: int = 64, num_heads: int = 4, dropout: float = 0.0):
        super().__init__()
        from ..nn.sparse import Embedding

        self.kind = _check_kind("TextEncoder", "kind", kind, TEXT_KINDS)
        self.padding_idx = padding_idx
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        if kind == "transformer":
            from ..nn.attention import TransformerEncoderLayer

            self.max_len = max_len
            self.position = nn.Parameter(np.empty((max_len, embed_dim), np.float32))
            nn.init.normal_(self.position, 0.0, 0.1)
            self.layers = nn.ModuleList([
                TransformerEncoderLayer(embed_dim, num_heads, dim_feedforward=2 * embed_dim,
                                        dropout=dropout, batch_first=True)
                for _ in range(num_layers)])
            self.out_features = embed_dim
        else:
            self.rnn = _recurrent(kind, embed_dim, hidden_size, num_layers)
            self.out_features = hidden_size

    def forward(self, tokens: Tensor) -> Tensor:
        out, valid = self._run(tokens)
        if self.kind != "transformer":
            return _last_valid(out, valid.sum(axis=1))
        return _masked_mean(out, valid)

    @property
    def seq_features(self) -> int:
        return self.out_features

    def sequence(self, tokens: Tensor) -> tuple[Tensor, np.ndarray]:
        """(B, L) ids -> per-token outputs (B, L, out_features), valid = not padding.

        Recurrent kinds: the hidden state after each token. Transformer: the last layer's
        output. A row of padding only has no valid token (the transformer's, like its
        pooled path, keeps token 0 as its one key).
        """
        return self._run(tokens)

    def _run(self, tokens: Tensor) -> tuple[Tensor, np.ndarray]:
        ids = tokens.data
        valid = np.ones(ids.shape, bool) if self.padding_idx is None else ids != self.padding_idx
        x = self.embedding(tokens)                                   # (B, L, E)
        if self.kind != "transformer":
            out, _ = self.rnn(x)                                     # (B, L, H)
            return out, valid
        if ids.shape[1] > self.max_len:
            raise ValueError(f"TextEncoder: sequences of length {ids.shape[1]} exceed "
                             f"max_len={self.max_len}")
        x = x + self.position[: ids.shape[1]]
        valid = valid.copy()
        valid[~valid.any(axis=1), 0] = True  # an all-padding row still needs one key
        pad = Tensor._wrap(~valid) if not valid.all() else None
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return x, valid


class AudioEncoder(nn.Module):
    """Audio (B, F, T) (a spectrogram, frequency as channels) -> (B, hidden_size).

    [Conv1d(k, padding k//2) -> ReLU -> MaxPool1d(2)] per entry of ``channels`` over time,
    then a recurrent layer over the pooled frames; the last hidden state is the output.
    A raw waveform (B, 1, L) gets a learned filterbank first: ``frontend=(filters, window)``
    adds Conv1d(1, filters, window, stride=window // 2) -> ReLU.

    >>> _ = tm.manual_seed(0)
    >>> enc = AudioEncoder(4, channels=(6,), hidden_size=5)   # 4 frequency bins
    >>> enc(tm.randn(2, 4, 10)).shape, enc.out_features
    ((2, 5), 5)
    """

    def __init__(self, in_channels: int, channels: Sequence[int] = (32,), kernel_size: int = 5,
                 hidden_size: int = 64, kind: str = "gru", pool: int = 2,
                 frontend: tuple[int, int] | None = None):
        super().__init__()
        from ..nn.conv import Conv1d
        from ..nn.pool import MaxPool1d

        _check_kind("AudioEncoder", "kind", kind, RECURRENT)
        layers: list[nn.Module] = []
        prev = in_channels
        if frontend is not None:
            filters, window = frontend
            layers += [Conv1d(prev, filters, window, stride=max(window // 2, 1)), nn.ReLU()]
            prev = filters
        for c in channels:
            layers += [Conv1d(prev, c, kernel_size, padding=kernel_size // 2), nn.ReLU(),
                       MaxPool1d(pool)]
            prev = c
        self.features = nn.Sequential(*layers)
        self.rnn = _recurrent(kind, prev, hidden_size)
        self.out_features = hidden_size

    def forward(self, x: Tensor) -> Tensor:
        return self.sequence(x)[0][:, -1]

    @property
    def seq_features(self) -> int:
        return self.out_features

    def sequence(self, x: Tensor) -> tuple[Tensor, np.ndarray]:
        """(B, F, T) -> the recurrent layer's output per pooled frame (B, T', H), all valid."""
        y = self.features(x).transpose(1, 2)                         # (B, T', C)
        out, _ = self.rnn(y)                                         # (B, T', H)
        return out, np.ones(out.shape[:2], bool)


class FrameEncoder(nn.Module):
    """Video frames (B, T, C, H, W) -> (B, out_features).

    Each frame goes through one shared ImageEncoder (B*T, C, H, W) -> (B*T, D); then over time
    ``temporal="gru"`` (last hidden state, out_features = hidden_size) or ``"attention"``
    (Linear to hidden_size + learned positions, a TransformerEncoderLayer, mean over time).
    activation: the frame CNN's nonlinearity, as ImageEncoder's.

    >>> _ = tm.manual_seed(0)
    >>> enc = FrameEncoder((1, 8, 8), channels=(4,), hidden_size=5)
    >>> enc(tm.randn(2, 3, 1, 8, 8)).shape, enc.out_features  # 2 clips of 3 frames
    ((2, 5), 5)
    """

    def __init__(self, frame_shape: Sequence[int], channels: Sequence[int] = (16, 32),
                 hidden_size: int = 64, temporal: str = "gru", max_frames: int = 64,
                 num_heads: int = 4, kernel_size: int = 3, padding: int = 1,
                 activation: str = "relu"):
        super().__init__()
        c, h, w = frame_shape
        _check_kind("FrameEncoder", "activation", activation, ACTIVATIONS)
        self.temporal = _check_kind("FrameEncoder", "temporal", temporal,
                                    (*RECURRENT, "attention"))
        self.frame = ImageEncoder(c, channels, (h, w), kernel_size=kernel_size, padding=padding,
                                  activation=activation)
        d = self.frame.out_features
        if temporal == "attention":
            from ..nn.attention import TransformerEncoderLayer

            self.proj = nn.Linear(d, hidden_size)
            self.position = nn.Parameter(np.empty((max_frames, hidden_size), np.float32))
            nn.init.normal_(self.position, 0.0, 0.1)
            self.attn = TransformerEncoderLayer(hidden_size, num_heads,
                                                dim_feedforward=2 * hidden_size, dropout=0.0,
                                                batch_first=True)
        else:
            self.rnn = _recurrent(temporal, d, hidden_size)
        self.out_features = hidden_size

    def forward(self, x: Tensor) -> Tensor:
        y = self.sequence(x)[0]
        return y.mean(dim=1) if self.temporal == "attention" else y[:, -1]

    @property
    def seq_features(self) -> int:
        return self.out_features

    def sequence(self, x: Tensor) -> tuple[Tensor, np.ndarray]:
        """(B, T, C, H, W) -> one vector per frame after the temporal layer (B, T, H), all valid."""
        b, t = x.shape[:2]
        f = self.frame(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)  # (B, T, D)
        if self.temporal == "attention":
            y = self.attn(self.proj(f) + self.position[:t])
        else:
            y, _ = self.rnn(f)
        return y, np.ones(y.shape[:2], bool)


class VectorEncoder(nn.Sequential):
    """A feature vector (B, D) -> Linear(D, hidden) + ReLU -> (B, hidden).

    >>> enc = VectorEncoder(5, 7)
    >>> enc(tm.zeros(2, 5)).shape, enc.out_features
    ((2, 7), 7)

    A Sequential (state-dict keys ``0.weight``, ``0.bias``, as before it had a class);
    its sequence is the one pooled vector, (B, 1, hidden).
    """

    def __init__(self, in_features: int, hidden: int):
        super().__init__(nn.Linear(in_features, hidden), nn.ReLU())
        self.out_features = hidden

    @property
    def seq_features(self) -> int:
        return self.out_features

    def sequence(self, x: Tensor) -> tuple[Tensor, np.ndarray]:
        y = self(x)
        return y.reshape(y.shape[0], 1, -1), np.ones((y.shape[0], 1), bool)


__all__ = ["ImageEncoder", "TextEncoder", "AudioEncoder", "FrameEncoder", "VectorEncoder"]
