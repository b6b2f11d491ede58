"""PyTorch twins of tinymm's multimodal models, for the model-level benchmark cases.

``torch_twin(tm_model)`` walks a tinymm model and builds the same network in PyTorch, with
the same module tree and therefore the same ``state_dict`` keys, so one set of seeded weights
loads into both. Standard layers are translated from their PyTorch-named attributes
(``in_channels``, ``hidden_size``, ...); tinymm's own model classes (encoders, concat fusion,
classifier) have small twins below whose forward passes repeat tinymm's, for batches in
which every modality is present. Anything else raises ``NotImplementedError`` (the case is
then reported as unavailable, not silently different).
"""

from __future__ import annotations


def _leaf(m, tnn):
    """The torch layer equal to tinymm layer ``m`` (a standard PyTorch-named layer)."""
    kind = type(m).__name__
    bias = getattr(m, "bias", None) is not None
    if kind == "Linear":
        return tnn.Linear(m.in_features, m.out_features, bias=bias)
    if kind in ("Conv1d", "Conv2d"):
        return getattr(tnn, kind)(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride,
                                  padding=m.padding, dilation=m.dilation, bias=bias)
    if kind in ("MaxPool1d", "MaxPool2d", "AvgPool2d"):
        return getattr(tnn, kind)(m.kernel_size, stride=m.stride, padding=m.padding)
    if kind in ("ReLU", "Tanh", "Sigmoid", "GELU", "Identity"):
        return getattr(tnn, kind)()
    if kind == "LeakyReLU":
        return tnn.LeakyReLU(m.negative_slope)
    if kind == "Dropout":
        return tnn.Dropout(m.p)
    if kind == "Flatten":
        return tnn.Flatten(getattr(m, "start_dim", 1), getattr(m, "end_dim", -1))
    if kind == "Embedding":
        return tnn.Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx)
    if kind in ("LSTM", "GRU", "RNN"):
        kwargs = dict(num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first,
                      bidirectional=m.bidirectional)
        if kind == "RNN":
            kwargs["nonlinearity"] = m.nonlinearity
        return getattr(tnn, kind)(m.input_size, m.hidden_size, **kwargs)
    if kind == "Sequential":
        return tnn.Sequential(*[translate(c) for c in m.children()])
    if kind == "ModuleDict":
        return tnn.ModuleDict({k: translate(c) for k, c in m.items()})
    if kind == "ModuleList":
        return tnn.ModuleList([translate(c) for c in m])
    raise NotImplementedError(f"torch_twin: no PyTorch twin for {kind}")


def translate(m):
    import torch

    tnn = torch.nn
    kind = type(m).__name__
    twins = _twin_classes()
    if kind in twins:
        return twins[kind].twin(m)
    return _leaf(m, tnn)


_CLASSES: dict = {}


def _twin_classes() -> dict:
    if _CLASSES:
        return _CLASSES
    import torch

    tnn = torch.nn

    class ImageEncoder(tnn.Module):
        def __init__(self, features, global_pool=False):
            super().__init__()
            self.features = features
            self.global_pool = global_pool

        @classmethod
        def twin(cls, src):
            return cls(translate(src.features), src.global_pool)

        def forward(self, x):
            y = self.features(x)
            return y.mean(dim=(2, 3)) if self.global_pool else y.flatten(1)

    class TextEncoder(tnn.Module):
        def __init__(self, embedding, rnn, padding_idx):
            super().__init__()
            self.padding_idx = padding_idx
            self.embedding = embedding
            self.rnn = rnn

        @classmethod
        def twin(cls, src):
            if src.kind == "transformer":
                raise NotImplementedError("torch_twin: transformer TextEncoder has no twin")
            return cls(translate(src.embedding), translate(src.rnn), src.padding_idx)

        def forward(self, tokens):
            x = self.embedding(tokens)
            out, _ = self.rnn(x)
            if self.padding_idx is None:
                lengths = torch.full((tokens.shape[0],), tokens.shape[1])
            else:
                lengths = (tokens != self.padding_idx).sum(dim=1)
            idx = (lengths - 1).clamp(min=0)
            return out[torch.arange(out.shape[0]), idx]

    class AudioEncoder(tnn.Module):
        def __init__(self, features, rnn):
            super().__init__()
            self.features = features
            self.rnn = rnn

        @classmethod
        def twin(cls, src):
            return cls(translate(src.features), translate(src.rnn))

        def forward(self, x):
            out, _ = self.rnn(self.features(x).transpose(1, 2))
            return out[:, -1]

    class FrameEncoder(tnn.Module):
        def __init__(self, frame, rnn):
            super().__init__()
            self.frame = frame
            self.rnn = rnn

        @classmethod
        def twin(cls, src):
            if src.temporal == "attention":
                raise NotImplementedError("torch_twin: attention FrameEncoder has no twin")
            return cls(translate(src.frame), translate(src.rnn))

        def forward(self, x):
            b, t = x.shape[:2]
            f = self.frame(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
            out, _ = self.rnn(f)
            return out[:, -1]

    class MissingEmbedding(tnn.Module):
        def __init__(self, sizes):
            super().__init__()
            for j, d in enumerate(sizes):
                self.register_parameter(f"missing_{j}", tnn.Parameter(torch.zeros(d)))

        @classmethod
        def twin(cls, src):
            return cls(src.sizes)

    class ConcatFusion(tnn.Module):
        # every modality present: the learned "missing" vectors are not used
        def __init__(self, sizes):
            super().__init__()
            self.missing = MissingEmbedding(sizes)

        @classmethod
        def twin(cls, src):
            return cls(src.missing.sizes)

        def forward(self, feats):
            return feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)

    class MultimodalClassifier(tnn.Module):
        def __init__(self, encoders, fusion, head):
            super().__init__()
            self.modalities = tuple(encoders)
            self.encoders = tnn.ModuleDict(encoders)
            self.fusion = fusion
            self.head = head

        @classmethod
        def twin(cls, src):
            if src.modality_dropout:
                raise NotImplementedError("torch_twin: modality dropout is random; build the "
                                          "model with modality_dropout=0")
            return cls({m: translate(src.encoders[m]) for m in src.modalities},
                       translate(src.fusion), translate(src.head))

        def forward(self, inputs):
            return self.head(self.fusion([self.encoders[m](inputs[m]) for m in self.modalities]))

    _CLASSES.update({c.__name__: c for c in (ImageEncoder, TextEncoder, AudioEncoder,
                                             FrameEncoder, MissingEmbedding, ConcatFusion,
                                             MultimodalClassifier)})
    return _CLASSES


def torch_twin(tm_model):
    """A torch.nn.Module computing what ``tm_model`` computes, with the same state_dict keys."""
    return translate(tm_model)


def seed_model_twin(num_classes: int = 10, image_size: int = 32, vocab_size: int = 10000,
                    embed_dim: int = 128, lstm_units: int = 128, channels=(64, 128, 256),
                    dense: int = 1024, in_channels: int = 3):
    """The seed's model in PyTorch, built directly (as ``tinymm.models.seed_model`` builds it:
    valid 3x3 convs + ReLU + MaxPool(2), Flatten; Embedding(padding_idx=0) + LSTM, last
    hidden state; concat; Linear(dense) + ReLU + Linear(num_classes))."""
    import torch

    tnn = torch.nn
    c = _twin_classes()
    layers, prev, s = [], in_channels, image_size
    for ch in channels:
        layers += [tnn.Conv2d(prev, ch, 3), tnn.ReLU(), tnn.MaxPool2d(2)]
        prev, s = ch, (s - 2) // 2
    image = c["ImageEncoder"](tnn.Sequential(*layers))
    text = c["TextEncoder"](tnn.Embedding(vocab_size, embed_dim, padding_idx=0),
                            tnn.LSTM(embed_dim, lstm_units, batch_first=True), 0)
    sizes = (prev * s * s, lstm_units)
    head = tnn.Sequential(tnn.Linear(sum(sizes), dense), tnn.ReLU(), tnn.Linear(dense, num_classes))
    return c["MultimodalClassifier"]({"image": image, "text": text}, c["ConcatFusion"](sizes), head)
