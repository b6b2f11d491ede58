"""The C allocator's policy for training loops: keep freed memory for the next step.

A training step allocates and frees the same large arrays (activations, gradients) every
time. With glibc's defaults, an array above the *mmap threshold* gets pages of its own from
the kernel and gives them back when freed, and free space above the *trim threshold* at the
top of the heap is given back too. Either way the next step takes the same memory again,
one page fault per 4 KiB page. On the seed model's step (batch 32, 32×32 images; a 2-core
AMD EPYC Zen 4 VM) that was ~4,000 faults and ~9 ms of a ~54 ms step, for PyTorch as much as
for tinymm (docs/performance.md, pitfall 8).

So ``import tinymm`` raises both thresholds with ``mallopt``: arrays up to 32 MiB (glibc's
largest allowed mmap threshold on 64-bit) come from the heap, and up to 512 MiB of free heap
stays with the process. Freed memory is then reused by the next step instead of being
returned and faulted in again; the peak is no higher (the model cases' peak increments fell
or stayed, docs/performance.md). The cost: after a large computation the process keeps up to
512 MiB of free heap resident until it exits or allocates it again.

The policy is process-wide, so it is easy to turn off and it yields to the user's choices:

- ``TINYMM_MALLOC=system`` leaves the allocator as it is;
- if ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or a ``glibc.malloc`` tunable in
  ``GLIBC_TUNABLES`` is set, the user has chosen: nothing is changed;
- on other C libraries (musl, macOS, Windows) nothing is changed.

:func:`policy` says what happened.
"""

from __future__ import annotations

import os
import sys
import warnings

MMAP_THRESHOLD = 32 << 20   # bytes; glibc refuses more than HEAP_MAX_SIZE / 2 = 32 MiB
TRIM_THRESHOLD = 512 << 20  # bytes
_M_TRIM_THRESHOLD = -1      # mallopt parameter numbers, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
MODES = ("tuned", "system")

_state: dict = {"applied": False, "reason": "not configured yet"}


def policy() -> dict:
    """What :func:`configure` did: ``applied`` (bool), ``reason`` (str) and, when applied,
    the two thresholds in bytes."""
    return dict(_state)


def _user_choice(environ) -> str | None:
    for name in _USER_SETTINGS:
        if name in environ:
            return f"{name} is set: the user's allocator settings are kept"
    if "glibc.malloc" in environ.get("GLIBC_TUNABLES", ""):
        return "GLIBC_TUNABLES sets glibc.malloc: the user's allocator settings are kept"
    return None


def configure(environ=None) -> bool:
    """Apply the policy (done once, when ``import tinymm`` imports this module); True if glibc
    accepted it. ``environ`` defaults to ``os.environ``."""
    global _state
    environ = os.environ if environ is None else environ
    mode = environ.get("TINYMM_MALLOC", "tuned").strip().lower() or "tuned"
    if mode not in MODES:
        warnings.warn(f"tinymm: TINYMM_MALLOC must be one of {', '.join(MODES)}, got "
                      f"{environ.get('TINYMM_MALLOC')!r}; the allocator is left as it is",
                      RuntimeWarning, stacklevel=2)
        _state = {"applied": False, "reason": "TINYMM_MALLOC has an unknown value"}
        return False
    if mode == "system":
        _state = {"applied": False, "reason": "TINYMM_MALLOC=system"}
        return False
    reason = _user_choice(environ)
    if reason is None and not sys.platform.startswith("linux"):
        reason = f"not Linux ({sys.platform}): glibc's mallopt is not there"
    if reason is None:
        reason, mallopt = _glibc_mallopt()
        if mallopt is not None:
            ok = (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                  and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
            reason = "glibc mallopt" if ok else "glibc refused the mallopt settings"
            if ok:
                _state = {"applied": True, "reason": reason,
                          "mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD}
                return True
    _state = {"applied": False, "reason": reason}
    return False


def _glibc_mallopt():
    """(reason, mallopt) where mallopt is None unless the process runs on glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version   # only glibc has it (musl does not)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "the C library is not glibc", None
    version.restype = ctypes.c_char_p
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return f"glibc {version().decode()}", mallopt


configure()
