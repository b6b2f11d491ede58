"""The correctness guard: tinymm's outputs must agree with PyTorch's before anything is timed.

Each worker saves the arrays its case exposes (forward outputs, input and parameter gradients,
or parameter updates after an optimizer step) to an ``.npz`` file; :func:`compare` checks every
array of a candidate against the reference with a *normwise* float32 tolerance:

    max|a - b| <= rtol * max(max|b|, tiny)   for each array,

which is robust to large reductions (conv weight gradients sum thousands of terms) yet rejects
a wrong kernel (a wrong sign, a missing term, a transposed weight) by orders of magnitude.

Optimizer updates (keys ``update.*``) get another rule. At Adam's first step an element moves
by lr * g / (|g| + eps): ±lr wherever |g| >> eps, whatever g's size, so an element whose true
gradient is ~0 moves by ±lr on float32 noise alone and a normwise test would compare noise.
The rule: at most ``UPDATE_FRACTION`` (1 %) of the elements may differ by more than
``UPDATE_TOL`` (10 %) of the largest update. A wrong optimizer (wrong lr, sign, bias
correction, a skipped parameter) moves almost every element wrongly and is rejected; the
gradients themselves are checked normwise under ``grad.*``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UPDATE_TOL = 0.1
UPDATE_FRACTION = 0.01


@dataclass
class CheckResult:
    ok: bool
    worst_key: str | None = None
    worst_err: float = 0.0                 # normwise relative error of the worst array
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"ok (worst {self.worst_key}: {self.worst_err:.1e})" if self.worst_key else "ok"
        return "; ".join(self.problems[:4]) + (" ..." if len(self.problems) > 4 else "")


CHUNK = 1 << 20  # elements per step, so that 177M-element gradients need no float64 copy


def _chunks(a: np.ndarray, b: np.ndarray):
    fa, fb = a.reshape(-1), b.reshape(-1)
    for i in range(0, fa.size, CHUNK):
        yield fa[i:i + CHUNK].astype(np.float64), fb[i:i + CHUNK].astype(np.float64)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a-b| / max|b| (with max|b| floored so that all-zero references work)."""
    if np.size(a) == 0:
        return 0.0
    diff, scale = 0.0, 1e-6
    for ca, cb in _chunks(np.asarray(a), np.asarray(b)):
        diff = max(diff, float(np.max(np.abs(ca - cb))))
        scale = max(scale, float(np.max(np.abs(cb))))
    return diff / scale


def update_error(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of elements of update ``a`` off by more than UPDATE_TOL * max|b|."""
    a, b = np.asarray(a), np.asarray(b)
    if b.size == 0:
        return 0.0
    scale = max(max(float(np.max(np.abs(cb))) for _, cb in _chunks(a, b)), 1e-12)
    off = sum(int(np.count_nonzero(np.abs(ca - cb) > UPDATE_TOL * scale))
              for ca, cb in _chunks(a, b))
    return off / b.size


def compare(candidate, reference, rtol: float = 2e-3) -> CheckResult:
    """Compare every array of ``reference`` with the same key in ``candidate``.

    Both are mappings key -> array; lazy ones (``np.load`` of an ``.npz``) are read one key
    at a time, so comparing two 1.4 GB gradient files needs little memory.
    """
    problems = []
    worst_key, worst = None, 0.0
    missing = sorted(set(reference) - set(candidate))
    extra = sorted(set(candidate) - set(reference))
    if missing:
        problems.append(f"missing outputs {missing}")
    if extra:
        problems.append(f"unexpected outputs {extra}")
    for key in sorted(set(reference) & set(candidate)):
        a, b = np.asarray(candidate[key]), np.asarray(reference[key])
        if a.shape != b.shape:
            problems.append(f"{key}: shape {a.shape} != {b.shape}")
            continue
        if not np.all(np.isfinite(a)):
            problems.append(f"{key}: non-finite values")
            continue
        if key.startswith("update."):
            frac = update_error(a, b)
            if frac > UPDATE_FRACTION:
                problems.append(f"{key}: {100 * frac:.1f}% of the elements differ by more than "
                                f"{UPDATE_TOL:.0%} of the largest update")
            continue
        err = relative_error(a, b)
        if err > worst or worst_key is None:
            worst_key, worst = key, err
        if not err <= rtol:
            problems.append(f"{key}: rel err {err:.2e} > {rtol:.0e}")
    return CheckResult(ok=not problems, worst_key=worst_key, worst_err=worst, problems=problems)


def compare_files(candidate_path: str, reference_path: str, rtol: float = 2e-3) -> CheckResult:
    with np.load(candidate_path) as c, np.load(reference_path) as r:
        return compare(c, r, rtol)
