"""What a benchmark case is, and helpers that build the usual kinds of case.

A :class:`Case` knows how to set itself up in one framework (``setup(fw, seed) -> Bench``).
The :class:`Bench` it returns has ``step()`` (the timed unit of work) and ``outputs()`` (the
arrays the correctness guard compares across frameworks: forward outputs and gradients, or
parameters after an optimizer step). The same case code runs in tinymm and PyTorch because
tinymm uses PyTorch's names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .frameworks import Framework, seed_parameters, seeded_array


@dataclass
class Bench:
    step: Callable[[], object]
    outputs: Callable[[], dict[str, np.ndarray]]
    # Back to the state right after set-up (weights, optimizer state), for stateful cases, so
    # that the guard's later-call check (call 3: workspace buffers reused) compares the same
    # computation in every framework. None: the case has no state that drifts between calls.
    reset: Callable[[], None] | None = None


@dataclass(frozen=True)
class Case:
    name: str                                  # e.g. "conv2d_64x128_16_fb"
    group: str                                 # e.g. "conv"
    title: str                                 # one line for the table
    setup: Callable[[Framework, int], Bench]
    flops: float | None = None                 # per step, for GFLOP/s
    quick: bool = False                        # part of --quick
    rtol: float = 2e-3                         # normwise tolerance of the correctness guard
    kind: str = "timed"                        # "timed" | "startup"
    tags: tuple[str, ...] = field(default_factory=tuple)


def data(seed: int, name: str, shape: Sequence[int], scale: float = 1.0) -> np.ndarray:
    """Seeded float32 input data, identical in every worker."""
    return seeded_array(seed, name, shape, scale=scale)


def grad_dict(fw: Framework, prefix: str, named: dict) -> dict[str, np.ndarray]:
    out = {}
    for name, t in named.items():
        g = fw.grad(t)
        if g is not None:
            out[f"{prefix}{name}"] = g
    return out


def op_bench(fw: Framework, seed: int, fn: Callable, inputs: dict[str, tuple[np.ndarray, bool]],
             mode: str, module=None, select: Callable = lambda y: y) -> Bench:
    """A Bench for ``y = select(fn(*inputs))`` in mode ``"fwd"`` or ``"fb"``.

    ``inputs`` maps a name to (array, requires_grad). ``module`` (optional) gets seeded
    parameters and its gradients are compared. The forward mode runs under ``no_grad``; the
    forward+backward mode back-propagates a fixed seeded ``grad_output`` (so no extra loss op
    is timed) after clearing the gradients of the previous repetition.
    """
    if module is not None:
        seed_parameters(fw, module, seed)
    xs = {k: fw.tensor(a, requires_grad=rg) for k, (a, rg) in inputs.items()}
    args = list(xs.values())
    with fw.no_grad():
        shape = tuple(select(fn(*args)).shape)
    gy = fw.tensor(data(seed, "grad_output", shape))
    grad_xs = [t for k, t in xs.items() if inputs[k][1]]
    params = dict(module.named_parameters()) if module is not None else {}

    def forward():
        with fw.no_grad():
            return fn(*args)

    def forward_backward():
        for t in grad_xs:
            t.grad = None
        for p in params.values():
            p.grad = None
        y = select(fn(*args))
        y.backward(gy)
        return y

    def outputs():
        if mode == "fwd":
            return {"y": fw.numpy(select(forward()))}
        y = forward_backward()
        out = {"y": fw.numpy(y)}
        out.update(grad_dict(fw, "grad.", {k: xs[k] for k in xs if inputs[k][1]}))
        out.update(grad_dict(fw, "grad.", params))
        return out

    return Bench(step=forward if mode == "fwd" else forward_backward, outputs=outputs)


def train_step_bench(fw: Framework, seed: int, model, batch: dict[str, object],
                     loss_fn: Callable, lr: float = 1e-3) -> Bench:
    """A Bench for one training step: zero_grad, forward, loss, backward, Adam step.

    ``batch`` holds framework tensors; ``loss_fn(model, batch)`` returns the scalar loss.
    The correctness guard compares the loss, every parameter gradient and every parameter
    update (``update.*`` keys: see ``check.py`` for their element-count rule).
    """
    seed_parameters(fw, model, seed)
    model.train()
    state = {"opt": fw.optim.Adam(model.parameters(), lr=lr)}
    params = dict(model.named_parameters())

    def step():
        opt = state["opt"]
        opt.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        opt.step()
        return loss

    def reset():
        # Adam's sign-like first updates turn float32 noise in tiny gradients into +-lr
        # moves, so two frameworks' weights drift apart step by step: the later-call check
        # restarts both from the seeded weights and a fresh optimizer instead.
        seed_parameters(fw, model, seed)
        state["opt"] = fw.optim.Adam(model.parameters(), lr=lr)

    def outputs():
        before = {k: fw.numpy(p) for k, p in params.items()}
        loss = step()
        out = {"loss": np.atleast_1d(fw.numpy(loss))}
        out.update(grad_dict(fw, "grad.", params))
        for k, p in params.items():
            out[f"update.{k}"] = fw.numpy(p) - before[k]
        return out

    return Bench(step=step, outputs=outputs, reset=reset)


def conv_flops(n: int, cin: int, cout: int, out_spatial: int, ksize: int) -> float:
    """Multiply-adds x 2 of a dense convolution's forward (out_spatial = Ho*Wo)."""
    return 2.0 * n * cout * out_spatial * cin * ksize


def recurrent_flops(steps: int, batch: int, inp: int, hidden: int, gates: int) -> float:
    return 2.0 * steps * batch * (inp + hidden) * gates * hidden


def mha_flops(batch: int, seq: int, embed: int) -> float:
    return 8.0 * batch * seq * embed * embed + 4.0 * batch * seq * seq * embed
