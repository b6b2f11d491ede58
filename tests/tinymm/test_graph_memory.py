"""After backward() without retain_graph, a kept output holds no activations."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest
from multimodal_support import single_thread  # noqa: F401  (small models: one thread per pool)

import tinymm as tm
from tinymm import nn


def _model():
    tm.manual_seed(0)
    return nn.Sequential(nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(),
                         nn.Linear(128, 1))


def _step(model, x):
    loss = (model(x) ** 2).mean()
    loss.backward()
    return loss


def test_keeping_200_losses_costs_kilobytes_not_activations():
    model = _model()
    x = tm.randn(64, 128)  # each activation: 64 x 128 float32 = 32 KiB, ~6 of them per step
    for _ in range(3):  # warm up: kernels, gradient buffers, workspaces
        _step(model, x)
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        losses, running = [], 0.0
        for _ in range(200):
            loss = _step(model, x)
            losses.append(loss)  # the everyday patterns that must not keep the graph
            running += loss
        gc.collect()
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_step_activations = 6 * 64 * 128 * 4
    growth = grown - base  # ~2 KiB a step: each loss, its node, the running sum's node
    assert growth < 200 * 8 * 1024, f"kept 200 losses: {growth / 1024:.0f} KiB"
    assert growth < 200 * per_step_activations / 20  # under 5 % of one step's activations each
    assert float(running.item()) == pytest.approx(sum(float(v.item()) for v in losses), rel=1e-4)


def test_activations_are_collected_once_backward_ran():
    model = _model()
    h = model[1](model[0](tm.randn(8, 128)))
    ref = weakref.ref(h)
    loss = model[4](model[3](model[2](h))).sum()
    del h
    gc.collect()
    assert ref() is not None  # the graph still needs it
    loss.backward()
    gc.collect()
    assert ref() is None
    assert loss.grad_fn is not None and loss.grad_fn.inputs is None and loss.grad_fn.ctx is None


def test_a_second_backward_still_raises_the_freed_graph_error():
    model = _model()
    loss = _step(model, tm.randn(4, 128))
    with pytest.raises(RuntimeError, match="was freed by an earlier backward; pass "
                                           "retain_graph=True"):
        loss.backward()


def test_a_shared_subgraph_freed_by_one_backward_is_reported_by_the_next():
    x = tm.randn(3, requires_grad=True)
    h = x.exp()
    a, b = (h * 2).sum(), (h * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="graph through ExpBackward was freed"):
        b.backward()


def test_retain_graph_keeps_everything():
    x = tm.randn(3, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6)
