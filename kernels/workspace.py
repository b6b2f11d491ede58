"""Per-thread scratch buffers that kernels reuse across calls, and the rule that keeps them safe.

Fresh large arrays cost a page fault per 4 KiB page on every call (~2 µs each on these
VMs, docs/performance.md pitfall 2), so temporaries that die inside one kernel call live here: one
grow-only byte buffer per (thread, key), handed out as a C-contiguous view of the asked
shape and dtype. Its contents are garbage until written. Two live temporaries of one call
need two keys.

The rule (no exception)
-----------------------
**No workspace buffer, and no view of one, ever reaches a returned array (what becomes a
Tensor or a gradient) or ``ctx.save_for_backward``.** The next call with the same key hands
the same memory out again and overwrites it, so an escaped view silently changes a result the
caller already holds (issue 10, finding 1: a transposed view that happened to be contiguous for
one query token was never copied out of ``mha.projection``; the next projection overwrote the
saved heads). The same holds for any pool that recycles *outputs*: a returned or saved array
is always a fresh allocation that the caller owns.

How to follow it:

* compute into the workspace, then **copy out** into a fresh array exactly where a result
  leaves the kernel (``np.copyto(np.empty(...), view)``, or write the final pass straight into
  the fresh output). Never rely on ``np.ascontiguousarray`` to copy: it returns its argument
  unchanged when that is already contiguous (one token, one head, batch 1, ...);
* a result may be a view of a *fresh* array, never of a workspace;
* do not return a workspace-backed array "because the caller copies it": the caller is autograd,
  which may keep it.

Checking mode
-------------
With the environment variable ``TINYMM_CHECK_WORKSPACE=1`` (read at import) or inside
``with tinymm.kernels.workspace.checking():``, every buffer is filled with NaN (all bits set:
NaN for floats, -1 for integers) each time :func:`workspace` hands it out, so any escaped view
turns into NaN on the next call, and a kernel that reads scratch memory before writing it
reads NaN. :func:`check_no_escape` then also raises ``RuntimeError`` when an op's output or
saved array lies in a workspace buffer (autograd calls it for every Function in checking
mode). CI runs the whole test suite once more in this mode.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterable, Iterator

import numpy as np

__all__ = ["workspace", "release", "checking", "checking_enabled", "check_no_escape"]

_local = threading.local()
# Every live workspace buffer of every thread, by id (the check looks across threads: the
# attention kernels run half of a big batch on a pool thread with its own buffers).
_all_buffers: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()
_checking = 1 if os.environ.get("TINYMM_CHECK_WORKSPACE", "0") not in ("", "0") else 0
_lock = threading.Lock()


def checking_enabled() -> bool:
    """True when workspace buffers are poisoned with NaN on hand-out (see the module docstring)."""
    return _checking > 0


@contextlib.contextmanager
def checking() -> Iterator[None]:
    """``with checking():`` turns the checking mode on for the block (all threads; re-entrant)."""
    global _checking
    with _lock:
        _checking += 1
    try:
        yield
    finally:
        with _lock:
            _checking -= 1


def workspace(key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape``/``dtype``, reused per (thread, key).

    Scratch only: see the module's rule. In checking mode the array is filled with NaN.
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    buf = getattr(_local, key, None)
    if buf is None or buf.size < nbytes:
        buf = np.empty(max(nbytes, 1), np.uint8)
        setattr(_local, key, buf)
        _all_buffers[id(buf)] = buf
    if _checking:
        buf.fill(0xFF)  # every byte 0xFF: NaN for float32/float64, -1 for integers
    return buf[:nbytes].view(dtype).reshape(shape)


def release() -> None:
    """Free this thread's scratch buffers (they grow to the largest request seen so far)."""
    _local.__dict__.clear()


def _owner(array: np.ndarray) -> object:
    """The object at the end of ``array``'s ``.base`` chain (the array owning the memory)."""
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base


def check_no_escape(where: str, arrays: Iterable) -> None:
    """Raise ``RuntimeError`` if any ndarray in ``arrays`` is (a view of) a workspace buffer.

    ``where`` names the op in the message. Non-arrays (None, floats, tuples of settings) are
    skipped. Cheap (a walk up each ``.base`` chain), but only called in checking mode.
    """
    for a in arrays:
        if isinstance(a, np.ndarray) and id(owner := _owner(a)) in _all_buffers \
                and _all_buffers.get(id(owner)) is owner:
            raise RuntimeError(
                f"{where}: an output or saved array of shape {a.shape} is a view of a reused "
                "workspace buffer (kernels/workspace.py): copy it out into a fresh array")
