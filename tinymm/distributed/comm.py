"""The process group: who am I, how many are we, and the collectives, over MPI (mpi4py).

tinymm runs data-parallel training on MPI, the proven engine of HPC clusters, rather than a
protocol of its own: start a job with ``mpiexec -n 4 python train.py`` (any MPI: MPICH's
wheel, ``pip install mpich mpi4py``, Open MPI, Intel MPI), call :func:`init`, and every
process learns its rank and the world size from the MPI environment.

Without mpi4py, or in a process not started by ``mpiexec``, the world has one process:
rank 0, size 1, and every collective returns its input unchanged, so the same script runs
on a laptop and on a cluster.

Collectives move NumPy buffers with MPI's buffer protocol (the upper-case mpi4py calls): no
array is ever pickled. They accept a ``Tensor`` (its ``.data`` is reduced in place and its
version bumped, as an in-place write) or a C-contiguous ``ndarray`` of a dtype MPI knows
(bool, integers, float32, float64; float16 is refused).
"""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np

__all__ = ["init", "is_initialized", "get_rank", "get_world_size", "barrier", "all_reduce",
           "broadcast", "all_gather", "is_available", "finalize_on_error"]

_OPS = ("sum", "prod", "min", "max", "mean", "avg")
_DTYPES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8")


class _World:
    """The communicator tinymm uses: MPI's COMM_WORLD, or a world of one."""

    def __init__(self, comm=None):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()


_world: _World | None = None


def is_available() -> bool:
    """True if mpi4py can be imported (MPI itself is only started by :func:`init`).

    >>> import tinymm.distributed as dist
    >>> isinstance(dist.is_available(), bool)
    True
    """
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _launched_by_mpi() -> bool:
    """True if an MPI launcher (mpiexec of MPICH, Open MPI, Intel MPI, Slurm's PMI) started us."""
    markers = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
               "HYDI_CONTROL_FD")
    return any(m in os.environ for m in markers)


def init(abort_on_error: bool = True) -> tuple[int, int]:
    """Join the MPI world (idempotent); returns ``(rank, world_size)``.

    In a process started by ``mpiexec`` this needs mpi4py and raises ``ImportError`` naming
    the packages to install if it is missing; elsewhere it gives a world of one without
    touching MPI. With ``abort_on_error`` (the default), an uncaught exception on any rank
    prints that rank's traceback and aborts the whole job, so a failing rank never leaves
    the others waiting forever in a collective.

    >>> import tinymm.distributed as dist
    >>> dist.get_rank(), dist.get_world_size()      # before init, or without MPI: a world of one
    (0, 1)
    """
    global _world
    if _world is not None:
        return _world.rank, _world.size
    if not _launched_by_mpi():
        _world = _World()
        return 0, 1
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("tinymm.distributed.init: this process was started by an MPI launcher "
                          "but mpi4py is not installed; install it with "
                          "`pip install mpich mpi4py` (or `pip install tinymm[distributed]`)") from None
    _world = _World(MPI.COMM_WORLD)
    if abort_on_error and _world.size > 1:
        finalize_on_error()
    return _world.rank, _world.size


def finalize_on_error() -> None:
    """Make an uncaught exception on this rank abort every rank of the job (exit code 1)."""
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        rank = get_rank()
        sys.stderr.write(f"[tinymm rank {rank}] uncaught {kind.__name__}; aborting the MPI job\n")
        sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        sys.stderr.flush()
        if previous is not sys.__excepthook__:
            previous(kind, value, tb)
        _world.comm.Abort(1)

    sys.excepthook = abort_job


def is_initialized() -> bool:
    """True once :func:`init` has run.

    >>> import tinymm.distributed as dist
    >>> isinstance(dist.is_initialized(), bool)
    True
    """
    return _world is not None


def _get_world() -> _World:
    return _world if _world is not None else _World()


def get_rank() -> int:
    """This process's rank (0 in a world of one, or before :func:`init`).

    >>> import tinymm.distributed as dist
    >>> dist.get_rank()
    0
    """
    return _get_world().rank


def get_world_size() -> int:
    """The number of processes (1 without MPI, or before :func:`init`).

    >>> import tinymm.distributed as dist
    >>> dist.get_world_size()
    1
    """
    return _get_world().size


def barrier() -> None:
    """Wait until every rank has called ``barrier``.

    In a world of one it returns at once.

    >>> import tinymm.distributed as dist
    >>> dist.barrier()
    """
    world = _get_world()
    if world.comm is not None:
        world.comm.Barrier()


# --------------------------------------------------------------------------- buffers
def _buffer(fn: str, x, name: str = "x") -> tuple[np.ndarray, object]:
    """(a C-contiguous array to communicate, the Tensor or array to write back into)."""
    from ..tensor import Tensor

    arr = x.data if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a tinymm Tensor or a numpy ndarray, "
                        f"got {type(x).__name__}")
    if arr.dtype.str[1:] not in _DTYPES:
        raise TypeError(f"{fn}: {name} has dtype {arr.dtype}, which MPI collectives here do not "
                        f"carry; expected bool, an integer type, float32 or float64")
    return arr, x


def _write_back(target, result: np.ndarray) -> None:
    from ..tensor import Tensor

    arr = target.data if isinstance(target, Tensor) else target
    if result is not arr:
        arr[...] = result
    if isinstance(target, Tensor):
        target._bump_version()  # an in-place write, as torch.distributed's collectives


def _mpi_op(fn: str, op: str):
    from mpi4py import MPI

    if op not in _OPS:
        raise ValueError(f"{fn}: op must be one of {_OPS}, got {op!r}")
    return {"sum": MPI.SUM, "mean": MPI.SUM, "avg": MPI.SUM, "prod": MPI.PROD,
            "min": MPI.MIN, "max": MPI.MAX}[op]


def all_reduce(x, op: str = "sum"):
    """Reduce ``x`` over every rank, in place, and return it (as ``torch.distributed.all_reduce``).

    ``op``: ``"sum"`` (default), ``"prod"``, ``"min"``, ``"max"`` or ``"mean"``/``"avg"``
    (the sum divided by the world size; floating-point dtypes only).

    In a world of one every reduction leaves ``x`` as it is:

    >>> import tinymm.distributed as dist
    >>> dist.all_reduce(np.array([1.0, 2.0]), op="mean").tolist()
    [1.0, 2.0]
    """
    fn = "all_reduce"
    if not isinstance(op, str) or op not in _OPS:
        raise ValueError(f"{fn}: op must be one of {_OPS}, got {op!r}")
    arr, target = _buffer(fn, x)
    if arr.dtype.kind == "b":
        raise TypeError(f"{fn}: cannot reduce a bool array (MPI has no arithmetic on bool); "
                        "convert it to an integer dtype first")
    if op in ("mean", "avg") and arr.dtype.kind != "f":
        raise TypeError(f"{fn}: op={op!r} needs a floating-point dtype, got {arr.dtype}")
    world = _get_world()
    if world.comm is None:
        return x
    from mpi4py import MPI

    work = arr if arr.flags.c_contiguous and arr.flags.writeable else np.ascontiguousarray(arr)
    world.comm.Allreduce(MPI.IN_PLACE, work, op=_mpi_op(fn, op))
    if op in ("mean", "avg"):
        work /= work.dtype.type(world.size)
    _write_back(target, work)
    return x


def broadcast(x, src: int = 0):
    """Overwrite ``x`` on every rank with rank ``src``'s ``x``, in place; returns ``x``.

    >>> import tinymm.distributed as dist
    >>> dist.broadcast(tm.tensor([3.0]), src=0).tolist()
    [3.0]
    """
    fn = "broadcast"
    arr, target = _buffer(fn, x)
    world = _get_world()
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < world.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {world.size}), got {src!r}")
    if world.comm is None:
        return x
    work = arr if arr.flags.c_contiguous and arr.flags.writeable else np.ascontiguousarray(arr)
    world.comm.Bcast(work, root=int(src))
    _write_back(target, work)
    return x


def all_gather(x) -> list:
    """Every rank's ``x``, in rank order, on every rank (same shape and dtype on all ranks).

    Returns a list of arrays, or of Tensors if ``x`` is a Tensor.

    >>> import tinymm.distributed as dist
    >>> [a.tolist() for a in dist.all_gather(np.arange(2))]       # one entry per rank
    [[0, 1]]
    """
    from ..tensor import Tensor

    fn = "all_gather"
    arr, _ = _buffer(fn, x)
    world = _get_world()
    wrap = (lambda a: Tensor(a)) if isinstance(x, Tensor) else (lambda a: a)
    if world.comm is None:
        return [wrap(arr.copy())]
    meta = world.comm.allgather((arr.shape, arr.dtype.str))  # a few bytes of metadata
    if any(m != meta[0] for m in meta):
        raise ValueError(f"{fn}: every rank must give the same shape and dtype, got "
                         + ", ".join(f"rank {r}: {s} {d}" for r, (s, d) in enumerate(meta)))
    out = np.empty((world.size,) + arr.shape, dtype=arr.dtype)
    world.comm.Allgather(np.ascontiguousarray(arr), out)
    return [wrap(out[r]) for r in range(world.size)]
