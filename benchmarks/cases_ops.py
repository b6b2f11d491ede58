"""Op-level cases: one layer or functional op, forward and forward+backward, realistic sizes.

Sizes follow the issue: conv2d at the seed model's three layers (batch 32), RNN/LSTM/GRU with
batch 32, 128->128, 20 and 100 steps, attention with d=128 and 4 heads at seq 20 and 128, and
an Adam step over the ~6M parameters of the seed model at 32x32.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .case import Bench, Case, conv_flops, data, mha_flops, op_bench, recurrent_flops
from .frameworks import Framework

BATCH = 32


def _both(name: str, group: str, title: str, setup, fwd_flops: float | None,
          quick: tuple[str, ...] = (), rtol: float = 2e-3, bwd_factor: float = 3.0) -> list[Case]:
    """A forward case and a forward+backward case from one ``setup(fw, seed, mode)``."""
    out = []
    for mode in ("fwd", "fb"):
        flops = None if fwd_flops is None else fwd_flops * (1.0 if mode == "fwd" else bwd_factor)
        out.append(Case(name=f"{name}_{mode}", group=group,
                        title=f"{title} {'fwd' if mode == 'fwd' else 'fwd+bwd'}",
                        setup=partial(setup, mode=mode), flops=flops,
                        quick=mode in quick, rtol=rtol))
    return out


# ---------------------------------------------------------------------------------- conv
def _conv2d(fw: Framework, seed: int, mode: str, cin: int, cout: int, size: int) -> Bench:
    conv = fw.nn.Conv2d(cin, cout, 3, padding=1)
    x = data(seed, "x", (BATCH, cin, size, size))
    return op_bench(fw, seed, conv, {"x": (x, True)}, mode, module=conv)


def _conv1d(fw: Framework, seed: int, mode: str, cin: int, cout: int, length: int,
            k: int) -> Bench:
    conv = fw.nn.Conv1d(cin, cout, k, padding=k // 2)
    x = data(seed, "x", (BATCH, cin, length))
    return op_bench(fw, seed, conv, {"x": (x, True)}, mode, module=conv)


def conv_cases() -> list[Case]:
    cases = []
    for cin, cout, size in ((3, 64, 32), (64, 128, 16), (128, 256, 8)):
        cases += _both(f"conv2d_{cin}x{cout}_{size}", "conv",
                       f"conv2d {cin}->{cout} 3x3 pad1, {size}x{size}, batch {BATCH}",
                       partial(_conv2d, cin=cin, cout=cout, size=size),
                       conv_flops(BATCH, cin, cout, size * size, 9),
                       quick=("fb",) if cin == 64 else ())
    cases += _both("conv1d_64x128_128", "conv", f"conv1d 64->128 k5 pad2, L=128, batch {BATCH}",
                   partial(_conv1d, cin=64, cout=128, length=128, k=5),
                   conv_flops(BATCH, 64, 128, 128, 5))
    return cases


# ---------------------------------------------------------------------------------- pool
def _pool(fw: Framework, seed: int, mode: str, kind: str) -> Bench:
    if kind == "max_pool1d":
        x = data(seed, "x", (BATCH, 128, 128))
        fn = partial(fw.F.max_pool1d, kernel_size=2)
    else:
        x = data(seed, "x", (BATCH, 64, 32, 32))
        fn = partial(getattr(fw.F, kind), kernel_size=2)
    return op_bench(fw, seed, fn, {"x": (x, True)}, mode)


def pool_cases() -> list[Case]:
    return (_both("max_pool2d", "pool", f"max_pool2d 2x2 on {BATCH}x64x32x32",
                  partial(_pool, kind="max_pool2d"), None, quick=("fb",))
            + _both("avg_pool2d", "pool", f"avg_pool2d 2x2 on {BATCH}x64x32x32",
                    partial(_pool, kind="avg_pool2d"), None)
            + _both("max_pool1d", "pool", f"max_pool1d 2 on {BATCH}x128x128",
                    partial(_pool, kind="max_pool1d"), None))


# ----------------------------------------------------------------------------- recurrent
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _recurrent(fw: Framework, seed: int, mode: str, kind: str, steps: int) -> Bench:
    layer = getattr(fw.nn, kind)(128, 128)
    x = data(seed, "x", (steps, BATCH, 128))  # (T, N, I): PyTorch's default layout
    return op_bench(fw, seed, layer, {"x": (x, True)}, mode, module=layer,
                    select=lambda out: out[0])


def recurrent_cases() -> list[Case]:
    cases = []
    for kind in ("RNN", "LSTM", "GRU"):
        for steps in (20, 100):
            quick = ("fb",) if (kind == "LSTM" and steps == 20) else ()
            cases += _both(f"{kind.lower()}_{BATCH}x{steps}", "recurrent",
                           f"{kind} 128->128, batch {BATCH}, {steps} steps",
                           partial(_recurrent, kind=kind, steps=steps),
                           recurrent_flops(steps, BATCH, 128, 128, GATES[kind]), quick=quick)
    return cases


# ----------------------------------------------------------------------------- attention
def _sdpa(fw: Framework, seed: int, mode: str, seq: int) -> Bench:
    shape = (BATCH, 4, seq, 32)  # (N, heads, L, d_head), d = 4 * 32 = 128
    inputs = {k: (data(seed, k, shape), True) for k in ("q", "k", "v")}
    return op_bench(fw, seed, fw.F.scaled_dot_product_attention, inputs, mode)


def _mha(fw: Framework, seed: int, mode: str, seq: int) -> Bench:
    mha = fw.nn.MultiheadAttention(128, 4, batch_first=True)
    x = data(seed, "x", (BATCH, seq, 128))

    def self_attention(x):
        return mha(x, x, x, need_weights=False)[0]

    return op_bench(fw, seed, self_attention, {"x": (x, True)}, mode, module=mha)


def attention_cases() -> list[Case]:
    cases = []
    for seq in (20, 128):
        cases += _both(f"sdpa_{seq}", "attention",
                       f"scaled_dot_product_attention batch {BATCH}, 4 heads, seq {seq}, d 128",
                       partial(_sdpa, seq=seq), 4.0 * BATCH * seq * seq * 128)
        cases += _both(f"mha_{seq}", "attention",
                       f"MultiheadAttention self, batch {BATCH}, seq {seq}, d 128, 4 heads",
                       partial(_mha, seq=seq), mha_flops(BATCH, seq, 128),
                       quick=("fb",) if seq == 128 else ())
    return cases


# ------------------------------------------------------------- norm, softmax, loss, embedding
def _layer_norm(fw: Framework, seed: int, mode: str) -> Bench:
    ln = fw.nn.LayerNorm(128)
    x = data(seed, "x", (BATCH, 128, 128))
    return op_bench(fw, seed, ln, {"x": (x, True)}, mode, module=ln)


def _softmax(fw: Framework, seed: int, mode: str) -> Bench:
    x = data(seed, "x", (BATCH, 4, 128, 128), scale=3.0)
    return op_bench(fw, seed, partial(fw.F.softmax, dim=-1), {"x": (x, True)}, mode)


def _log_softmax(fw: Framework, seed: int, mode: str) -> Bench:
    x = data(seed, "x", (BATCH, 4, 128, 128), scale=3.0)
    return op_bench(fw, seed, partial(fw.F.log_softmax, dim=-1), {"x": (x, True)}, mode)


def _cross_entropy(fw: Framework, seed: int, mode: str) -> Bench:
    logits = data(seed, "logits", (BATCH * 20, 10000), scale=3.0)
    target = fw.tensor(np.random.default_rng(seed).integers(0, 10000, BATCH * 20))
    return op_bench(fw, seed, lambda z: fw.F.cross_entropy(z, target), {"logits": (logits, True)},
                    mode)


def _embedding(fw: Framework, seed: int, mode: str) -> Bench:
    emb = fw.nn.Embedding(10000, 128)
    idx = fw.tensor(np.random.default_rng(seed).integers(0, 10000, (BATCH, 20)))
    return op_bench(fw, seed, lambda: emb(idx), {}, mode, module=emb)


def misc_cases() -> list[Case]:
    return (_both("layer_norm", "norm", f"LayerNorm(128) on {BATCH}x128x128",
                  _layer_norm, None)
            + _both("softmax", "softmax", f"softmax(dim=-1) on {BATCH}x4x128x128", _softmax, None,
                    quick=("fb",))
            + _both("log_softmax", "softmax", f"log_softmax(dim=-1) on {BATCH}x4x128x128",
                    _log_softmax, None)
            + _both("cross_entropy", "softmax",
                    f"cross_entropy, {BATCH * 20} rows x 10000 classes", _cross_entropy, None)
            + _both("embedding", "embedding", f"Embedding(10000, 128), {BATCH}x20 ids",
                    _embedding, None))


# ---------------------------------------------------------------------------------- Adam
# The parameter shapes of the seed model at 32x32 (~6.3M parameters).
SEED_MODEL_SHAPES = [
    (64, 3, 3, 3), (64,), (128, 64, 3, 3), (128,), (256, 128, 3, 3), (256,),
    (10000, 128), (512, 128), (512, 128), (512,), (512,),
    (1024, 4096 + 128), (1024,), (10, 1024), (10,),
]


def _adam(fw: Framework, seed: int) -> Bench:
    params = [fw.nn.Parameter(fw.tensor(data(seed, f"p{i}", s, scale=0.1)))
              for i, s in enumerate(SEED_MODEL_SHAPES)]
    for i, p in enumerate(params):
        p.grad = fw.tensor(data(seed, f"g{i}", p.shape, scale=0.01)) if fw.name == "torch" \
            else data(seed, f"g{i}", p.shape, scale=0.01)
    opt = fw.optim.Adam(params, lr=1e-3)

    def outputs():
        for _ in range(2):
            opt.step()
        return {f"p{i}": fw.numpy(p) for i, p in enumerate(params)}

    return Bench(step=opt.step, outputs=outputs)


def adam_cases() -> list[Case]:
    n = sum(int(np.prod(s)) for s in SEED_MODEL_SHAPES)
    return [Case(name="adam_6m", group="optim",
                 title=f"Adam step over {n / 1e6:.1f}M parameters (seed model shapes)",
                 setup=_adam, flops=None, quick=True, rtol=1e-4)]


def cases() -> list[Case]:
    return conv_cases() + pool_cases() + recurrent_cases() + attention_cases() + misc_cases() \
        + adam_cases()
