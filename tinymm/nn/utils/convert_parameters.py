"""``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat vector."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ...ops.shape import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _params(fn: str, parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        raise TypeError(f"{fn}: parameters must be an iterable of Tensors, got a Tensor "
                        "(wrap it in a list)")
    if not isinstance(parameters, Iterable):
        raise TypeError(f"{fn}: parameters must be an iterable of Tensors, "
                        f"got {type(parameters).__name__}")
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters[{i}] must be a Tensor, got {type(p).__name__}")
    return params


def parameters_to_vector(parameters) -> Tensor:
    """Concatenate the flattened parameters into one 1-D Tensor (differentiable, as PyTorch).

    >>> import tinymm as tm
    >>> parameters_to_vector(tm.nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    params = _params("parameters_to_vector", parameters)
    if not params:
        raise ValueError("parameters_to_vector: expected at least one parameter, got none")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' data, in order.

    ``vec`` must hold exactly as many elements as the parameters together.

    >>> import tinymm as tm
    >>> lin = tm.nn.Linear(3, 2)
    >>> vector_to_parameters(tm.zeros(8), lin.parameters()); float(lin.weight.data.sum())
    0.0
    """
    fn = "vector_to_parameters"
    if not isinstance(vec, Tensor):
        raise TypeError(f"{fn}: vec must be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"{fn}: vec must be 1-D, got shape {vec.shape}")
    params = _params(fn, parameters)
    total = sum(p.data.size for p in params)
    if vec.shape[0] != total:
        raise ValueError(f"{fn}: vec has {vec.shape[0]} elements but the parameters hold "
                         f"{total}")
    offset = 0
    for p in params:
        n = p.data.size
        p.data[...] = np.asarray(vec.data[offset:offset + n]).reshape(p.data.shape)
        offset += n
