"""Weights both ways between tinymm and PyTorch: ``tm.from_torch(m)`` and ``Module.to_torch()``.

Every tinymm layer with a PyTorch twin shares its class name, constructor arguments,
attribute names and ``state_dict`` layout (the API contract), so converting a module is:
read the constructor arguments from the source module's attributes, build the twin, cast it
to the source's dtype, copy the ``state_dict`` (parameters and buffers) and the train/eval
flag. ``TWINS`` is the table of those conversions: a new layer adds one ``Twin`` entry.

- Containers (``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``) convert
  child by child.
- A module with no twin (a user's own model, e.g. ``tinymm.models.seed_model(...)``, or a
  custom ``torch.nn.Module``) becomes a *mirror*: a module of the other library holding the
  converted children, parameters and buffers under the same names (so ``state_dict`` keys
  match and each converted child runs), but whose own ``forward`` is not translated: it
  raises ``NotImplementedError``. Converting a mirror back rebuilds the original module,
  with the weights the mirror holds now.
- A layer of either library's ``nn`` namespace that has no entry raises ``TypeError``.

``torch`` is imported only when a conversion runs; without it an ``ImportError`` says what
to install.

    >>> import tinymm as tm
    >>> lin = tm.nn.Linear(3, 2)
    >>> twin = lin.to_torch()                                 # doctest: +SKIP
    >>> back = tm.from_torch(twin)                            # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import nn

__all__ = ["from_torch", "to_torch", "Twin", "TWINS", "register_twin"]


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("tinymm.interop needs PyTorch: install it with "
                          "`pip install tinymm[torch]` (or `pip install torch`)") from None
    return torch


@dataclass(frozen=True)
class Twin:
    """How one layer converts: ``args`` are constructor arguments read from the attribute of
    the same name on either side; ``derived(module)`` returns the others (it sees a tinymm or
    a torch module and must read only what both have); ``build(cls, kwargs, convert)``
    replaces ``cls(**kwargs)`` for layers whose constructor takes submodules."""

    name: str
    args: tuple[str, ...] = ()
    derived: Callable[[object], dict] | None = None
    build: Callable | None = None
    # the tinymm class, when it does not live in tinymm.nn under ``name``
    tinymm_cls: type | None = field(default=None, compare=False)

    def kwargs(self, module) -> dict:
        out = {a: _plain(getattr(module, a)) for a in self.args}
        if self.derived is not None:
            out.update(self.derived(module))
        return out


def _plain(value):
    """Tuples/lists stay tuples, torch.Size too; everything else as is."""
    return tuple(value) if isinstance(value, (tuple, list)) else value


def _has_bias(attr: str = "bias") -> Callable[[object], dict]:
    return lambda m: {"bias": getattr(m, attr, None) is not None}


def _activation_name(layer) -> str:
    """``"relu"``/``"gelu"`` of a TransformerEncoderLayer on either side."""
    name = getattr(layer.activation, "__name__", None)
    if name in ("relu", "gelu"):
        return name
    raise TypeError(f"interop: {type(layer).__name__} with activation {layer.activation!r} "
                    "cannot be converted (only 'relu' and 'gelu' can)")


def _encoder_layer_kwargs(m) -> dict:
    """TransformerEncoderLayer/DecoderLayer arguments, read from their submodules."""
    return {"d_model": m.self_attn.embed_dim, "nhead": m.self_attn.num_heads,
            "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p,
            "activation": _activation_name(m), "layer_norm_eps": m.norm1.eps,
            "batch_first": m.self_attn.batch_first, "norm_first": m.norm_first,
            "bias": m.linear1.bias is not None}


def _mha_kwargs(m) -> dict:
    if getattr(m, "bias_k", None) is not None or getattr(m, "kdim", m.embed_dim) != m.embed_dim \
            or getattr(m, "vdim", m.embed_dim) != m.embed_dim:
        raise TypeError("interop: MultiheadAttention with add_bias_kv or kdim/vdim != embed_dim "
                        "has no tinymm twin")
    return {"bias": m.in_proj_bias is not None}


def _build_stack(cls, kwargs, convert, source):
    """TransformerEncoder/Decoder(layer, num_layers, norm=None): the first layer and the norm
    are converted (the constructor's copies of the layer are overwritten by the state_dict)."""
    layer = convert(source.layers[0])
    norm = None if source.norm is None else convert(source.norm)
    extra = ({"enable_nested_tensor": False}
             if cls.__module__.startswith("torch") and cls.__name__ == "TransformerEncoder"
             else {})
    return cls(layer, len(source.layers), norm=norm, **extra)


def _conv_args(m) -> dict:
    return {"bias": m.bias is not None}


_RNN_ARGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
             "bidirectional")
_POOL_ARGS = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
_CONV_ARGS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "groups", "padding_mode")

TWINS: dict[str, Twin] = {}


def register_twin(twin: Twin) -> Twin:
    """Add (or replace) one layer's conversion in ``TWINS``."""
    TWINS[twin.name] = twin
    return twin


for _twin in (
    Twin("Linear", ("in_features", "out_features"), _has_bias()),
    Twin("Bilinear", ("in1_features", "in2_features", "out_features"), _has_bias()),
    Twin("Identity"),
    Twin("Flatten", ("start_dim", "end_dim")),
    Twin("Unflatten", ("dim", "unflattened_size")),
    Twin("Conv1d", _CONV_ARGS, _conv_args),
    Twin("Conv2d", _CONV_ARGS, _conv_args),
    Twin("ConvTranspose1d", _CONV_ARGS + ("output_padding",), _conv_args),
    Twin("ConvTranspose2d", _CONV_ARGS + ("output_padding",), _conv_args),
    Twin("MaxPool1d", _POOL_ARGS),
    Twin("MaxPool2d", _POOL_ARGS),
    Twin("AvgPool2d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                       "divisor_override")),
    Twin("AdaptiveAvgPool2d", ("output_size",)),
    Twin("Upsample", ("size", "scale_factor", "mode", "align_corners",
                      "recompute_scale_factor")),
    Twin("ReLU"), Twin("Tanh"), Twin("Sigmoid"),
    Twin("GELU", ("approximate",)),
    Twin("Softmax", ("dim",)), Twin("LogSoftmax", ("dim",)),
    Twin("Dropout", ("p",)),
    Twin("Embedding", ("num_embeddings", "embedding_dim", "padding_idx")),
    Twin("LayerNorm", ("normalized_shape", "eps", "elementwise_affine"),
         lambda m: {"bias": getattr(m, "bias", None) is not None or not m.elementwise_affine}),
    Twin("RNN", _RNN_ARGS + ("nonlinearity",)),
    Twin("LSTM", _RNN_ARGS + ("proj_size",)),
    Twin("GRU", _RNN_ARGS),
    Twin("MultiheadAttention", ("embed_dim", "num_heads", "dropout", "batch_first"), _mha_kwargs),
    Twin("TransformerEncoderLayer", derived=_encoder_layer_kwargs),
    Twin("TransformerEncoder", build=_build_stack),
    Twin("TransformerDecoderLayer", derived=_encoder_layer_kwargs),
    Twin("TransformerDecoder", build=_build_stack),
    Twin("CrossEntropyLoss", ("reduction", "label_smoothing", "ignore_index")),
    Twin("MSELoss", ("reduction",)),
    Twin("BCEWithLogitsLoss", ("reduction",)),
    Twin("BCELoss", ("reduction",)), Twin("L1Loss", ("reduction",)),
    Twin("NLLLoss", ("ignore_index", "reduction")),
    Twin("SmoothL1Loss", ("reduction", "beta")), Twin("HuberLoss", ("reduction", "delta")),
    Twin("KLDivLoss", ("reduction", "log_target")),
    Twin("CosineEmbeddingLoss", ("margin", "reduction")),
    Twin("Dropout1d", ("p",)), Twin("Dropout2d", ("p",)),
    # layers that other branches add; an entry whose class is missing on a side is skipped
    Twin("BatchNorm1d", ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    Twin("BatchNorm2d", ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    Twin("GroupNorm", ("num_groups", "num_channels", "eps", "affine")),
    Twin("LeakyReLU", ("negative_slope",)), Twin("ELU", ("alpha",)), Twin("SiLU"),
    Twin("Softplus", ("beta", "threshold")), Twin("Mish"),
    Twin("Hardtanh", ("min_val", "max_val")),
):
    register_twin(_twin)

_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


# ---------------------------------------------------------------------------------------
# moving arrays


def _dtype_of(module, torch=None):
    """The floating dtype of the first state_dict entry (as a NumPy dtype), or None."""
    values = module.state_dict().values()
    arrays = (v.detach().numpy() if torch is not None else v for v in values)
    return next((a.dtype for a in arrays if a.dtype.kind == "f"), None)


def _copy_modes(source, target) -> None:
    """Each submodule's train/eval flag, by name (both sides name submodules alike)."""
    flags = {name: m.training for name, m in source.named_modules()}
    for name, m in target.named_modules():
        if name in flags:
            m.training = flags[name]


def _numpy_state(torch_module) -> dict:
    """The module's own state_dict as NumPy arrays (copies)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in torch_module.state_dict().items()}


def _torch_state(torch, module) -> dict:
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in module.state_dict().items()}


# ---------------------------------------------------------------------------------------
# tinymm -> torch


def _torch_mirror_cls(torch):
    class TinymmMirror(torch.nn.Module):
        """A tinymm module without a PyTorch twin: its children, parameters and buffers,
        converted, under the same names; ``forward`` is not translated."""

        def __init__(self, template):
            super().__init__()
            self.tinymm_template = template  # a copy of the tinymm module, for from_torch
            self.tinymm_class = type(template).__name__

        def forward(self, *args, **kwargs):
            raise NotImplementedError(
                f"to_torch: {self.tinymm_class} has no PyTorch twin; its submodules and "
                "weights were converted (same state_dict keys), but its forward was not. "
                "Call the converted submodules, or tm.from_torch(this) to get the tinymm "
                "module back with these weights")

    return TinymmMirror


def to_torch(module):
    """The PyTorch twin of a tinymm module, with the same weights, buffers and train/eval
    mode (see the module docstring for containers and modules without a twin)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"to_torch: expected a tinymm nn.Module, got {type(module).__name__}")
    torch = _torch()
    return _to_torch(torch, module)


def _to_torch(torch, module):
    name = type(module).__name__
    convert = lambda m: _to_torch(torch, m)  # noqa: E731
    twin = TWINS.get(name)
    if twin is not None and getattr(nn, name, None) is type(module):
        cls = getattr(torch.nn, name, None)
        if cls is None:
            raise TypeError(f"to_torch: torch.nn has no {name} in this PyTorch version")
        out = (twin.build(cls, None, convert, module) if twin.build is not None
               else cls(**twin.kwargs(module)))
        dtype = _dtype_of(module)
        if dtype is not None:
            out = out.to(torch.from_numpy(np.zeros(0, dtype)).dtype)
        if module.state_dict():
            out.load_state_dict(_torch_state(torch, module))
    elif name in _CONTAINERS and getattr(nn, name, None) is type(module):
        children = {k: convert(m) for k, m in module._modules.items()}
        cls = getattr(torch.nn, name)
        out = (cls(*children.values()) if name == "ModuleList" else
               cls(children) if name == "ModuleDict" else cls(__import__("collections")
                                                                .OrderedDict(children)))
    elif name == "ParameterList" and type(module) is getattr(nn, name, None):
        out = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(p.data.copy()),
                                                         requires_grad=p.requires_grad)
                                      for p in module])
    elif type(module).__module__.startswith("tinymm.nn"):
        raise TypeError(f"to_torch: no PyTorch twin is registered for tinymm.nn.{name} "
                        "(tinymm.interop.TWINS lists the convertible layers)")
    else:
        out = _torch_mirror_cls(torch)(copy.deepcopy(module))
        for k, p in module._parameters.items():
            out.register_parameter(k, None if p is None else torch.nn.Parameter(
                torch.from_numpy(p.data.copy()), requires_grad=p.requires_grad))
        for k, b in module._buffers.items():
            out.register_buffer(k, None if b is None else torch.from_numpy(np.array(b)),
                                persistent=k not in module._non_persistent)
        for k, m in module._modules.items():
            out.add_module(k, None if m is None else convert(m))
    _copy_modes(module, out)
    return out


# ---------------------------------------------------------------------------------------
# torch -> tinymm


class TorchMirror(nn.Module):
    """A PyTorch module without a tinymm twin: its children, parameters and buffers,
    converted, under the same names; ``forward`` is not translated."""

    def __init__(self, torch_class: str):
        super().__init__()
        self.torch_class = torch_class

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"from_torch: {self.torch_class} has no tinymm twin; its submodules and weights "
            "were converted (same state_dict keys), but its forward was not. Call the "
            "converted submodules, or define the model in tinymm and load_state_dict")


def from_torch(torch_module):
    """The tinymm twin of a PyTorch module, with the same weights, buffers and train/eval
    mode; a ``to_torch`` mirror comes back as the tinymm module it was made from."""
    torch = _torch()
    if not isinstance(torch_module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, "
                        f"got {type(torch_module).__name__}")
    return _from_torch(torch, torch_module)


def _from_torch(torch, module):
    name = type(module).__name__
    convert = lambda m: _from_torch(torch, m)  # noqa: E731
    twin = TWINS.get(name)
    if twin is not None and getattr(torch.nn, name, None) is type(module):
        cls = twin.tinymm_cls or getattr(nn, name, None)
        if cls is None:
            raise TypeError(f"from_torch: tinymm has no nn.{name} yet")
        out = (twin.build(cls, None, convert, module) if twin.build is not None
               else cls(**twin.kwargs(module)))
        dtype = _dtype_of(module, torch)
        if dtype is not None:
            out.to(dtype)
        state = _numpy_state(module)
        if state:
            out.load_state_dict(state)
    elif name in _CONTAINERS and getattr(torch.nn, name, None) is type(module):
        children = {k: convert(m) for k, m in module._modules.items()}
        cls = getattr(nn, name)
        out = (cls(list(children.values())) if name == "ModuleList" else
               cls(children) if name == "ModuleDict" else cls(
                   __import__("collections").OrderedDict(children)))
    elif name == "ParameterList" and type(module) is torch.nn.ParameterList:
        out = nn.ParameterList([nn.Parameter(p.detach().cpu().numpy().copy(),
                                             requires_grad=p.requires_grad) for p in module])
    elif hasattr(module, "tinymm_template"):  # a to_torch mirror: back to the original
        out = copy.deepcopy(module.tinymm_template)
        out.load_state_dict(_numpy_state(module))
        _copy_modes(module, out)
    elif type(module).__module__.startswith("torch.nn"):
        raise TypeError(f"from_torch: no tinymm twin is registered for torch.nn.{name} "
                        "(tinymm.interop.TWINS lists the convertible layers)")
    else:
        out = TorchMirror(type(module).__name__)
        for k, p in module._parameters.items():
            out.register_parameter(k, None if p is None else nn.Parameter(
                p.detach().cpu().numpy().copy(), requires_grad=p.requires_grad))
        for k, b in module._buffers.items():
            out.register_buffer(k, None if b is None else b.detach().cpu().numpy().copy(),
                                persistent=k not in module._non_persistent_buffers_set)
        for k, m in module._modules.items():
            out.register_module(k, None if m is None else convert(m))
    _copy_modes(module, out)
    return out
