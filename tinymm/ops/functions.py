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
    return _ew.exp(_input("exp", input))


def log(input):  # noqa: A002
    return _ew.log(_input("log", input))


def sqrt(input):  # noqa: A002
    return _ew.sqrt(_input("sqrt", input))


def tanh(input):  # noqa: A002
    return _ew.tanh(_input("tanh", input))


def sigmoid(input):  # noqa: A002
    return _ew.sigmoid(_input("sigmoid", input))


def relu(input):  # noqa: A002
    return _ew.relu(_input("relu", input))


def abs(input):  # noqa: A001, A002
    return _ew.abs(_input("abs", input))


def neg(input):  # noqa: A002
    return _ew.neg(_input("neg", input))


def clamp(input, min=None, max=None):  # noqa: A002
    return _ew.clamp(_input("clamp", input), min, max)


clip = clamp


def add(input, other, *, alpha=1):  # noqa: A002
    """``input + alpha * other``."""
    return _ew.add(input, other if alpha == 1 else _ew.mul(other, alpha))


def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other``."""
    return _ew.sub(input, other if alpha == 1 else _ew.mul(other, alpha))


def mul(input, other):  # noqa: A002
    return _ew.mul(input, other)


def div(input, other, *, rounding_mode=None):  # noqa: A002
    if rounding_mode is not None:
        raise ValueError(f"div: only rounding_mode=None (true division) is supported, "
                         f"got {rounding_mode!r}")
    return _ew.div(input, other)


def pow(input, exponent):  # noqa: A001, A002
    return _ew.pow(input, exponent)


def matmul(input, other):  # noqa: A002
    return _ew.matmul(input, other)


def mm(input, mat2):  # noqa: A002
    """``torch.mm``: a product of two 2-D matrices (no broadcasting)."""
    for name, t in (("input", input), ("mat2", mat2)):
        if _input("mm", t, name).ndim != 2:
            raise ValueError(f"mm: {name} must be 2-D, got shape {t.shape}")
    return _ew.matmul(input, mat2)


def bmm(input, mat2):  # noqa: A002
    """``torch.bmm``: batched products of (B, n, m) and (B, m, p) tensors."""
    for name, t in (("input", input), ("mat2", mat2)):
        if _input("bmm", t, name).ndim != 3:
            raise ValueError(f"bmm: {name} must be 3-D, got shape {t.shape}")
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {input.shape} and {mat2.shape}")
    return _ew.matmul(input, mat2)


# ----------------------------------------------------------------------------- reductions
def sum(input, dim=None, keepdim: bool = False):  # noqa: A001, A002
    return _reduce.sum(_input("sum", input), dim, keepdim)


def mean(input, dim=None, keepdim: bool = False):  # noqa: A002
    return _reduce.mean(_input("mean", input), dim, keepdim)


def var(input, dim=None, unbiased: bool = True, keepdim: bool = False):  # noqa: A002
    return _reduce.var(_input("var", input), dim, unbiased, keepdim)


def std(input, dim=None, unbiased: bool = True, keepdim: bool = False):  # noqa: A002
    return _ew.sqrt(_reduce.var(_input("std", input), dim, unbiased, keepdim))


def amax(input, dim=None, keepdim: bool = False):  # noqa: A002
    return _reduce.amax(_input("amax", input), dim, keepdim)


def argmax(input, dim=None, keepdim: bool = False):  # noqa: A002
    return _reduce.argmax(_input("argmax", input), dim, keepdim)


# ----------------------------------------------------------------------------- shape
def reshape(input, shape):  # noqa: A002
    return _shape.reshape(_input("reshape", input), shape)


def flatten(input, start_dim: int = 0, end_dim: int = -1):  # noqa: A002
    return _shape.flatten(_input("flatten", input), start_dim, end_dim)


def transpose(input, dim0: int, dim1: int):  # noqa: A002
    return _shape.transpose(_input("transpose", input), dim0, dim1)


def permute(input, dims):  # noqa: A002
    return _shape.permute(_input("permute", input), dims)


def squeeze(input, dim=None):  # noqa: A002
    return _shape.squeeze(_input("squeeze", input), dim)


def unsqueeze(input, dim: int):  # noqa: A002
    return _shape.unsqueeze(_input("unsqueeze", input), dim)


def numel(input) -> int:  # noqa: A002
    return _input("numel", input).numel()


# ----------------------------------------------------------------------------- softmax
def softmax(input, dim: int):  # noqa: A002
    """``torch.softmax``: the same op as ``tinymm.functional.softmax``."""
    from ..functional import softmax as _softmax

    return _softmax(_input("softmax", input), dim)


def log_softmax(input, dim: int):  # noqa: A002
    """``torch.log_softmax``: the same op as ``tinymm.functional.log_softmax``."""
    from ..functional import log_softmax as _log_softmax

    return _log_softmax(_input("log_softmax", input), dim)
