"""One adapter per framework, so a case is written once against PyTorch's names.

A case receives ``fw`` and uses ``fw.nn``, ``fw.F``, ``fw.optim``, ``fw.lib`` (``tinymm`` or
``torch``) and the few helpers below that differ between the two (making a tensor from a
NumPy array, reading values and gradients back as NumPy arrays). Only the worker process of a
framework imports that framework.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterable

import numpy as np

FRAMEWORKS = ("tinymm-numba", "tinymm-numpy", "torch")
# What a user might pick instead: never run unless asked (run.py --alternatives / --frameworks),
# never required (an adapter whose package is missing reports "unavailable").
ALTERNATIVES = ("torch-compile", "mygrad", "tinygrad")
ALL_FRAMEWORKS = FRAMEWORKS + ALTERNATIVES
SHORT = {"tinymm-numba": "numba", "tinymm-numpy": "numpy", "torch": "torch",
         "torch-compile": "torch.compile", "mygrad": "mygrad", "tinygrad": "tinygrad"}


class Framework:
    """The names a case needs, bound to one framework."""

    name: str
    lib: object
    nn: object
    F: object
    optim: object

    def tensor(self, array: np.ndarray, requires_grad: bool = False):
        raise NotImplementedError

    def numpy(self, t) -> np.ndarray:
        raise NotImplementedError

    def grad(self, t) -> np.ndarray | None:
        raise NotImplementedError

    def no_grad(self):
        return self.lib.no_grad()

    def cat(self, tensors, dim: int = 0):
        return self.lib.cat(tensors, dim)

    def version(self) -> str:
        return str(self.lib.__version__)

    def start_runtime(self) -> None:
        """One tiny operation that starts the framework's runtime and touches no model kernel.

        Run before the memory baseline (benchmarks/memory.py): it moves what a library loads
        on its first call of anything into the baseline, where the library's import already is.
        """


def _numba_runtime_probe(x):
    return x + 1


class TinymmFramework(Framework):
    def __init__(self, backend: str):
        tm = importlib.import_module("tinymm")
        tm.set_backend(backend)
        self.name = f"tinymm-{backend}"
        self.backend = backend
        self.lib = tm
        self.nn = tm.nn
        self.F = importlib.import_module("tinymm.functional")
        self.optim = tm.optim

    def tensor(self, array, requires_grad=False):
        return self.lib.tensor(np.array(array, copy=True), requires_grad=requires_grad)

    def numpy(self, t):
        return np.array(t.data, copy=True)

    def grad(self, t):
        return None if t.grad is None else np.array(t.grad, copy=True)

    def start_runtime(self) -> None:
        if self.backend == "numba":
            # the first call of any compiled function builds Numba's CPU target context
            from numba import njit

            njit(cache=True)(_numba_runtime_probe)(1)

    def version(self) -> str:
        import numpy

        parts = [f"tinymm {self.lib.__version__}", f"numpy {numpy.__version__}"]
        if self.backend == "numba":
            import numba

            parts.append(f"numba {numba.__version__}")
        return ", ".join(parts)


class TorchFramework(Framework):
    def __init__(self, threads: int):
        torch = importlib.import_module("torch")
        torch.set_num_threads(threads)
        self.name = "torch"
        self.lib = torch
        self.nn = torch.nn
        self.F = importlib.import_module("torch.nn.functional")
        self.optim = torch.optim

    def tensor(self, array, requires_grad=False):
        t = self.lib.from_numpy(np.array(array, copy=True))
        return t.requires_grad_(requires_grad) if requires_grad else t

    def numpy(self, t):
        return t.detach().cpu().numpy().copy()

    def grad(self, t):
        return None if t.grad is None else t.grad.detach().cpu().numpy().copy()

    def start_runtime(self) -> None:
        # the dispatcher, a GEMM and the autograd engine's first backward
        x = self.lib.ones(4, 4, requires_grad=True)
        (x @ x).sum().backward()

    def version(self) -> str:
        return f"torch {self.lib.__version__}"


class TorchCompileFramework(TorchFramework):
    """PyTorch with each case's step wrapped in ``torch.compile`` (inductor, CPU).

    ``name`` stays "torch" so that case code builds exactly what the eager column builds;
    only :meth:`wrap` differs. The first calls compile (warm-up, excluded from timing).
    Inductor needs a C++ compiler on CPU; without one the adapter is unavailable.
    """

    def __init__(self, threads: int):
        super().__init__(threads)
        import shutil

        if not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
            raise ImportError("torch.compile (inductor) needs a C++ compiler: none on PATH")
        self.label = "torch-compile"

    def wrap(self, bench):
        bench.step = self.lib.compile(bench.step)
        return bench

    def version(self) -> str:
        return f"torch {self.lib.__version__} (torch.compile, inductor)"


def make(name: str, threads: int) -> Framework:
    """The adapter of framework ``name`` (imports that framework).

    Raises ImportError when the framework is not installed (the worker reports the case as
    "unavailable"), ValueError for an unknown name.
    """
    if name == "torch":
        return TorchFramework(threads)
    if name == "torch-compile":
        return TorchCompileFramework(threads)
    if name in ("tinymm-numba", "tinymm-numpy"):
        return TinymmFramework(name.split("-", 1)[1])
    if name in ("mygrad", "tinygrad"):
        from . import frameworks_alt

        return frameworks_alt.make(name, threads)
    raise ValueError(f"make: framework must be one of {ALL_FRAMEWORKS}, got {name!r}")


# ----------------------------------------------------------------------------- seeded data
def seeded_array(seed: int, name: str, shape: Iterable[int], scale: float | None = None,
                 dtype=np.float32) -> np.ndarray:
    """A reproducible array for ``name``: the same in every process and framework.

    With ``scale=None`` the bound follows PyTorch's default fan-in rule for weights
    (``1/sqrt(prod(shape[1:]))``); 1-D ``*weight`` arrays (norm scales) sit around 1.
    """
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if scale is None:
        if len(shape) >= 2:
            scale = 1.0 / np.sqrt(max(1, int(np.prod(shape[1:]))))
        else:
            scale = 0.1
    out = rng.uniform(-scale, scale, size=shape)
    if len(shape) == 1 and name.endswith("weight") and scale == 0.1:
        out += 1.0
    return out.astype(dtype)


def seed_parameters(fw: Framework, module, seed: int) -> dict[str, tuple[int, ...]]:
    """Overwrite every floating parameter/buffer of ``module`` with ``seeded_array`` values.

    Keys come from the module's own ``state_dict``, so two frameworks whose layers follow
    PyTorch's names and layouts get identical weights. Returns name -> shape.
    """
    shapes = {}
    new = {}
    for name, value in module.state_dict().items():
        arr = fw.numpy(value) if not isinstance(value, np.ndarray) else value
        if arr.dtype.kind != "f":
            new[name] = value
            continue
        shapes[name] = tuple(arr.shape)
        new[name] = fw.tensor(seeded_array(seed, name, arr.shape, dtype=arr.dtype))
    module.load_state_dict(new)
    return shapes

