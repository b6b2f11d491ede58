"""Normalisation layers: ``LayerNorm``, ``BatchNorm1d``/``BatchNorm2d`` (running statistics as
buffers) and ``GroupNorm``."""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_alloc, check_positive_int
from ..functional.norm import _normalized_shape, batch_norm, group_norm, layer_norm
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


def _affine_parameters(module, affine: bool, bias: bool, shape, dtype) -> None:
    """``weight`` (and ``bias`` unless ``bias=False``) of ``shape``, or both None without
    ``affine``, as PyTorch's normalisation layers register them (values set by
    ``reset_parameters``)."""
    if affine:
        module.weight = Parameter(np.empty(shape, dtype))
        if bias:
            module.bias = Parameter(np.empty(shape, dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)

class LayerNorm(Module):
    """y = (x − μ) / √(σ² + eps) ⊙ weight + bias over the trailing ``normalized_shape`` dims.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape`` and exist when
    ``elementwise_affine`` (``bias`` only if ``bias=True``), as PyTorch.

    >>> import tinymm as tm
    >>> LayerNorm(8)(tm.randn(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None):
        super().__init__()
        try:
            shape = _normalized_shape(normalized_shape)
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc).replace("layer_norm:", "LayerNorm:", 1)) from None
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be a non-negative float, got {eps!r}")
        self.normalized_shape = shape
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = np.dtype(dtype or np.float32)
        check_alloc("LayerNorm", "weight", shape, dt)
        _affine_parameters(self, self.elementwise_affine, bias, shape, dt)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):  # noqa: A002
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


def _features(cls: str, name: str, value) -> int:
    return check_positive_int(cls, name, value)


class _BatchNorm(Module):
    """Batch normalisation with PyTorch's parameters, buffers and train/eval behaviour.

    ``weight`` (ones) and ``bias`` (zeros) of shape (num_features,) exist when ``affine``;
    the buffers ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``
    (int64, 0-d) when ``track_running_stats``, all in the state dict under PyTorch's names.
    In training, batch statistics normalise and update the running ones with ``momentum``
    (``momentum=None``: a cumulative average, factor 1/num_batches_tracked); in eval the
    running statistics normalise, or the batch's if they are not tracked.
    """

    _expected_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.num_features = _features(name, "num_features", num_features)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"{name}: eps must be a non-negative float, got {eps!r}")
        if momentum is not None and (isinstance(momentum, bool)
                                     or not isinstance(momentum, numbers.Real)):
            raise TypeError(f"{name}: momentum must be a float or None, got {momentum!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = np.dtype(dtype or np.float32)
        check_alloc(name, "the parameters", (4, self.num_features), dt)
        _affine_parameters(self, self.affine, bias, num_features, dt)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dt))
            self.register_buffer("running_var", np.ones(num_features, dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):  # noqa: A002
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in self._expected_dims:
            want = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{name}: expected {want} input, got {input.ndim}D input of "
                             f"shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input with {self.num_features} channels "
                             f"(dim 1), got shape {input.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1  # in place: the state dict shares this array
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats  # buffers to read or update
        return batch_norm(input, self.running_mean if keep else None,
                          self.running_var if keep else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C
    (:func:`tinymm.functional.batch_norm`): batch statistics in training, updating the
    running mean and variance; the running statistics in eval mode. Output has the input's shape.

    >>> bn = nn.BatchNorm1d(3)
    >>> y = bn(tm.randn(8, 3))
    >>> y.shape, y.mean(dim=0).abs().max().item() < 1e-5
    ((8, 3), True)
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C (:func:`tinymm.functional.batch_norm`):
    batch statistics in training, the running statistics in eval mode. Output has the input's shape.

    >>> bn = nn.BatchNorm2d(4)
    >>> bn(tm.randn(2, 4, 5, 5)).shape, bn.running_mean.shape
    ((2, 4, 5, 5), (4,))
    """

    _expected_dims = (4,)


class GroupNorm(Module):
    """Group normalisation of (N, C, *) inputs: ``num_channels`` in ``num_groups`` groups,
    then a per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``
    (:func:`tinymm.functional.group_norm`). Output has the input's shape.

    >>> nn.GroupNorm(2, 6)(tm.randn(3, 6, 4)).shape
    (3, 6, 4)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_groups = _features("GroupNorm", "num_groups", num_groups)
        self.num_channels = _features("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"GroupNorm: eps must be a non-negative float, got {eps!r}")
        self.eps = float(eps)
        self.affine = bool(affine)
        dt = np.dtype(dtype or np.float32)
        check_alloc("GroupNorm", "the parameters", (2, self.num_channels), dt)
        _affine_parameters(self, self.affine, bias, num_channels, dt)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):  # noqa: A002
        if isinstance(input, Tensor) and input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input with {self.num_channels} channels "
                             f"(dim 1), got shape {input.shape}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
