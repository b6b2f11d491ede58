"""Weight initialisation with PyTorch's formulas, drawing from tinymm's seeded generator.

Each function fills ``tensor.data`` in place (keeping its dtype) and returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from ..random import generator
from ..tensor import Tensor


def _check(fn: str, tensor) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: tensor must be a Tensor, got {type(tensor).__name__}")
    return tensor


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.dtype, copy=False)
    tensor._bump_version()
    return tensor


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """fan_in = size(1)·receptive field, fan_out = size(0)·receptive field."""
    _check("_calculate_fan_in_and_fan_out", tensor)
    if tensor.ndim < 2:
        raise ValueError("_calculate_fan_in_and_fan_out: fan in and fan out need a tensor of "
                         f"at least 2 dims, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh,
    √2 for relu, √(2 / (1 + slope²)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu.

    >>> round(nn.init.calculate_gain("relu"), 4), round(nn.init.calculate_gain("tanh"), 4)
    (1.4142, 1.6667)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from U(a, b) (tinymm's global generator); returns it. Any shape.

    >>> w = nn.init.uniform_(tm.empty(1000), -2.0, 2.0)
    >>> w.shape, -2.0 <= w.min().item(), w.max().item() <= 2.0
    ((1000,), True, True)
    """
    _check("uniform_", tensor)
    return _fill(tensor, generator().uniform(a, b, tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from N(mean, std²); returns it. Any shape.

    >>> _ = tm.manual_seed(0)
    >>> w = nn.init.normal_(tm.empty(10000), mean=3.0, std=0.5)
    >>> round(w.mean().item(), 1), round(w.std().item(), 1)
    (3.0, 0.5)
    """
    _check("normal_", tensor)
    return _fill(tensor, generator().normal(mean, std, tensor.shape))


def constant_(tensor, val: float) -> Tensor:
    """Fill ``tensor`` in place with ``val``; returns it. Any shape.

    >>> nn.init.constant_(tm.empty(2, 2), 0.5).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    _check("constant_", tensor)
    tensor.data[...] = val
    tensor._bump_version()
    return tensor


def zeros_(tensor) -> Tensor:
    """Fill ``tensor`` in place with 0; returns it. Any shape.

    >>> nn.init.zeros_(tm.ones(3)).tolist()
    [0.0, 0.0, 0.0]
    """
    return constant_(tensor, 0.0)


def ones_(tensor) -> Tensor:
    """Fill ``tensor`` in place with 1; returns it. Any shape.

    >>> nn.init.ones_(tm.zeros(3)).tolist()
    [1.0, 1.0, 1.0]
    """
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a), a = gain·√(6 / (fan_in + fan_out)).

    fan_in = size(1) · receptive field, fan_out = size(0) · receptive field (the receptive field
    is the product of the dims after the second). Fills ``tensor`` (at least 2-D) in place.

    >>> w = nn.init.xavier_uniform_(tm.empty(30, 20))
    >>> bound = (6 / (20 + 30)) ** 0.5
    >>> w.shape, w.abs().max().item() <= bound
    ((30, 20), True)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` (at least 2-D) in place from N(0, std²), std = gain·√(2 / (fan_in + fan_out)).

    >>> _ = tm.manual_seed(0)
    >>> w = nn.init.xavier_normal_(tm.empty(200, 300))
    >>> round(w.std().item() / (2 / 500) ** 0.5, 1)
    1.0
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b), b = gain·√(3 / fan); nn.Linear and nn.Conv use a = √5.

    gain = calculate_gain(nonlinearity, a); fan = fan_in or fan_out by ``mode``. Fills
    ``tensor`` (at least 2-D) in place.

    >>> w = nn.init.kaiming_uniform_(tm.empty(64, 27), nonlinearity="relu")
    >>> w.abs().max().item() <= 2 ** 0.5 * (3 / 27) ** 0.5
    True
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """Fill ``tensor`` (at least 2-D) in place from N(0, std²), std = gain / √fan, with
    gain = calculate_gain(nonlinearity, a) and fan = fan_in or fan_out by ``mode`` (He et al.).

    >>> _ = tm.manual_seed(0)
    >>> w = nn.init.kaiming_normal_(tm.empty(256, 400), nonlinearity="relu")
    >>> round(w.std().item() / (2 / 400) ** 0.5, 1)
    1.0
    """
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
