"""Cases issue 16's targets name that ``cases_ops`` does not define (yet).

- ``adam_6m_fused`` / ``adamw_6m_fused``: one optimizer step over the seed model's 6.3M
  parameters against ``torch.optim.Adam(fused=True)`` / ``AdamW(fused=True)``, PyTorch's
  fastest CPU path (the honest anchor). tinymm's optimizers have one path (a fused Numba
  kernel per parameter), so the tinymm side is the same in both Adam cases.
- ``adamw_6m``: AdamW against PyTorch's default (for-each) implementation, an extra row.
- ``log_softmax_fwd`` / ``_fb``: the shape of the softmax case.

:func:`cases` skips any name already defined elsewhere (another module may add the same case):
the first definition wins, so a merge never yields duplicate names.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .case import Bench, Case, data, op_bench
from .cases_ops import BATCH, SEED_MODEL_SHAPES
from .frameworks import Framework


def _optimizer(fw: Framework, seed: int, kind: str, fused: bool) -> Bench:
    params = [fw.nn.Parameter(fw.tensor(data(seed, f"p{i}", s, scale=0.1)))
              for i, s in enumerate(SEED_MODEL_SHAPES)]
    for i, p in enumerate(params):
        g = data(seed, f"g{i}", p.shape, scale=0.01)
        p.grad = fw.tensor(g) if fw.name.startswith("torch") else g
    kwargs = {"lr": 1e-3}
    if kind == "AdamW":
        kwargs["weight_decay"] = 1e-2
    if fused and fw.name.startswith("torch"):
        kwargs["fused"] = True
    opt = getattr(fw.optim, kind)(params, **kwargs)

    def outputs():
        for _ in range(2):
            opt.step()
        return {f"p{i}": fw.numpy(p) for i, p in enumerate(params)}

    return Bench(step=opt.step, outputs=outputs)


def _log_softmax(fw: Framework, seed: int, mode: str) -> Bench:
    x = data(seed, "x", (BATCH, 4, 128, 128), scale=3.0)
    return op_bench(fw, seed, partial(fw.F.log_softmax, dim=-1), {"x": (x, True)}, mode)


def all_round2() -> list[Case]:
    n = sum(int(np.prod(s)) for s in SEED_MODEL_SHAPES) / 1e6
    out = [
        Case(name="adam_6m_fused", group="optim",
             title=f"Adam step over {n:.1f}M parameters vs torch Adam(fused=True)",
             setup=partial(_optimizer, kind="Adam", fused=True), rtol=1e-4, quick=True),
        Case(name="adamw_6m_fused", group="optim",
             title=f"AdamW (wd 0.01) step over {n:.1f}M parameters vs torch AdamW(fused=True)",
             setup=partial(_optimizer, kind="AdamW", fused=True), rtol=1e-4),
        Case(name="adamw_6m", group="optim",
             title=f"AdamW (wd 0.01) step over {n:.1f}M parameters vs torch's default AdamW",
             setup=partial(_optimizer, kind="AdamW", fused=False), rtol=1e-4),
    ]
    for mode in ("fwd", "fb"):
        out.append(Case(name=f"log_softmax_{mode}", group="softmax",
                        title=f"log_softmax(dim=-1) on {BATCH}x4x128x128 "
                              f"{'fwd' if mode == 'fwd' else 'fwd+bwd'}",
                        setup=partial(_log_softmax, mode=mode)))
    return out


def cases(defined: set[str] | frozenset[str] = frozenset()) -> list[Case]:
    """The round-2 cases whose names are not in ``defined``."""
    return [c for c in all_round2() if c.name not in defined]
