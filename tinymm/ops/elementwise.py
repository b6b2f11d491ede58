"""Elementwise ops and matmul: forward and derivative side by side."""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._promotion import result_type
from ..autograd import Function
from ..tensor import DEFAULT_FLOAT, Tensor, _infer_array, is_scalar

# scipy.special is imported in the functions that use it: importing it takes ~0.13 s,
# a third of `import tinymm`'s time.


def operand(x: object, op: str):
    """A Tensor stays; a Python/NumPy scalar stays a scalar (NumPy's weak promotion);
    anything else array-like becomes a constant Tensor."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):
        return x.item()  # NumPy scalars promote like Python scalars, as in PyTorch
    if isinstance(x, Tensor) or is_scalar(x):
        return x
    if isinstance(x, (np.ndarray, list, tuple)):
        return Tensor._wrap(_infer_array(x, None, op))
    raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}")


def to_dtype(x, dtype: np.dtype, weak: bool = True):
    """An operand converted to the op's dtype: a Tensor is cast (differentiably). A scalar
    stays a Python scalar for a float ``dtype`` when ``weak`` (NumPy then computes it in the
    array operand's float dtype), else becomes a 0-d array of ``dtype`` (out-of-range
    integers wrap, as PyTorch's ``uint8 + 300`` does)."""
    if isinstance(x, Tensor):
        return cast(x, dtype)
    if weak and dtype.kind == "f":
        return x
    return np.asarray(x).astype(dtype)


def promoted(name: str, *xs, floating: bool = False):
    """``xs`` as operands of op ``name`` in their ``result_type`` (float32 for integer
    results when ``floating``, as true division does)."""
    xs = [operand(x, name) for x in xs]
    dtypes = {x.dtype for x in xs if isinstance(x, Tensor)}
    if len(dtypes) == 1 and next(iter(dtypes)).kind == "f":
        return xs  # one float dtype: no scalar or 0-dim tensor of it can change it
    dtype = result_type(*xs)
    if floating and dtype.kind != "f":
        dtype = DEFAULT_FLOAT
    return [to_dtype(x, dtype, weak=bool(dtypes)) for x in xs]


# ----------------------------------------------------------------------------- binary
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad  # save only what the needed gradients use
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g / b if need_a else None
        gb = -g * a / (b * b) if need_b else None
        return ga, gb


class Pow(Function):
    """``a ** b``: d/da = b a^(b-1), d/db = a^b log a."""

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b).astype(np.result_type(a, b), copy=False)  # NumPy: bool ** bool is int8
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g * b * np.power(a, b - 1) if need_a else None
        gb = None
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
        return ga, gb


class MatMul(Function):
    """``a @ b`` with NumPy's rules (1-D vectors, batched and broadcast stacks)."""

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad  # d/da uses b, d/db uses a
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.a_vector, ctx.b_vector = a.ndim == 1, b.ndim == 1
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        g2 = g  # restore the (..., m, n) dims that NumPy dropped for vector operands
        if ctx.b_vector:
            g2 = g2[..., None]
        if ctx.a_vector:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if need_a:  # treat vectors as (1, n) / (n, 1) matrices
            b2 = b[:, None] if ctx.b_vector else b
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if ctx.a_vector:
                ga = ga.squeeze(-2)
        if need_b:
            a2 = a[None, :] if ctx.a_vector else a
            gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if ctx.b_vector:
                gb = gb.squeeze(-1)
        return ga, gb


def _same_float(a, b) -> bool:
    """Two float Tensors of one dtype and shape, or a float Tensor and a Python number."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            return a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == "f"
        return a.dtype.kind == "f" and type(b) in (float, int)
    return isinstance(b, Tensor) and b.dtype.kind == "f" and type(a) in (float, int)


def _binary(fn, a, b, name, floating=False):
    a, b = operand(a, name), operand(b, name)
    if _same_float(a, b):
        return fn.apply(a, b)  # the common cases: nothing to promote or broadcast
    if not (is_scalar(a) or is_scalar(b)):
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} "
                             "do not broadcast") from None
    if fn is Sub and any(isinstance(x, (bool, np.bool_)) or getattr(x, "dtype", None) == np.bool_
                         for x in (a, b)):
        raise TypeError("sub: subtraction with a bool operand is not supported (as in PyTorch); "
                        "to invert a mask use ~, or convert to an integer dtype first")
    a, b = promoted(name, a, b, floating=floating)
    return fn.apply(a, b)


def add(a, b):
    return _binary(Add, a, b, "add")


def sub(a, b):
    return _binary(Sub, a, b, "sub")


def mul(a, b):
    return _binary(Mul, a, b, "mul")


def div(a, b):
    """True division; integer and bool operands give float32, as in PyTorch."""
    return _binary(Div, a, b, "div", floating=True)


def pow(a, b):  # noqa: A001
    """``a ** b`` in ``result_type(a, b)``; integers to negative integer powers are refused."""
    a_, b_ = operand(a, "pow"), operand(b, "pow")
    if result_type(a_, b_).kind in "biu":
        exponent = b_.data if isinstance(b_, Tensor) else np.asarray(b_)
        if (exponent < 0).any():
            raise ValueError("pow: integers to negative integer powers are not allowed; "
                             "convert the base to a float dtype first")
    return _binary(Pow, a_, b_, "pow")


def matmul(a, b):
    a, b = operand(a, "matmul"), operand(b, "matmul")
    if is_scalar(a) or is_scalar(b):
        raise TypeError("matmul: both operands must be tensors, got a scalar")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands must be at least 1-D, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
                         f"({k_a} != {k_b})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} "
                         "do not broadcast") from None
    return MatMul.apply(a, b) if a.dtype == b.dtype else MatMul.apply(*promoted("matmul", a, b))


def compare(ufunc, a, b):
    """Comparisons and logical ops: boolean results that carry no gradient.

    Comparisons compare in ``result_type(a, b)`` (``int tensor < 0.5`` compares as floats);
    a Python scalar is left to NumPy, which compares out-of-range integers exactly.
    """
    name = ufunc.__name__
    a, b = operand(a, name), operand(b, name)
    dtype = result_type(a, b) if ufunc not in (np.logical_and, np.logical_or) else None
    a, b = (x.data.astype(dtype or x.dtype, copy=False) if isinstance(x, Tensor) else x
            for x in (a, b))
    return Tensor._wrap(np.asarray(ufunc(a, b)))


# ----------------------------------------------------------------------------- unary
class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^-x), computed without overflow (scipy's expit)."""

    @staticmethod
    def forward(ctx, a):
        from scipy import special
        out = special.expit(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


def _relu_backend(a: np.ndarray) -> str | None:
    """The jit kernels take float32/float64; anything else runs the reference twin."""
    return None if a.dtype in (np.float32, np.float64) else "numpy"


class ReLU(Function):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind != "f":  # integer tensors: no gradient to keep
            return np.maximum(a, 0)
        ctx.save_for_backward(a)
        return kernels.get("relu_forward", _relu_backend(a))(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return kernels.get("relu_backward", _relu_backend(a))(g, a)


class GELU(Function):
    """Exact GELU: x Φ(x) = x/2 (1 + erf(x/√2)); d/dx = Φ(x) + x φ(x)."""

    @staticmethod
    def forward(ctx, a):
        from scipy import special
        ctx.save_for_backward(a)
        cdf = 0.5 * (1.0 + special.erf(a * np.sqrt(0.5)))
        return (a * cdf).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        from scipy import special
        (a,) = ctx.saved_tensors
        cdf = 0.5 * (1.0 + special.erf(a * np.sqrt(0.5)))
        pdf = np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)
        return (g * (cdf + a * pdf)).astype(a.dtype, copy=False)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.sign(a)


class Clamp(Function):
    """Gradient passes where min <= x <= max (inclusive, as PyTorch)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        out = a
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        keep = np.ones(a.shape, dtype=bool)
        if ctx.lo is not None:
            keep &= a >= ctx.lo
        if ctx.hi is not None:
            keep &= a <= ctx.hi
        return g * keep, None, None


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.in_dtype), None


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


_FLOAT_VALUED = ("Exp", "Log", "Sqrt", "Tanh", "Sigmoid", "GELU", "Sin", "Cos")


def _unary(fn, name):
    to_float = fn.__name__ in _FLOAT_VALUED

    def op(a):
        if not isinstance(a, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(a).__name__}")
        if to_float and a.dtype.kind in "biu":  # PyTorch: integer inputs give float32
            a = cast(a, DEFAULT_FLOAT)
        return fn.apply(a)

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} (see ``{fn.__name__}`` for the derivative)."
    return op


neg = _unary(Neg, "neg")
exp = _unary(Exp, "exp")
log = _unary(Log, "log")
sqrt = _unary(Sqrt, "sqrt")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")
relu = _unary(ReLU, "relu")
gelu = _unary(GELU, "gelu")
abs = _unary(Abs, "abs")  # noqa: A001
clone = _unary(Clone, "clone")


def clamp(a, min=None, max=None):  # noqa: A002
    for name, v in (("min", min), ("max", max)):
        if v is not None and not is_scalar(v):
            raise TypeError(f"clamp: {name} must be a number or None, got {type(v).__name__}")
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if not isinstance(a, Tensor):
        raise TypeError(f"clamp: input must be a Tensor, got {type(a).__name__}")
    dtype = result_type(a, min, max)
    a, lo, hi = (to_dtype(x, dtype) if x is not None else None for x in (a, min, max))
    return Clamp.apply(a, lo, hi)


def cast(a, dtype):
    if a.dtype == dtype:
        return a
    return Cast.apply(a, dtype)
