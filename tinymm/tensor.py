"""``Tensor``: a NumPy array plus what autograd needs (``requires_grad``, ``grad``, its node).

``t.data`` and ``t.grad`` are plain ``numpy.ndarray``s. The arithmetic and shape methods
below are thin: each calls one differentiable op from ``tinymm.ops``.

Version counter: ``t._version`` counts the in-place writes the library makes to ``t``'s
array (in-place methods such as ``add_``, ``t[i] = v``, optimizer steps,
``load_state_dict``); views made by ops share their base's counter. A backward that needs an
array written since its forward raises (see ``tinymm.autograd.check_saved_versions``).
Writes straight into ``t.data`` (an ndarray) are not counted, as ``tensor.data`` writes are
not in PyTorch: they bypass that check.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import autograd

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
DEFAULT_FLOAT = float32


def _infer_array(data: object, dtype: object, fn: str) -> np.ndarray:
    """Array-like -> ndarray with ``torch.tensor``'s dtype rules.

    A NumPy array (or scalar) keeps its dtype; Python floats become float32, Python ints
    int64, bools bool.
    """
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{fn}: cannot make a tensor from {type(data).__name__}: {exc}") from None
        if arr.dtype == np.float64:
            arr = arr.astype(DEFAULT_FLOAT)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"{fn}: data must be numeric, got an array of dtype {arr.dtype}")
    if dtype is not None:
        try:
            arr = arr.astype(np.dtype(dtype), copy=False)
        except TypeError:
            raise TypeError(f"{fn}: dtype must be a NumPy dtype, got {dtype!r}") from None
    return arr


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    >>> import tinymm as tm
    >>> x = tm.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_out_index", "_vc", "_hooks",
                 "_post_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operators
    __hash__ = object.__hash__

    def __init__(self, data: object, requires_grad: bool = False, dtype: object = None):
        arr = _infer_array(data, dtype, type(self).__name__)
        self._init(arr, requires_grad)

    def _init(self, arr: np.ndarray, requires_grad: bool) -> None:
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(
                f"{type(self).__name__}: only floating-point tensors can require gradients, "
                f"got dtype {arr.dtype}"
            )
        self.data = arr
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._out_index = 0
        self._vc: list[int] | None = None  # version counter, shared by views; made on demand
        self._hooks: dict | None = None  # a leaf's gradient hooks (tinymm/_hooks.py)
        self._post_hooks: dict | None = None  # a leaf's post-accumulate-grad hooks

    @classmethod
    def _make(cls, arr: np.ndarray, requires_grad: bool, fn: str) -> Tensor:
        """Wrap a fresh array, checking ``requires_grad`` with ``fn`` named in the error."""
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(f"{fn}: only floating-point tensors can require gradients, "
                            f"got dtype {arr.dtype}")
        return cls._wrap(arr, requires_grad)

    @classmethod
    def _wrap(cls, arr: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Wrap an ndarray without copying or dtype inference (internal fast path)."""
        t = object.__new__(Tensor)
        t._init(np.asarray(arr), requires_grad)
        return t

    # ----------------------------------------------------------------- properties
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: self._node, doc="The node of the op that made this tensor "
                       "(None for a leaf); ``repr`` shows the op's name, e.g. ``<Mul>``.")
    _version = property(lambda self: 0 if self._vc is None else self._vc[0])
    T = property(lambda self: _shape.permute(self, tuple(reversed(range(self.ndim)))))

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in (DEFAULT_FLOAT, int64, np.dtype(bool)):
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError("bool(): a tensor with more than one element is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.data.reshape(()))

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: the tensor has {self.data.size} elements, expected exactly one")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter), cut off from the graph."""
        t = Tensor._wrap(self.data)
        t._vc = self._version_counter()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: only floating-point tensors can require "
                            f"gradients, got dtype {self.data.dtype}")
        if not requires_grad and self._node is not None:
            raise ValueError("requires_grad_: cannot turn off gradients of a non-leaf tensor; "
                             "use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def to(self, dtype) -> Tensor:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"to: dtype must be a dtype such as tm.float32, got {dtype!r}") from None
        return _ew.cast(self, dt)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def clone(self) -> Tensor:
        return _ew.clone(self)

    def contiguous(self) -> Tensor:
        return self if self.data.flags.c_contiguous else _ew.clone(self)

    # ----------------------------------------------------------------- autograd
    def backward(self, gradient: object = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · ``gradient`` into every leaf's ``.grad``.

        Without ``retain_graph`` the graph behind ``self`` is freed: a kept output (a
        loss) then holds no activations, and a second backward through it raises.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph "
                               "(was it computed under no_grad, or from tensors without "
                               "requires_grad=True?)")
        autograd.backward(self, gradient, retain_graph=retain_graph)

    def zero_grad_(self) -> None:
        self.grad = None

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a
        replacement. Returns a handle with ``.remove()``."""
        return _hooks.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """(Leaves) ``hook(tensor)`` runs after a backward accumulated into ``.grad``."""
        return _hooks.register_post_accumulate_grad_hook(self, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in ``.grad`` after backward."""
        _hooks.retain_grad(self)

    retains_grad = property(lambda self: _hooks.retains_grad(self))

    def _version_counter(self) -> list[int]:
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _bump_version(self) -> None:
        """Record an in-place write to ``self.data`` (seen by every view sharing the counter)."""
        self._version_counter()[0] += 1

    # ----------------------------------------------------------------- in place
    def add_(self, other, *, alpha=1):
        return _inplace.add_(self, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return _inplace.sub_(self, other, alpha=alpha)

    def mul_(self, other):
        return _inplace.mul_(self, other)

    def div_(self, other):
        return _inplace.div_(self, other)

    def zero_(self):
        return _inplace.zero_(self)

    def fill_(self, value):
        return _inplace.fill_(self, value)

    def copy_(self, src):
        return _inplace.copy_(self, src)

    def clamp_(self, min=None, max=None):  # noqa: A002
        return _inplace.clamp_(self, min, max)

    def clamp_min_(self, min):  # noqa: A002
        return _inplace.clamp_min_(self, min)

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _ew.pow(self, other)

    def __rpow__(self, other):
        return _ew.pow(other, self)

    def __matmul__(self, other):
        return _ew.matmul(self, other)

    def __rmatmul__(self, other):
        return _ew.matmul(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __lt__(self, other):
        return _ew.compare(np.less, self, other)

    def __le__(self, other):
        return _ew.compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _ew.compare(np.greater, self, other)

    def __ge__(self, other):
        return _ew.compare(np.greater_equal, self, other)

    def __eq__(self, other):
        return _ew.compare(np.equal, self, other)

    def __ne__(self, other):
        return _ew.compare(np.not_equal, self, other)

    def __invert__(self):
        if self.data.dtype != np.bool_:
            raise TypeError(f"~: only bool tensors can be inverted, got dtype {self.dtype}")
        return Tensor._wrap(~self.data)

    def __and__(self, other):
        return _ew.compare(np.logical_and, self, other)

    def __or__(self, other):
        return _ew.compare(np.logical_or, self, other)

    # ----------------------------------------------------------------- elementwise
    def exp(self):
        return _ew.exp(self)

    def sin(self):
        return _trig.sin(self)

    def cos(self):
        return _trig.cos(self)

    def log(self):
        return _ew.log(self)

    def sqrt(self):
        return _ew.sqrt(self)

    def tanh(self):
        return _ew.tanh(self)

    def sigmoid(self):
        return _ew.sigmoid(self)

    def relu(self):
        return _ew.relu(self)

    def abs(self):
        return _ew.abs(self)

    def clamp(self, min=None, max=None):  # noqa: A002  (PyTorch's argument names)
        return _ew.clamp(self, min, max)

    clip = clamp

    # ----------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim: bool = False):
        return _reduce.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return _reduce.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased: bool = True, keepdim: bool = False):
        return _reduce.var(self, dim, unbiased, keepdim)

    def std(self, dim=None, unbiased: bool = True, keepdim: bool = False):
        return _reduce.var(self, dim, unbiased, keepdim).sqrt()

    def amax(self, dim=None, keepdim: bool = False):
        return _reduce.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim: bool = False):
        return -_reduce.amax(-self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        return _reduce.max(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False):
        return _reduce.argmax(self, dim, keepdim)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        return _shape.reshape(self, shape)

    def view(self, *shape):
        """A view with ``shape``; raises where PyTorch's stride rule needs a copy (use reshape)."""
        return _shape.view(self, shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int):
        return _shape.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _shape.permute(self, dims)

    def unsqueeze(self, dim: int):
        return _shape.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return _shape.squeeze(self, dim)

    def expand(self, *sizes):
        return _shape.expand(self, sizes)

    def __getitem__(self, index):
        return _shape.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        _inplace.setitem(self, index, value)  # refuses what autograd cannot follow; bumps _version
        self.data[_shape.plain_index(index)] = value.data if isinstance(value, Tensor) else value

    # ---- PyTorch-surface ops (tinymm/ops/indexing.py, ordering.py, accumulate.py, layout.py,
    # logical.py) ----
    # Thin methods over the differentiable ops in those modules (owned with them).
    def gather(self, dim, index, *, sparse_grad: bool = False):
        return _indexing.gather(self, dim, index, sparse_grad=sparse_grad)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _indexing.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return _indexing.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return _indexing.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return _indexing.masked_fill(self, mask, value)

    def take_along_dim(self, indices, dim=None):
        return _indexing.take_along_dim(self, indices, dim)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return _ordering.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return _ordering.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        return _ordering.topk(self, k, dim, largest, sorted)

    def min(self, dim=None, keepdim: bool = False):
        return _ordering.min(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        return _ordering.argmin(self, dim, keepdim)

    def maximum(self, other):
        return _ordering.maximum(self, other)

    def minimum(self, other):
        return _ordering.minimum(self, other)

    def cumsum(self, dim: int, *, dtype=None):
        return _accumulate.cumsum(self, dim, dtype=dtype)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None):
        return _accumulate.prod(self, dim, keepdim, dtype=dtype)

    def logsumexp(self, dim, keepdim: bool = False):
        return _accumulate.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
        return _accumulate.norm(self, p, dim, keepdim, dtype)

    def split(self, split_size, dim: int = 0):
        return _layout.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return _layout.chunk(self, chunks, dim)

    def repeat(self, *sizes):
        return _layout.repeat(self, *sizes)

    def tile(self, *dims):
        return _layout.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list))
                            else dims)

    def flip(self, *dims):
        return _layout.flip(self, dims[0] if len(dims) == 1 else dims)

    def roll(self, shifts, dims=None):
        return _layout.roll(self, shifts, dims)

    def tril(self, diagonal: int = 0):
        return _layout.tril(self, diagonal)

    def triu(self, diagonal: int = 0):
        return _layout.triu(self, diagonal)

    def clamp_min(self, min):  # noqa: A002
        return _layout.clamp_min(self, min)

    def clamp_max(self, max):  # noqa: A002
        return _layout.clamp_max(self, max)
    def all(self, dim=None, keepdim: bool = False):
        return _logical.all(self, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False):
        return _logical.any(self, dim, keepdim)

    def isnan(self):
        return _logical.isnan(self)

    def isinf(self):
        return _logical.isinf(self)

    def isfinite(self):
        return _logical.isfinite(self)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
        return _logical.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return _logical.equal(self, other)
    # everyday conveniences (tinymm/ops/convenience.py)
    def matmul(self, other):
        return _functions.matmul(self, other)

    def mul(self, other):
        return _functions.mul(self, other)

    def add(self, other, *, alpha=1):
        return _functions.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _functions.sub(self, other, alpha=alpha)

    def div(self, other, *, rounding_mode=None):
        return _functions.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        return _functions.pow(self, exponent)

    def t(self):
        return _convenience.t(self)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False):
        return _convenience.new_full(self, size, fill_value, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False):
        return _convenience.new_full(self, _sizes(size), 1, dtype, requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad: bool = False):
        return _convenience.new_full(self, _sizes(size), 0, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad: bool = False):
        return _convenience.new_full(self, _sizes(size), 0, dtype, requires_grad)

    def new_tensor(self, data, dtype=None, requires_grad: bool = False):
        return Tensor(data, requires_grad=requires_grad, dtype=self.dtype if dtype is None else dtype)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        return _convenience.uniform_(self, a, b, generator)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        return _convenience.normal_(self, mean, std, generator)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _convenience.scatter_(self, dim, index, src, value=value, reduce=reduce)

    def type(self, dtype=None):  # noqa: A003
        return _convenience.type_(self, dtype)

    # ---- end of PyTorch-surface ops ----


def is_scalar(x: object) -> bool:
    return isinstance(x, (numbers.Number, np.number, np.bool_)) and not isinstance(x, np.ndarray)


# The op modules build on Tensor and Function, so they are imported once both exist.
from . import _hooks  # noqa: E402
from .ops import accumulate as _accumulate  # noqa: E402
from .ops import convenience as _convenience  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import functions as _functions  # noqa: E402
from .ops import indexing as _indexing  # noqa: E402
from .ops import inplace as _inplace  # noqa: E402
from .ops import layout as _layout  # noqa: E402
from .ops import logical as _logical  # noqa: E402
from .ops import ordering as _ordering  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import trig as _trig  # noqa: E402


def _sizes(size: tuple) -> tuple:
    """``new_ones(2, 3)`` and ``new_ones((2, 3))`` alike."""
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
