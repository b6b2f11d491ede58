"""Peak memory *increment* of a piece of work above the process's baseline.

Absolute RSS mostly measures the libraries (torch alone maps ~300 MiB, Numba + LLVM ~150 MiB),
and ``tracemalloc`` sees only Python's allocator (NumPy's data buffers are reported through
it, torch's C++ allocator and oneDNN's scratch space are not). So the increment is taken from
the kernel's view of the process, in a fresh worker process per framework:

1. after the imports, the model and the data exist (``setup``), the framework's runtime is
   started (``start_runtime``: one tiny operation that touches none of the model's kernels;
   its RSS growth is reported apart as ``runtime_mb``), ``gc.collect()``, and the C heap's
   free memory is given back to the kernel (``release_free_heap``, glibc's ``malloc_trim``);
   **baseline** = the current resident set (``VmRSS``);
2. the high-water mark ``VmHWM`` is reset to the current RSS by writing ``5`` to
   ``/proc/self/clear_refs`` (Linux >= 4.0; allowed for one's own process);
3. the work runs (``steps`` training steps: optimizer state, activations, gradients, and any
   one-time cost of the first call, such as loading cached kernels, are all counted);
4. **increment** = ``VmHWM - baseline``. The transient of a later step alone (``steady``)
   is measured the same way around the last step; ``after_first_mb`` is what the process
   kept after call 1 (optimizer state, cached workspaces, code of kernels loaded on first
   use: for tinymm-Numba the compiled kernels come from the on-disk cache at this point).

Why the runtime start-up is measured apart: the baseline is meant to hold the libraries, and
PyTorch's import brings its whole runtime in. Numba defers its own: the first call of *any*
compiled function builds Numba's CPU target context (some 200 modules of lowering code and
LLVM's code generator, ~62 MiB on the Zen 4 EPYC), whatever the function and even when it
is loaded from the on-disk cache. Counting that once-per-process cost as the model's would
charge the library to the work. ``increment_with_runtime_mb`` keeps the total for anyone
who wants it.

Where the reset is not possible (no /proc, or clear_refs refused) the high-water mark is
that of the whole process, including the imports; the increment is then an *upper bound*
(``VmHWM - baseline``) and ``method`` says so. Page granularity: a few KiB.
"""

from __future__ import annotations

import gc
import os
import resource


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb() -> float | None:
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024.0


def hwm_mb() -> float:
    """Peak RSS so far (VmHWM; ru_maxrss where /proc is missing), MiB."""
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS; True if it worked (checked, not assumed)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    rss, hwm = rss_mb(), hwm_mb()
    return rss is not None and hwm - rss < 1.0   # within a MiB of the current RSS


def release_free_heap() -> bool:
    """Give the C heap's free memory back to the kernel (glibc ``malloc_trim(0)``).

    Run before the baseline, for every framework alike: free heap left over from the set-up
    would otherwise sit in the baseline and be reused by the work without raising the RSS,
    and how much of it a process keeps depends on glibc's thresholds and on what the set-up
    freed. True if it ran.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):   # not glibc
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim(0)
    return True


def measure_increment(work, steps: int = 3, start_runtime=None) -> dict:
    """Run ``work()`` ``steps`` times; its peak RSS above the baseline before the first call.

    ``start_runtime`` (optional) runs before the baseline is taken; its RSS growth is
    reported as ``runtime_mb`` and is not part of ``increment_mb``.
    """
    if steps < 1:
        raise ValueError(f"measure_increment: steps must be >= 1, got {steps}")
    if start_runtime is not None and not callable(start_runtime):
        raise TypeError("measure_increment: start_runtime must be callable or None, got "
                        f"{type(start_runtime).__name__}")
    gc.collect()
    before_runtime = rss_mb()
    if before_runtime is None:
        return {"method": "unavailable: no /proc/self/status", "increment_mb": None}
    if start_runtime is not None:
        start_runtime()
        gc.collect()
    runtime = rss_mb() - before_runtime
    trimmed = release_free_heap()
    baseline = rss_mb()
    exact = reset_peak()
    after_first = None
    for i in range(steps - 1):
        work()
        if i == 0:
            after_first = (rss_mb() or 0.0) - baseline
    gc.collect()
    before_last = rss_mb()
    peak_so_far = hwm_mb()
    exact_last = reset_peak()
    work()
    peak_last = hwm_mb()
    peak = max(peak_so_far, peak_last)
    out = {
        "method": ("VmHWM reset by /proc/self/clear_refs after set-up; increment = VmHWM - "
                   "VmRSS at the baseline" if exact else
                   "no peak reset possible: VmHWM of the whole process - baseline (upper bound)"),
        "exact": exact,
        "heap_trimmed": trimmed,
        "steps": steps,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "increment_mb": peak - baseline,
        "runtime_mb": runtime,
        "increment_with_runtime_mb": peak - baseline + runtime,
        "retained_mb": (rss_mb() or 0.0) - baseline,
        # kept after call 1: optimizer state, cached workspaces, kernels loaded on first use
        "after_first_mb": after_first,
        "steady_step_mb": (peak_last - before_last) if exact_last else None,
        "pid": os.getpid(),
    }
    return out
