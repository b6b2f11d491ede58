"""Kernel tables: every differentiable op's array code, in two interchangeable twins.

``tinymm.kernels`` is pure array code: plain functions from C-contiguous ndarrays to
ndarrays, with no Tensor, no autograd and no input validation (the callers in
``tinymm.functional`` validate first). Each op family lives in one module under
``reference/`` (NumPy, written to be read, the ground truth) and one module of the same
name under ``jit/`` (Numba, written to be fast, same signatures).

A *backend* is a table ``name -> function``. The ``"numpy"`` table holds every reference
kernel. The ``"numba"`` table is the reference table overlaid by the jit kernels, so a
kernel whose fast twin would only repeat a BLAS call may stay reference-only; use
:func:`jit_names` to see which kernels really have a Numba twin.

Example::

    from tinymm import kernels
    with kernels.backend("numpy"):
        y = kernels.get("softmax_forward")(x)
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import time
from collections.abc import Callable, Iterator

# One module per op family, in reference/ and jit/ alike. Each lists its kernels in __all__.
FAMILIES = (
    "activation",
    "softmax",
    "conv",
    "conv_grouped",
    "pool",
    "recurrent",
    "attention",
    "norm",
    "embedding",
    "optim",
    "quant",
    "indexing",
)
BACKENDS = ("numba", "numpy")

_tables: dict[str, dict[str, Callable]] = {}
_jit_names: frozenset[str] | None = None
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tinymm_backend", default=None
)


def numba_available() -> bool:
    """True when Numba imports and JIT compilation is not disabled."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


_default: str | None = None


def _default_backend() -> str:
    """"numba" if it is usable, else "numpy"; decided once (every kernel call asks)."""
    global _default
    if _default is None:
        _default = "numba" if numba_available() else "numpy"
    return _default


def _load_table(package: str) -> dict[str, Callable]:
    table: dict[str, Callable] = {}
    for family in FAMILIES:
        module = importlib.import_module(f"{__name__}.{package}.{family}")
        for name in getattr(module, "__all__", ()):
            table[name] = getattr(module, name)
    return table


def _table(backend_name: str) -> dict[str, Callable]:
    global _jit_names
    table = _tables.get(backend_name)
    if table is None:
        reference = _tables.get("numpy") or _load_table("reference")
        _tables["numpy"] = reference
        if backend_name == "numba":
            jit = _load_table("jit")
            _jit_names = frozenset(jit)
            unknown = sorted(set(jit) - set(reference))
            if unknown:
                raise RuntimeError(f"jit kernels without a reference twin: {unknown}")
            _tables["numba"] = {**reference, **jit}
        table = _tables[backend_name]
    return table


def get_backend() -> str:
    """The name of the kernel backend in force: ``"numba"`` (default) or ``"numpy"``.

    The default is ``"numba"`` when numba is installed and ``NUMBA_DISABLE_JIT`` is unset,
    else ``"numpy"``; ``set_backend`` and ``backend`` change it for the current context.

    >>> tm.get_backend() in ("numba", "numpy")
    True
    >>> with tm.backend("numpy"):
    ...     print(tm.get_backend())
    numpy
    """
    name = _current.get()
    return name if name is not None else _default_backend()


def _check_backend(name: object, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where}: backend must be a str, one of {BACKENDS}; got {type(name).__name__}")
    if name not in BACKENDS:
        raise ValueError(f"{where}: backend must be one of {BACKENDS}; got {name!r}")
    if name == "numba" and not numba_available():
        raise ValueError(
            f"{where}: the 'numba' backend needs numba installed and NUMBA_DISABLE_JIT unset"
        )
    return name


def set_backend(name: str) -> None:
    """Select the kernel backend for this context (thread / task): ``"numba"`` or ``"numpy"``.

    Both backends compute the same results; ``"numpy"`` runs the reference kernels.

    >>> previous = tm.get_backend()
    >>> tm.set_backend("numpy")
    >>> tm.get_backend(), (tm.ones(2, 2) @ tm.ones(2, 2)).tolist()
    ('numpy', [[2.0, 2.0], [2.0, 2.0]])
    >>> tm.set_backend(previous)    # restore
    """
    _current.set(_check_backend(name, "set_backend"))


@contextlib.contextmanager
def backend(name: str) -> Iterator[str]:
    """Run a block with another kernel backend: ``with tm.backend("numpy"): ...``.

    The previous backend is back in force when the block ends (even on an exception).

    >>> before = tm.get_backend()
    >>> with tm.backend("numpy") as name:
    ...     y = tm.tensor([1.0, -2.0]).relu()
    >>> name, y.tolist(), tm.get_backend() == before
    ('numpy', [1.0, 0.0], True)
    """
    token = _current.set(_check_backend(name, "backend"))
    try:
        yield name
    finally:
        _current.reset(token)


def get(name: str, backend_name: str | None = None) -> Callable:
    """The kernel called ``name`` in the backend in force (or in ``backend_name``)."""
    chosen = backend_name or get_backend()
    table = _table(chosen)
    try:
        fn = table[name]
    except KeyError:
        raise KeyError(f"kernels.get: no kernel named {name!r}") from None
    log = _trace.get()
    if log is not None:
        log.append((name, chosen, fn))
    return fn


_trace: contextvars.ContextVar[list | None] = contextvars.ContextVar("tinymm_kernel_trace",
                                                                    default=None)


@contextlib.contextmanager
def trace() -> Iterator[list[tuple[str, str, Callable]]]:
    """Record every kernel fetched with :func:`get` inside the block (this context only).

    Yields a list that fills with ``(name, backend, function)``; ``tinymm.testing`` uses it
    to tell whether a Numba run really ran a Numba twin::

        with kernels.trace() as ran:
            F.softmax(x, dim=-1)
        assert ran[0][:2] == ("softmax_forward", "numba")
    """
    log: list[tuple[str, str, Callable]] = []
    token = _trace.set(log)
    try:
        yield log
    finally:
        _trace.reset(token)


def names(backend_name: str = "numpy") -> list[str]:
    """Every kernel name in a backend's table, sorted."""
    return sorted(_table(backend_name))


def jit_names() -> list[str]:
    """The kernels that have a real Numba twin (the rest run their reference twin)."""
    _table("numba")
    return sorted(_jit_names or ())


def warmup(verbose: bool = False) -> dict[str, float]:
    """Compile (or load from Numba's on-disk cache) every jit kernel once.

    Each jit family module may define ``warmup()``, which calls its kernels on tiny inputs
    of every dtype they support. Returns seconds per family plus ``"total"``.
    """
    if not numba_available():
        return {"total": 0.0}
    times: dict[str, float] = {}
    start_all = time.perf_counter()
    for family in FAMILIES:
        module = importlib.import_module(f"{__name__}.jit.{family}")
        fn = getattr(module, "warmup", None)
        if fn is None:
            continue
        start = time.perf_counter()
        fn()
        times[family] = time.perf_counter() - start
        if verbose:
            print(f"warmup {family:<12s} {times[family]:7.2f} s")
    times["total"] = time.perf_counter() - start_all
    return times
