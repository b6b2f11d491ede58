"""``LayerNorm``: layer normalisation with a learnable elementwise scale and shift."""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_alloc
from ..functional.norm import _normalized_shape, layer_norm
from . import init
from .module import Module
from .parameter import Parameter


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
        if self.elementwise_affine:
            self.weight = Parameter(np.empty(shape, dt))
            if bias:
                self.bias = Parameter(np.empty(shape, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
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
