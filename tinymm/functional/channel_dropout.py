"""Channel dropout: ``dropout1d`` and ``dropout2d`` zero whole channels, as PyTorch.

In training each channel (one (n, c) slice of the input) is kept with probability 1 − p
and scaled by 1/(1 − p), or zeroed entirely; in evaluation the input passes unchanged.
Whole-channel masks suit convolutional features, where neighbouring positions are
correlated and elementwise dropout barely regularises.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validation import as_tensor_arg, check_float, check_probability
from ..random import generator
from ..tensor import Tensor
from .activation import Dropout


def _channel_dropout(fn: str, x: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    p = check_probability(fn, "p", p)
    for name, v in (("training", training), ("inplace", inplace)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{fn}: {name} must be a bool, got {type(v).__name__}")
    if not training or p == 0.0:
        return x
    check_float(fn, "input", x)
    if p == 1.0:
        return x * 0.0
    lead = 2 if batched else 1  # (N, C, ...) or unbatched (C, ...)
    mask_shape = x.shape[:lead] + (1,) * (x.ndim - lead)
    keep = generator().random(mask_shape) >= p
    mask = np.broadcast_to(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)), x.shape)
    return Dropout.apply(x, mask)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of ``input`` (N, C, L) or unbatched (C, L) with probability ``p``,
    scaling the kept ones by 1/(1-p) (in training; identity with ``training=False``).

    ``inplace=True`` is accepted and computed out of place (tinymm never overwrites inputs).

    Shape: (N, C, L) or (C, L) -> the same shape.

    >>> _ = tm.manual_seed(0)
    >>> y = F.dropout1d(tm.ones(2, 8, 5), p=0.5)
    >>> y.shape, sorted(set(y.sum(dim=2).flatten().tolist())) in ([0.0, 10.0], [10.0], [0.0])
    ((2, 8, 5), True)
    """
    x = as_tensor_arg("dropout1d", "input", input)
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: input must be 2-D (C, L) or 3-D (N, C, L), got shape "
                         f"{x.shape}")
    return _channel_dropout("dropout1d", x, p, training, inplace, batched=x.ndim == 3)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of ``input`` (N, C, H, W) or unbatched (C, H, W) with probability ``p``,
    scaling the kept ones by 1/(1-p) (in training; identity with ``training=False``).

    As PyTorch today, a 3-D input is treated as (N, C, L) (1-D channel dropout) with a
    warning; use ``dropout1d`` for that.

    Shape: (N, C, H, W) or (C, H, W) -> the same shape.

    >>> _ = tm.manual_seed(0)
    >>> y = F.dropout2d(tm.ones(2, 8, 3, 3), p=0.5)
    >>> y.shape, sorted(set(y.sum(dim=(2, 3)).flatten().tolist())) in ([0.0, 18.0], [18.0], [0.0])
    ((2, 8, 3, 3), True)
    """
    x = as_tensor_arg("dropout2d", "input", input)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: input must be 3-D (C, H, W) or 4-D (N, C, H, W), got "
                         f"shape {x.shape}")
    if x.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input and, as PyTorch, treats it as (N, C, L) "
                      "with channel-wise 1-D dropout; use dropout1d for that", UserWarning,
                      stacklevel=2)
    return _channel_dropout("dropout2d", x, p, training, inplace, batched=True)
