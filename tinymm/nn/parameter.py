"""``Parameter``: a leaf Tensor that a Module registers as learnable."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _infer_array


class Parameter(Tensor):
    """A Tensor that requires grad by default and is collected by ``Module.parameters()``.

    ``Parameter(np.zeros((3, 4), np.float32))``; from a Tensor it shares the Tensor's data.

    >>> p = nn.Parameter(tm.zeros(3, 4))
    >>> p.shape, p.requires_grad, p.is_leaf
    ((3, 4), True, True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            arr = np.empty((0,), dtype=np.float32)
        else:
            arr = _infer_array(data, None, "Parameter")
        if arr.dtype.kind != "f":
            raise TypeError(f"Parameter: data must have a floating dtype, got {arr.dtype}")
        self._init(arr, requires_grad)
        if isinstance(data, Tensor):  # shares the Tensor's memory, so its version counter too
            self._vc = data._version_counter()

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
