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
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, a tuple of ints (``data.shape``).

        >>> tm.zeros(2, 3).shape
        (2, 3)
        """
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions, ``len(shape)``.

        >>> tm.zeros(2, 3).ndim, tm.tensor(1.0).ndim
        (2, 0)
        """
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the elements (float32 by default for floats).

        >>> tm.tensor([1.0, 2.0]).dtype, tm.tensor([1, 2]).dtype
        (dtype('float32'), dtype('int64'))
        """
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded op produced (created by the user, or with grad off).

        >>> x = tm.ones(2, requires_grad=True)
        >>> x.is_leaf, (x * 2).is_leaf
        (True, False)
        """
        return self._node is None

    @property
    def grad_fn(self):
        """The node of the op that made this tensor (None for a leaf); ``repr`` shows the op's
        name, e.g. ``<MulBackward>``.

        >>> x = tm.ones(2, requires_grad=True)
        >>> (x * 2).grad_fn, x.grad_fn
        (<MulBackward>, None)
        """
        return self._node

    _version = property(lambda self: 0 if self._vc is None else self._vc[0])

    @property
    def T(self) -> Tensor:
        """The tensor with its dimensions reversed: shape (a, b, c) -> (c, b, a).

        >>> x = tm.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.T.tolist(), tm.zeros(2, 3, 4).T.shape
        ([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], (4, 3, 2))
        """
        return _shape.permute(self, tuple(reversed(range(self.ndim))))

    def size(self, dim: int | None = None):
        """The shape as a tuple, or the size of dim ``dim``.

        >>> tm.ones(2, 3).size(), tm.ones(2, 3).size(-1)
        ((2, 3), 3)
        """
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        """The number of elements (an int).

        >>> tm.ones(2, 3).numel()
        6
        """
        return int(self.data.size)

    def dim(self) -> int:
        """The number of dims (as ``ndim``).

        >>> tm.ones(2, 3).dim()
        2
        """
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
        """The data as a NumPy array: the same memory, no copy (as ``.data``).

        >>> t = tm.zeros(2)
        >>> t.numpy()[0] = 5.0
        >>> t.tolist()
        [5.0, 0.0]
        """
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number.

        >>> tm.tensor([[2.5]]).item()
        2.5
        """
        if self.data.size != 1:
            raise ValueError(f"item: the tensor has {self.data.size} elements, expected exactly one")
        return self.data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists of numbers.

        >>> tm.arange(4).reshape(2, 2).tolist()
        [[0, 1], [2, 3]]
        """
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter), cut off from the graph.

        >>> x = tm.ones(2, requires_grad=True)
        >>> y = (x * 2).detach()
        >>> y.requires_grad, y.is_leaf
        (False, True)
        """
        t = Tensor._wrap(self.data)
        t._vc = self._version_counter()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Switch gradient recording for this leaf on (or off) in place; returns ``self``.
        Only floating-point tensors can require gradients.

        >>> w = tm.zeros(3).requires_grad_()
        >>> w.requires_grad, w.is_leaf
        (True, True)
        """
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: only floating-point tensors can require "
                            f"gradients, got dtype {self.data.dtype}")
        if not requires_grad and self._node is not None:
            raise ValueError("requires_grad_: cannot turn off gradients of a non-leaf tensor; "
                             "use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def to(self, dtype) -> Tensor:
        """A copy cast to ``dtype`` (differentiable between float dtypes).

        >>> tm.tensor([1.7, -1.7]).to(tm.int64).tolist(), tm.ones(1).to(tm.float64).dtype
        ([1, -1], dtype('float64'))
        """
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"to: dtype must be a dtype such as tm.float32, got {dtype!r}") from None
        return _ew.cast(self, dt)

    def float(self) -> Tensor:
        """``self.to(tm.float32)``.

        >>> tm.tensor([1, 2]).float().dtype
        dtype('float32')
        """
        return self.to(float32)

    def double(self) -> Tensor:
        """``self.to(tm.float64)``.

        >>> tm.tensor([1, 2]).double().dtype
        dtype('float64')
        """
        return self.to(float64)

    def long(self) -> Tensor:
        """``self.to(tm.int64)`` (truncating toward zero).

        >>> tm.tensor([1.9, -1.9]).long().tolist()
        [1, -1]
        """
        return self.to(int64)

    def clone(self) -> Tensor:
        """A copy with its own memory; differentiable (the gradient passes through unchanged).

        >>> x = tm.ones(2)
        >>> y = x.clone()
        >>> y[0] = 5.0
        >>> x.tolist(), y.tolist()
        ([1.0, 1.0], [5.0, 1.0])
        """
        return _ew.clone(self)

    def contiguous(self) -> Tensor:
        """``self`` if its data is C-contiguous, else a contiguous copy (:meth:`clone`).

        >>> x = tm.ones(3, 4).t()
        >>> x.data.flags.c_contiguous, x.contiguous().data.flags.c_contiguous
        (False, True)
        """
        return self if self.data.flags.c_contiguous else _ew.clone(self)

    # ----------------------------------------------------------------- autograd
    def backward(self, gradient: object = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · ``gradient`` into every leaf's ``.grad``.

        Without ``retain_graph`` the graph behind ``self`` is freed: a kept output (a
        loss) then holds no activations, and a second backward through it raises.

        >>> x = tm.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()     # d/dx Σx² = 2x
        >>> x.grad.tolist()
        [2.0, 4.0]
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph "
                               "(was it computed under no_grad, or from tensors without "
                               "requires_grad=True?)")
        autograd.backward(self, gradient, retain_graph=retain_graph)

    def zero_grad_(self) -> None:
        """Drop this tensor's gradient (``.grad = None``).

        >>> x = tm.ones(2, requires_grad=True)
        >>> x.sum().backward()
        >>> x.zero_grad_()
        >>> x.grad is None
        True
        """
        self.grad = None

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a
        replacement. Returns a handle with ``.remove()``.

        >>> x = tm.ones(2, requires_grad=True)
        >>> handle = x.register_hook(lambda g: g * 10)
        >>> (x * 3).sum().backward()
        >>> x.grad.tolist()
        [30.0, 30.0]
        >>> handle.remove()
        """
        return _hooks.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """(Leaves) ``hook(tensor)`` runs after a backward accumulated into ``.grad``.

        >>> x = tm.ones(2, requires_grad=True)
        >>> seen = []
        >>> _ = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
        >>> x.sum().backward()
        >>> seen
        [[1.0, 1.0]]
        """
        return _hooks.register_post_accumulate_grad_hook(self, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in ``.grad`` after backward.

        >>> x = tm.ones(2, requires_grad=True)
        >>> y = x * 2
        >>> y.retain_grad()
        >>> (y * y).sum().backward()
        >>> y.grad.tolist(), y.retains_grad
        ([4.0, 4.0], True)
        """
        _hooks.retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        """True when ``retain_grad()`` was called on this non-leaf (its ``.grad`` is kept).

        >>> x = tm.ones(2, requires_grad=True)
        >>> y = x * 2
        >>> y.retains_grad, x.retains_grad
        (False, False)
        >>> y.retain_grad()
        >>> y.retains_grad
        True
        """
        return _hooks.retains_grad(self)

    def _version_counter(self) -> list[int]:
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _bump_version(self) -> None:
        """Record an in-place write to ``self.data`` (seen by every view sharing the counter)."""
        self._version_counter()[0] += 1

    # ----------------------------------------------------------------- in place
    def add_(self, other, *, alpha=1):
        """In place: ``self += alpha * other`` (broadcast into ``self``'s shape); bumps the version
        counter, so a backward that saved the old values raises.

        >>> x = tm.ones(2)
        >>> x.add_(tm.tensor([1.0, 2.0]), alpha=2).tolist()
        [3.0, 5.0]
        """
        return _inplace.add_(self, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        """In place: ``self -= alpha * other``.

        >>> tm.ones(2).sub_(tm.tensor([1.0, 2.0])).tolist()
        [0.0, -1.0]
        """
        return _inplace.sub_(self, other, alpha=alpha)

    def mul_(self, other):
        """In place: ``self *= other``.

        >>> tm.ones(2).mul_(3.0).tolist()
        [3.0, 3.0]
        """
        return _inplace.mul_(self, other)

    def div_(self, other):
        """In place: ``self /= other``.

        >>> tm.ones(2).div_(4.0).tolist()
        [0.25, 0.25]
        """
        return _inplace.div_(self, other)

    def zero_(self):
        """In place: fill with 0; returns ``self``.

        >>> tm.ones(2).zero_().tolist()
        [0.0, 0.0]
        """
        return _inplace.zero_(self)

    def fill_(self, value):
        """In place: fill with ``value``; returns ``self``.

        >>> tm.zeros(2).fill_(7).tolist()
        [7.0, 7.0]
        """
        return _inplace.fill_(self, value)

    def copy_(self, src):
        """In place: copy ``src`` (broadcast to ``self``'s shape) into ``self``; returns ``self``.

        >>> tm.zeros(2, 2).copy_(tm.tensor([1.0, 2.0])).tolist()
        [[1.0, 2.0], [1.0, 2.0]]
        """
        return _inplace.copy_(self, src)

    def clamp_(self, min=None, max=None):  # noqa: A002
        """In place: :meth:`clamp`.

        >>> tm.tensor([-2.0, 2.0]).clamp_(-1, 1).tolist()
        [-1.0, 1.0]
        """
        return _inplace.clamp_(self, min, max)

    def clamp_min_(self, min):  # noqa: A002
        """In place: :meth:`clamp_min`.

        >>> tm.tensor([-2.0, 2.0]).clamp_min_(0).tolist()
        [0.0, 2.0]
        """
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
        """Elementwise exp, as :func:`tinymm.exp`; the same shape.

        >>> tm.tensor([0.0]).exp().tolist()
        [1.0]
        """
        return _ew.exp(self)

    def sin(self):
        """Elementwise sin, as :func:`tinymm.sin`; the same shape.

        >>> tm.tensor([0.0]).sin().tolist()
        [0.0]
        """
        return _trig.sin(self)

    def cos(self):
        """Elementwise cos, as :func:`tinymm.cos`; the same shape.

        >>> tm.tensor([0.0]).cos().tolist()
        [1.0]
        """
        return _trig.cos(self)

    def log(self):
        """Elementwise log, as :func:`tinymm.log`; the same shape.

        >>> tm.tensor([1.0]).log().tolist()
        [0.0]
        """
        return _ew.log(self)

    def sqrt(self):
        """Elementwise sqrt, as :func:`tinymm.sqrt`; the same shape.

        >>> tm.tensor([4.0]).sqrt().tolist()
        [2.0]
        """
        return _ew.sqrt(self)

    def tanh(self):
        """Elementwise tanh, as :func:`tinymm.tanh`; the same shape.

        >>> tm.tensor([0.0]).tanh().tolist()
        [0.0]
        """
        return _ew.tanh(self)

    def sigmoid(self):
        """Elementwise sigmoid, as :func:`tinymm.sigmoid`; the same shape.

        >>> tm.tensor([0.0]).sigmoid().tolist()
        [0.5]
        """
        return _ew.sigmoid(self)

    def relu(self):
        """Elementwise relu, as :func:`tinymm.relu`; the same shape.

        >>> tm.tensor([-1.0, 1.0]).relu().tolist()
        [0.0, 1.0]
        """
        return _ew.relu(self)

    def abs(self):
        """Elementwise abs, as :func:`tinymm.abs`; the same shape.

        >>> tm.tensor([-1.0, 1.0]).abs().tolist()
        [1.0, 1.0]
        """
        return _ew.abs(self)

    def clamp(self, min=None, max=None):  # noqa: A002  (PyTorch's argument names)
        """Elementwise min(max(x, min), max), as :func:`tinymm.clamp` (``clip`` is the same method).

        >>> tm.tensor([-2.0, 0.5, 2.0]).clamp(-1, 1).tolist()
        [-1.0, 0.5, 1.0]
        """
        return _ew.clamp(self, min, max)

    clip = clamp

    # ----------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim: bool = False):
        """Σ over ``dim`` (None: all), as :func:`tinymm.sum`.

        >>> x = tm.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.sum().item(), x.sum(dim=0).tolist(), x.sum(1, keepdim=True).shape
        (10.0, [4.0, 6.0], (2, 1))
        """
        return _reduce.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        """The mean over ``dim`` (None: all), as :func:`tinymm.mean`.

        >>> tm.tensor([[1.0, 2.0], [3.0, 4.0]]).mean(dim=1).tolist()
        [1.5, 3.5]
        """
        return _reduce.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased: bool = True, keepdim: bool = False):
        """The variance over ``dim`` (unbiased by default), as :func:`tinymm.var`.

        >>> tm.tensor([1.0, 3.0]).var().item(), tm.tensor([1.0, 3.0]).var(unbiased=False).item()
        (2.0, 1.0)
        """
        return _reduce.var(self, dim, unbiased, keepdim)

    def std(self, dim=None, unbiased: bool = True, keepdim: bool = False):
        """√var over ``dim``, as :func:`tinymm.std`.

        >>> tm.tensor([1.0, 3.0]).std(unbiased=False).item()
        1.0
        """
        return _reduce.var(self, dim, unbiased, keepdim).sqrt()

    def amax(self, dim=None, keepdim: bool = False):
        """The maximum over ``dim`` (None, int or tuple), as :func:`tinymm.amax`.

        >>> tm.tensor([[1.0, 5.0], [3.0, 2.0]]).amax(dim=0).tolist()
        [3.0, 5.0]
        """
        return _reduce.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim: bool = False):
        """The minimum over ``dim`` (None, int or tuple), as :func:`tinymm.amin`.

        >>> tm.tensor([[1.0, 5.0], [3.0, 2.0]]).amin(dim=1).tolist()
        [1.0, 2.0]
        """
        return -_reduce.amax(-self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        """The maximum, or ``(values, indices)`` along ``dim``, as :func:`tinymm.max`.

        >>> x = tm.tensor([[1.0, 5.0], [3.0, 2.0]])
        >>> x.max().item(), x.max(dim=1).indices.tolist()
        (5.0, [1, 0])
        """
        return _reduce.max(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False):
        """The index of the first maximum along ``dim`` (flattened if None), int64.

        >>> tm.tensor([[1.0, 5.0], [3.0, 2.0]]).argmax(dim=1).tolist()
        [1, 0]
        """
        return _reduce.argmax(self, dim, keepdim)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        """The same elements in a new shape (sizes as arguments or one tuple; one may be -1).

        >>> tm.arange(6).reshape(2, -1).shape, tm.arange(6).reshape((3, 2)).shape
        ((2, 3), (3, 2))
        """
        return _shape.reshape(self, shape)

    def view(self, *shape):
        """A view with ``shape``; raises where PyTorch's stride rule needs a copy (use reshape).

        >>> tm.arange(6).view(3, 2).shape
        (3, 2)
        """
        return _shape.view(self, shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge dims ``start_dim..end_dim`` into one, as :func:`tinymm.flatten`.

        >>> tm.ones(2, 3, 4).flatten(1).shape
        (2, 12)
        """
        return _shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int):
        """Swap two dims (a view).

        >>> tm.ones(2, 3, 4).transpose(0, 2).shape
        (4, 3, 2)
        """
        return _shape.transpose(self, dim0, dim1)

    def permute(self, *dims):
        """Reorder the dims (as arguments or one tuple): output dim i is input dim ``dims[i]``.

        >>> tm.ones(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
        """
        return _shape.permute(self, dims)

    def unsqueeze(self, dim: int):
        """Insert a size-1 dim at ``dim``.

        >>> tm.ones(2, 3).unsqueeze(0).shape
        (1, 2, 3)
        """
        return _shape.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        """Drop size-1 dims (all, or only ``dim``).

        >>> tm.ones(1, 3, 1).squeeze().shape
        (3,)
        """
        return _shape.squeeze(self, dim)

    def expand(self, *sizes):
        """A broadcast view with ``sizes`` (-1 keeps a dim); size-1 dims grow without copying, and
        the gradient sums back over them.

        >>> tm.tensor([[1.0], [2.0]]).expand(2, 3).tolist()
        [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
        """
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
        """Values picked along ``dim`` by ``index``, as :func:`tinymm.gather`.

        >>> tm.tensor([[1, 2], [3, 4]]).gather(1, tm.tensor([[1], [0]])).tolist()
        [[2], [3]]
        """
        return _indexing.gather(self, dim, index, sparse_grad=sparse_grad)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """A copy with ``src`` written where ``index`` says along ``dim``, as :func:`tinymm.scatter`.

        >>> tm.zeros(3).scatter(0, tm.tensor([2]), 1.0).tolist()
        [0.0, 0.0, 1.0]
        """
        return _indexing.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        """A copy with ``src`` added where ``index`` says along ``dim``, as :func:`tinymm.scatter_add`.

        >>> tm.zeros(3).scatter_add(0, tm.tensor([0, 0]), tm.ones(2)).tolist()
        [2.0, 0.0, 0.0]
        """
        return _indexing.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        """The entries along ``dim`` listed by the 1-D ``index``, as :func:`tinymm.index_select`.

        >>> tm.tensor([10, 20, 30]).index_select(0, tm.tensor([2, 0])).tolist()
        [30, 10]
        """
        return _indexing.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        """``value`` where the bool ``mask`` is True, as :func:`tinymm.masked_fill`.

        >>> x = tm.tensor([1.0, -1.0])
        >>> x.masked_fill(x < 0, 0.0).tolist()
        [1.0, 0.0]
        """
        return _indexing.masked_fill(self, mask, value)

    def take_along_dim(self, indices, dim=None):
        """As :func:`tinymm.take_along_dim`.

        >>> x = tm.tensor([[10.0, 30.0], [6.0, 5.0]])
        >>> x.take_along_dim(x.argmax(dim=1, keepdim=True), dim=1).tolist()
        [[30.0], [6.0]]
        """
        return _indexing.take_along_dim(self, indices, dim)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """``(values, indices)`` sorted along ``dim``, as :func:`tinymm.sort`.

        >>> tm.tensor([3.0, 1.0, 2.0]).sort().values.tolist()
        [1.0, 2.0, 3.0]
        """
        return _ordering.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """The indices that sort along ``dim``, as :func:`tinymm.argsort`.

        >>> tm.tensor([3.0, 1.0, 2.0]).argsort().tolist()
        [1, 2, 0]
        """
        return _ordering.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        """The ``k`` largest values and their indices along ``dim``, as :func:`tinymm.topk`.

        >>> tm.tensor([3.0, 1.0, 2.0]).topk(2).indices.tolist()
        [0, 2]
        """
        return _ordering.topk(self, k, dim, largest, sorted)

    def min(self, dim=None, keepdim: bool = False):
        """The minimum, or ``(values, indices)`` along ``dim``, as :func:`tinymm.min`.

        >>> x = tm.tensor([[1.0, 5.0], [3.0, 2.0]])
        >>> x.min().item(), x.min(dim=1).values.tolist()
        (1.0, [1.0, 2.0])
        """
        return _ordering.min(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        """The index of the first minimum along ``dim`` (flattened if None), int64.

        >>> tm.tensor([[1.0, 5.0], [3.0, 2.0]]).argmin().item()
        0
        """
        return _ordering.argmin(self, dim, keepdim)

    def maximum(self, other):
        """The elementwise larger of ``self`` and ``other`` (broadcast).

        >>> tm.tensor([1.0, 5.0]).maximum(tm.tensor([3.0, 2.0])).tolist()
        [3.0, 5.0]
        """
        return _ordering.maximum(self, other)

    def minimum(self, other):
        """The elementwise smaller of ``self`` and ``other`` (broadcast).

        >>> tm.tensor([1.0, 5.0]).minimum(tm.tensor([3.0, 2.0])).tolist()
        [1.0, 2.0]
        """
        return _ordering.minimum(self, other)

    def cumsum(self, dim: int, *, dtype=None):
        """Running sums along ``dim``, as :func:`tinymm.cumsum`.

        >>> tm.tensor([1, 2, 3]).cumsum(0).tolist()
        [1, 3, 6]
        """
        return _accumulate.cumsum(self, dim, dtype=dtype)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None):
        """The product of all elements or along ``dim``, as :func:`tinymm.prod`.

        >>> tm.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1).tolist()
        [2.0, 12.0]
        """
        return _accumulate.prod(self, dim, keepdim, dtype=dtype)

    def logsumexp(self, dim, keepdim: bool = False):
        """log Σ exp over ``dim``, computed stably, as :func:`tinymm.logsumexp`.

        >>> round(tm.tensor([0.0, 0.0]).logsumexp(0).item(), 4)
        0.6931
        """
        return _accumulate.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
        """The p-norm over ``dim`` (None: all elements), as :func:`tinymm.norm`.

        >>> tm.tensor([3.0, 4.0]).norm().item()
        5.0
        """
        return _accumulate.norm(self, p, dim, keepdim, dtype)

    def split(self, split_size, dim: int = 0):
        """Pieces of ``split_size`` (or of the listed sizes) along ``dim``, as :func:`tinymm.split`.

        >>> [t.tolist() for t in tm.arange(5).split([3, 2])]
        [[0, 1, 2], [3, 4]]
        """
        return _layout.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0):
        """At most ``chunks`` equal pieces along ``dim``, as :func:`tinymm.chunk`.

        >>> [t.shape for t in tm.ones(4, 2).chunk(2)]
        [(2, 2), (2, 2)]
        """
        return _layout.chunk(self, chunks, dim)

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along dim i (more sizes than dims add leading dims).

        >>> tm.tensor([1, 2]).repeat(2, 2).tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
        """
        return _layout.repeat(self, *sizes)

    def tile(self, *dims):
        """As :func:`tinymm.tile`.

        >>> tm.tensor([1, 2]).tile(2).tolist()
        [1, 2, 1, 2]
        """
        return _layout.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list))
                            else dims)

    def flip(self, *dims):
        """Reverse the order along ``dims``, as :func:`tinymm.flip`.

        >>> tm.tensor([1, 2, 3]).flip(0).tolist()
        [3, 2, 1]
        """
        return _layout.flip(self, dims[0] if len(dims) == 1 else dims)

    def roll(self, shifts, dims=None):
        """Shift elements along ``dims`` (wrapping round), as :func:`tinymm.roll`.

        >>> tm.tensor([1, 2, 3]).roll(-1).tolist()
        [2, 3, 1]
        """
        return _layout.roll(self, shifts, dims)

    def tril(self, diagonal: int = 0):
        """Zeros above the ``diagonal``-th diagonal, as :func:`tinymm.tril`.

        >>> tm.ones(2, 2).tril().tolist()
        [[1.0, 0.0], [1.0, 1.0]]
        """
        return _layout.tril(self, diagonal)

    def triu(self, diagonal: int = 0):
        """Zeros below the ``diagonal``-th diagonal, as :func:`tinymm.triu`.

        >>> tm.ones(2, 2).triu().tolist()
        [[1.0, 1.0], [0.0, 1.0]]
        """
        return _layout.triu(self, diagonal)

    def clamp_min(self, min):  # noqa: A002
        """``clamp(min=min)``.

        >>> tm.tensor([-1.0, 1.0]).clamp_min(0).tolist()
        [0.0, 1.0]
        """
        return _layout.clamp_min(self, min)

    def clamp_max(self, max):  # noqa: A002
        """``clamp(max=max)``.

        >>> tm.tensor([-1.0, 1.0]).clamp_max(0).tolist()
        [-1.0, 0.0]
        """
        return _layout.clamp_max(self, max)
    def all(self, dim=None, keepdim: bool = False):
        """True where every element (over ``dim``; None: all) is non-zero, as :func:`tinymm.all`.

        >>> tm.tensor([1, 1, 0]).all().item()
        False
        """
        return _logical.all(self, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False):
        """True where some element (over ``dim``; None: all) is non-zero, as :func:`tinymm.any`.

        >>> tm.tensor([1, 1, 0]).any().item()
        True
        """
        return _logical.any(self, dim, keepdim)

    def isnan(self):
        """True where NaN (bool, same shape).

        >>> tm.tensor([1.0, float('nan')]).isnan().tolist()
        [False, True]
        """
        return _logical.isnan(self)

    def isinf(self):
        """True where ±inf (bool, same shape).

        >>> tm.tensor([1.0, float('inf')]).isinf().tolist()
        [False, True]
        """
        return _logical.isinf(self)

    def isfinite(self):
        """True where neither inf nor NaN (bool, same shape).

        >>> tm.tensor([1.0, float('inf')]).isfinite().tolist()
        [True, False]
        """
        return _logical.isfinite(self)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
        """|self − other| <= atol + rtol |other| everywhere, as :func:`tinymm.allclose` (a bool).

        >>> tm.tensor([1.0]).allclose(tm.tensor([1.0 + 1e-7]))
        True
        """
        return _logical.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        """The same shape and values, as :func:`tinymm.equal` (a bool).

        >>> tm.tensor([1, 2]).equal(tm.tensor([1, 2]))
        True
        """
        return _logical.equal(self, other)
    # everyday conveniences (tinymm/ops/convenience.py)
    def matmul(self, other):
        """Matrix product ``self @ other``, as :func:`tinymm.matmul`.

        >>> tm.ones(2, 3).matmul(tm.ones(3, 4)).shape
        (2, 4)
        """
        return _functions.matmul(self, other)

    def mul(self, other):
        """``self * other``.

        >>> tm.tensor([2.0]).mul(3).tolist()
        [6.0]
        """
        return _functions.mul(self, other)

    def add(self, other, *, alpha=1):
        """``self + alpha * other``.

        >>> tm.tensor([2.0]).add(3, alpha=2).tolist()
        [8.0]
        """
        return _functions.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other``.

        >>> tm.tensor([2.0]).sub(3).tolist()
        [-1.0]
        """
        return _functions.sub(self, other, alpha=alpha)

    def div(self, other, *, rounding_mode=None):
        """True division ``self / other``.

        >>> tm.tensor([3]).div(2).tolist()
        [1.5]
        """
        return _functions.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        """``self ** exponent``.

        >>> tm.tensor([3.0]).pow(2).tolist()
        [9.0]
        """
        return _functions.pow(self, exponent)

    def t(self):
        """The transpose of a tensor of at most 2 dims (a view).

        >>> tm.ones(2, 3).t().shape
        (3, 2)
        """
        return _convenience.t(self)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False):
        """A new tensor of ``size`` filled with ``fill_value``, with ``self``'s dtype (unless ``dtype``).

        >>> y = tm.zeros(1, dtype=tm.float64).new_full((2,), 3)
        >>> y.tolist(), y.dtype
        ([3.0, 3.0], dtype('float64'))
        """
        return _convenience.new_full(self, size, fill_value, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False):
        """A new tensor of ones with ``self``'s dtype (unless ``dtype``).

        >>> tm.tensor([1, 2]).new_ones(2, 2).tolist()
        [[1, 1], [1, 1]]
        """
        return _convenience.new_full(self, _sizes(size), 1, dtype, requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad: bool = False):
        """A new tensor of zeros with ``self``'s dtype (unless ``dtype``).

        >>> tm.ones(1).new_zeros((2,)).tolist()
        [0.0, 0.0]
        """
        return _convenience.new_full(self, _sizes(size), 0, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad: bool = False):
        """A new tensor of ``size`` with ``self``'s dtype; its values are unspecified (zeros here).

        >>> tm.ones(1).new_empty(2, 3).shape
        (2, 3)
        """
        return _convenience.new_full(self, _sizes(size), 0, dtype, requires_grad)

    def new_tensor(self, data, dtype=None, requires_grad: bool = False):
        """A new tensor holding a copy of ``data``, with ``self``'s dtype (unless ``dtype``).

        >>> tm.ones(1, dtype=tm.float64).new_tensor([1, 2]).dtype
        dtype('float64')
        """
        return Tensor(data, requires_grad=requires_grad, dtype=self.dtype if dtype is None else dtype)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        """In place: fill from U(a, b) (tinymm's generator, or ``generator``); returns ``self``.

        >>> x = tm.empty(100).uniform_(2.0, 3.0)
        >>> 2.0 <= x.min().item() and x.max().item() <= 3.0
        True
        """
        return _convenience.uniform_(self, a, b, generator)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        """In place: fill from N(mean, std²); returns ``self``.

        >>> _ = tm.manual_seed(0)
        >>> round(tm.empty(10000).normal_(5.0, 0.1).mean().item(), 1)
        5.0
        """
        return _convenience.normal_(self, mean, std, generator)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """In place: :meth:`scatter`.

        >>> tm.zeros(3).scatter_(0, tm.tensor([1]), 4.0).tolist()
        [0.0, 4.0, 0.0]
        """
        return _convenience.scatter_(self, dim, index, src, value=value, reduce=reduce)

    def type(self, dtype=None):  # noqa: A003
        """With no argument the type name (``'tinymm.FloatTensor'`` ...), else :meth:`to` that dtype.

        >>> tm.ones(1).type(), tm.ones(1).type(tm.int64).dtype
        ('tinymm.FloatTensor', dtype('int64'))
        """
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
