"""tinymm: a minimal autograd engine in NumPy with Numba-JIT kernels, for multimodal learning.

    import tinymm as tm
    from tinymm import nn, optim
    import tinymm.functional as F
"""

from . import autograd  # noqa: F401, I001  (autograd first: it and tensor import each other)
from .tensor import Tensor, float32, float64, int64
from .autograd import Function, no_grad, enable_grad, is_grad_enabled
from .ops.shape import cat, stack, where
from .random import manual_seed
from .creation import tensor, zeros, ones, full, randn, rand, arange, zeros_like, ones_like, from_numpy
from .gradcheck import gradcheck, GradcheckError
from .kernels import set_backend, get_backend, backend
from . import kernels, functional, nn, optim
from .serialization import save, load
# PyTorch-surface ops and factories (h6): top-level functions mirroring the Tensor methods.
from .ops.functions import *  # noqa: F403, E402
from .ops import functions as _functions  # noqa: E402
from .creation import (  # noqa: E402
    eye, linspace, randint, randperm, empty, empty_like, full_like, rand_like, randn_like,
)
from .random import Generator  # noqa: E402
from . import return_types  # noqa: E402
from .interop import from_torch

__version__ = "0.1.0"

_LAZY_SUBPACKAGES = ("data", "models", "train", "testing")


def __getattr__(name: str):
    """``tm.data``, ``tm.models``, ``tm.train`` and ``tm.testing`` load on first use, so that
    ``import tinymm`` stays light (``testing`` needs hypothesis)."""
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tinymm' has no attribute {name!r}")


int32 = __import__("numpy").dtype("int32")
bool = __import__("numpy").dtype("bool")  # noqa: A001  (torch.bool)

__all__ = [
    "Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled",
    "float32", "float64", "int64", "int32", "bool",
    "zeros", "ones", "full", "randn", "rand", "arange", "zeros_like", "ones_like", "from_numpy",
    "cat", "stack", "where", "manual_seed", "gradcheck", "GradcheckError",
    "set_backend", "get_backend", "backend", "kernels", "functional", "nn", "optim",
    "save", "load", "from_torch",
]
__all__ += [*_functions.__all__, "eye", "linspace", "randint", "randperm", "empty", "empty_like",
            "full_like", "rand_like", "randn_like", "Generator", "return_types"]

# PyTorch's dtype aliases and legacy typed constructors
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
from .ops.convenience import legacy_tensor as _legacy  # noqa: E402

FloatTensor, DoubleTensor = _legacy(float32, "FloatTensor"), _legacy(float64, "DoubleTensor")
LongTensor, BoolTensor = _legacy(int64, "LongTensor"), _legacy(bool, "BoolTensor")
