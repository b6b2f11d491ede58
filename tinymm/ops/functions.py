"""Top-level functions mirroring Tensor methods, as ``torch.exp(x)`` mirrors ``x.exp()``.

``tm.exp(x)``, ``tm.sum(x, dim=1)``, ``tm.max(x, 1)``, ``tm.gather(x, 1, idx)``, ... take
PyTorch's argument names and defaults and call the same differentiable op as the method,
after checking that ``input`` is a Tensor.
"""

from __future__ import annotations

from .._validation import as_tensor_arg
from ..tensor import Tensor
from . import accumulate as _accumulate
from . import elementwise as _ew
from . import indexing as _indexing
from . import layout as _layout
from . import logical as _logical
from . import ordering as _ordering
from . import reduce as _reduce
from . import shape as _shape
from .trig import cos, sin

# Re-exported unchanged: each already checks its input and names itself in errors.
gather, scatter, scatter_add = _indexing.gather, _indexing.scatter, _indexing.scatter_add
index_select, masked_fill = _indexing.index_select, _indexing.masked_fill
take_along_dim = _indexing.take_along_dim
sort, argsort, topk = _ordering.sort, _ordering.argsort, _ordering.topk
max, min, amin, argmin = _ordering.max, _ordering.min, _ordering.amin, _ordering.argmin  # noqa: A001
maximum, minimum = _ordering.maximum, _ordering.minimum
cumsum, prod = _accumulate.cumsum, _accumulate.prod
logsumexp, norm = _accumulate.logsumexp, _accumulate.norm
split, chunk, tile, flip, roll = _layout.split, _layout.chunk, _layout.tile, _layout.flip, _layout.roll
tril, triu, clamp_min, clamp_max = _layout.tril, _layout.triu, _layout.clamp_min, _layout.clamp_max
all, any, isnan, isinf, isfinite = (  # noqa: A001
    _logical.all, _logical.any, _logical.isnan, _logical.isinf, _logical.isfinite)
allclose, equal = _logical.allclose, _logical.equal

__all__ = [
    "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "neg", "clamp", "clip", "sin", "cos",
    "add", "sub", "mul", "div", "pow", "matmul", "mm", "bmm",
    "sum", "mean", "var", "std", "amax", "amin", "max", "min", "argmax", "argmin",
    "prod", "cumsum", "logsumexp", "norm", "maximum", "minimum",
    "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "numel",
    "softmax", "log_softmax",
    *_indexing.__all__, "sort", "argsort", "topk",
    "split", "chunk", "tile", "flip", "roll", "tril", "triu", "clamp_min", "clamp_max",
    *_logical.__all__,
]


def _input(fn: str, x, name: str = "input") -> Tensor:
    return as_tensor_arg(fn, name, x)


# ----------------------------------------------------------------------------- elementwise
def exp(input):  # noqa: A002
    """y = e^x elementwise (integers give float32); dy/dx = y.

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in tm.exp(tm.tensor([0.0, 1.0])).tolist()]
    [1.0, 2.7183]
    """
    return _ew.exp(_input("exp", input))


def log(input):  # noqa: A002
    """y = ln x elementwise (integers give float32); dy/dx = 1/x.

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in tm.log(tm.tensor([1.0, 10.0])).tolist()]
    [0.0, 2.3026]
    """
    return _ew.log(_input("log", input))


def sqrt(input):  # noqa: A002
    """y = √x elementwise (integers give float32); dy/dx = 1 / (2y).

    Shape: any -> the same shape.

    >>> tm.sqrt(tm.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """
    return _ew.sqrt(_input("sqrt", input))


def tanh(input):  # noqa: A002
    """y = tanh(x) elementwise; dy/dx = 1 − y².

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in tm.tanh(tm.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.7616]
    """
    return _ew.tanh(_input("tanh", input))


def sigmoid(input):  # noqa: A002
    """y = 1 / (1 + e^{−x}) elementwise; dy/dx = y (1 − y).

    Shape: any -> the same shape.

    >>> tm.sigmoid(tm.tensor([0.0])).tolist()
    [0.5]
    """
    return _ew.sigmoid(_input("sigmoid", input))


def relu(input):  # noqa: A002
    """y = max(x, 0) elementwise; dy/dx = 1 where x > 0, else 0.

    Shape: any -> the same shape.

    >>> tm.relu(tm.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _ew.relu(_input("relu", input))


def abs(input):  # noqa: A001, A002
    """y = |x| elementwise; dy/dx = sign(x) (0 at 0).

    Shape: any -> the same shape.

    >>> tm.abs(tm.tensor([-1.5, 2.0])).tolist()
    [1.5, 2.0]
    """
    return _ew.abs(_input("abs", input))


def neg(input):  # noqa: A002
    """y = −x elementwise.

    Shape: any -> the same shape.

    >>> tm.neg(tm.tensor([1.0, -2.0])).tolist()
    [-1.0, 2.0]
    """
    return _ew.neg(_input("neg", input))


def clamp(input, min=None, max=None):  # noqa: A002
    """y = min(max(x, min), max) elementwise (either bound may be None; ``clip`` is the same
    function); the gradient passes where x lies inside the bounds.

    Shape: any -> the same shape.

    >>> tm.clamp(tm.tensor([-2.0, 0.5, 2.0]), min=-1.0, max=1.0).tolist()
    [-1.0, 0.5, 1.0]
    """
    return _ew.clamp(_input("clamp", input), min, max)


clip = clamp


def add(input, other, *, alpha=1):  # noqa: A002
    """``input + alpha * other``, broadcasting as NumPy (and PyTorch); the gradient of a
    broadcast operand is summed back to its shape.

    Shape: broadcast(input, other).

    >>> tm.add(tm.ones(2, 3), tm.tensor([1.0, 2.0, 3.0]), alpha=2).tolist()
    [[3.0, 5.0, 7.0], [3.0, 5.0, 7.0]]
    """
    return _ew.add(input, other if alpha == 1 else _ew.mul(other, alpha))


def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other``, broadcasting.

    Shape: broadcast(input, other).

    >>> tm.sub(tm.tensor([5.0, 5.0]), tm.tensor([1.0, 2.0]), alpha=2).tolist()
    [3.0, 1.0]
    """
    return _ew.sub(input, other if alpha == 1 else _ew.mul(other, alpha))


def mul(input, other):  # noqa: A002
    """``input * other`` elementwise, broadcasting.

    Shape: broadcast(input, other).

    >>> tm.mul(tm.tensor([[1.0], [2.0]]), tm.tensor([3.0, 4.0])).tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """
    return _ew.mul(input, other)


def div(input, other, *, rounding_mode=None):  # noqa: A002
    """True division ``input / other``, broadcasting (integers give float32); only
    ``rounding_mode=None`` is supported.

    Shape: broadcast(input, other).

    >>> tm.div(tm.tensor([1, 3]), 2).tolist()
    [0.5, 1.5]
    """
    if rounding_mode is not None:
        raise ValueError(f"div: only rounding_mode=None (true division) is supported, "
                         f"got {rounding_mode!r}")
    return _ew.div(input, other)


def pow(input, exponent):  # noqa: A001, A002
    """``input ** exponent`` elementwise (a Tensor or a number), broadcasting.

    Shape: broadcast(input, exponent).

    >>> tm.pow(tm.tensor([2.0, 3.0]), 2).tolist()
    [4.0, 9.0]
    """
    return _ew.pow(input, exponent)


def matmul(input, other):  # noqa: A002
    """Matrix product with NumPy's (and PyTorch's) rules: 1-D operands are vectors, batch dims
    broadcast.

    Shape: (..., n, m) @ (..., m, p) -> (..., n, p); (n, m) @ (m,) -> (n,).

    >>> tm.matmul(tm.ones(5, 2, 3), tm.ones(3, 4)).shape
    (5, 2, 4)
    """
    return _ew.matmul(input, other)


def mm(input, mat2):  # noqa: A002
    """``torch.mm``: a product of two 2-D matrices (no broadcasting).

    Shape: (n, m) @ (m, p) -> (n, p).

    >>> tm.mm(tm.ones(2, 3), tm.ones(3, 4)).shape
    (2, 4)
    """
    for name, t in (("input", input), ("mat2", mat2)):
        if _input("mm", t, name).ndim != 2:
            raise ValueError(f"mm: {name} must be 2-D, got shape {t.shape}")
    return _ew.matmul(input, mat2)


def bmm(input, mat2):  # noqa: A002
    """``torch.bmm``: batched products of (B, n, m) and (B, m, p) tensors.

    Shape: (B, n, m) @ (B, m, p) -> (B, n, p).

    >>> tm.bmm(tm.ones(5, 2, 3), tm.ones(5, 3, 4)).shape
    (5, 2, 4)
    """
    for name, t in (("input", input), ("mat2", mat2)):
        if _input("bmm", t, name).ndim != 3:
            raise ValueError(f"bmm: {name} must be 3-D, got shape {t.shape}")
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {input.shape} and {mat2.shape}")
    return _ew.matmul(input, mat2)


# ----------------------------------------------------------------------------- reductions
def sum(input, dim=None, keepdim: bool = False):  # noqa: A001, A002
    """Σ over ``dim`` (None: all elements; an int or a tuple).

    Shape: the input's shape without ``dim`` (kept as size 1 with ``keepdim``); () for all.

    >>> x = tm.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> tm.sum(x).item(), tm.sum(x, dim=0).tolist(), tm.sum(x, dim=1, keepdim=True).shape
    (10.0, [4.0, 6.0], (2, 1))
    """
    return _reduce.sum(_input("sum", input), dim, keepdim)


def mean(input, dim=None, keepdim: bool = False):  # noqa: A002
    """Mean over ``dim`` (None: all elements; an int or a tuple).

    Shape: the input's shape without ``dim`` (kept as size 1 with ``keepdim``); () for all.

    >>> tm.mean(tm.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1).tolist()
    [1.5, 3.5]
    """
    return _reduce.mean(_input("mean", input), dim, keepdim)


def var(input, dim=None, unbiased: bool = True, keepdim: bool = False):  # noqa: A002
    """Variance over ``dim``: Σ (x − mean)² / (n − 1) (``unbiased``, the default) or / n.

    Shape: the input's shape without ``dim`` (kept with ``keepdim``); () for all.

    >>> x = tm.tensor([1.0, 2.0, 3.0, 4.0])
    >>> round(tm.var(x).item(), 4), tm.var(x, unbiased=False).item()
    (1.6667, 1.25)
    """
    return _reduce.var(_input("var", input), dim, unbiased, keepdim)


def std(input, dim=None, unbiased: bool = True, keepdim: bool = False):  # noqa: A002
    """Standard deviation √var over ``dim`` (``unbiased`` as :func:`var`).

    Shape: the input's shape without ``dim`` (kept with ``keepdim``); () for all.

    >>> tm.std(tm.tensor([1.0, 3.0]), unbiased=False).item()
    1.0
    """
    return _ew.sqrt(_reduce.var(_input("std", input), dim, unbiased, keepdim))


def amax(input, dim=None, keepdim: bool = False):  # noqa: A002
    """The maximum over ``dim`` (None, an int or a tuple); the gradient is shared equally
    among tied maxima (as PyTorch).

    Shape: the input's shape without ``dim`` (kept with ``keepdim``); () for all.

    >>> tm.amax(tm.tensor([[1.0, 5.0], [3.0, 2.0]]), dim=0).tolist()
    [3.0, 5.0]
    """
    return _reduce.amax(_input("amax", input), dim, keepdim)


def argmax(input, dim=None, keepdim: bool = False):  # noqa: A002
    """The index of the first maximum along ``dim`` (of the flattened tensor if None), int64.

    Shape: the input's shape without ``dim`` (kept with ``keepdim``); () for None.

    >>> tm.argmax(tm.tensor([[1.0, 5.0], [3.0, 2.0]]), dim=1).tolist()
    [1, 0]
    """
    return _reduce.argmax(_input("argmax", input), dim, keepdim)


# ----------------------------------------------------------------------------- shape
def reshape(input, shape):  # noqa: A002
    """The same elements in a new shape (a view when the layout allows, else a copy); one
    entry may be -1 (inferred).

    Shape: (*) -> ``shape`` with the same number of elements.

    >>> tm.reshape(tm.arange(6), (2, -1)).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    return _shape.reshape(_input("reshape", input), shape)


def flatten(input, start_dim: int = 0, end_dim: int = -1):  # noqa: A002
    """Merge dims ``start_dim..end_dim`` into one.

    Shape: (d0, ..., dk) -> dims before start_dim, their product, dims after end_dim.

    >>> tm.flatten(tm.ones(2, 3, 4), start_dim=1).shape
    (2, 12)
    """
    return _shape.flatten(_input("flatten", input), start_dim, end_dim)


def transpose(input, dim0: int, dim1: int):  # noqa: A002
    """Swap dims ``dim0`` and ``dim1`` (a view).

    Shape: the input's shape with the two sizes swapped.

    >>> tm.transpose(tm.ones(2, 3, 4), 0, 2).shape
    (4, 3, 2)
    """
    return _shape.transpose(_input("transpose", input), dim0, dim1)


def permute(input, dims):  # noqa: A002
    """Reorder the dims: output dim i is input dim ``dims[i]`` (a view).

    Shape: (input.shape[dims[0]], input.shape[dims[1]], ...).

    >>> tm.permute(tm.ones(2, 3, 4), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return _shape.permute(_input("permute", input), dims)


def squeeze(input, dim=None):  # noqa: A002
    """Drop size-1 dims (all of them, or only ``dim`` if it has size 1).

    Shape: the input's shape without those size-1 dims.

    >>> tm.squeeze(tm.ones(1, 3, 1)).shape, tm.squeeze(tm.ones(1, 3, 1), 0).shape
    ((3,), (3, 1))
    """
    return _shape.squeeze(_input("squeeze", input), dim)


def unsqueeze(input, dim: int):  # noqa: A002
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result).

    Shape: (d0, ..., dk) -> one more dim of size 1 at ``dim``.

    >>> tm.unsqueeze(tm.ones(2, 3), 1).shape, tm.unsqueeze(tm.ones(2, 3), -1).shape
    ((2, 1, 3), (2, 3, 1))
    """
    return _shape.unsqueeze(_input("unsqueeze", input), dim)


def numel(input) -> int:  # noqa: A002
    """The number of elements, the product of the shape (an int).

    Shape: any -> a Python int.

    >>> tm.numel(tm.ones(2, 3, 4))
    24
    """
    return _input("numel", input).numel()


# ----------------------------------------------------------------------------- softmax
def softmax(input, dim: int):  # noqa: A002
    """``torch.softmax``: the same op as ``tinymm.functional.softmax``.

    Shape: any -> the same shape.

    >>> tm.softmax(tm.tensor([0.0, 0.0]), dim=0).tolist()
    [0.5, 0.5]
    """
    from ..functional import softmax as _softmax

    return _softmax(_input("softmax", input), dim)


def log_softmax(input, dim: int):  # noqa: A002
    """``torch.log_softmax``: the same op as ``tinymm.functional.log_softmax``.

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in tm.log_softmax(tm.tensor([0.0, 0.0]), dim=0).tolist()]
    [-0.6931, -0.6931]
    """
    from ..functional import log_softmax as _log_softmax

    return _log_softmax(_input("log_softmax", input), dim)
