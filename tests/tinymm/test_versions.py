"""Version counters: every in-place write the library makes bumps ``_version``; a backward
through an array saved before such a write raises PyTorch's error, naming the op."""

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm import nn, optim

MODIFIED = "modified by an inplace operation"


def _linear_model():
    tm.manual_seed(0)
    return nn.Linear(4, 3)


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1, amsgrad=True),
], ids=["sgd", "sgd-nesterov", "adam", "adamw-amsgrad"])
def test_optimizer_step_between_forward_and_backward_raises(make_opt):
    model = _linear_model()
    opt = make_opt(list(model.parameters()))
    x = tm.randn(2, 4)
    model(x).sum().backward()  # gradients, so that step() updates every parameter
    before = model.weight._version
    loss = model(x).sum()
    opt.step()
    assert model.weight._version == before + 1 and model.bias._version == before + 1
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: \[float32 tensor of shape \[3, 4\]\], "
                                           r"which LinearBackward saved for backward, is at version "
                                           rf"{before + 1}; expected version {before} instead"):
        loss.backward()


def _two_layers(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 3))


def test_a_step_before_backward_is_an_error_in_torch_and_in_tinymm():
    """The second layer saves its weight (its input requires grad): both libraries raise."""
    torch = pytest.importorskip("torch")
    for lib, randn in ((torch, torch.randn), (tm, tm.randn)):
        model = _two_layers(lib)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        x = randn(2, 4)
        model(x).sum().backward()
        loss = model(x).sum()
        opt.step()
        with pytest.raises(RuntimeError, match=MODIFIED):
            loss.backward()


def test_a_tensor_saved_only_for_an_unneeded_gradient_is_not_checked_as_in_torch():
    """``w * x`` with only ``w`` requiring grad needs ``x``, not ``w``: writing ``w`` is fine."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (torch, tm):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, 4.0])
        loss = (w * x).sum() + (w @ x)
        with lib.no_grad():
            w.mul_(10.0)
        loss.backward()
        results.append(np.asarray(w.grad))
    np.testing.assert_array_equal(results[1], results[0])


def test_load_state_dict_between_forward_and_backward_raises():
    model = _linear_model()
    loss = model(tm.randn(2, 4)).sum()
    before = model.weight._version
    model.load_state_dict(_linear_model().state_dict())
    assert model.weight._version == before + 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_setitem_and_inplace_methods_on_a_saved_input_raise():
    w = tm.randn(3, requires_grad=True)
    for write in (lambda x: x.__setitem__(0, 5.0), lambda x: x.add_(1.0), lambda x: x.mul_(2),
                  lambda x: x.zero_(), lambda x: x.fill_(1.0), lambda x: x.copy_(np.ones(3)),
                  lambda x: x.clamp_(0, 1)):
        x = tm.randn(3)
        y = (w * x).sum()  # Mul saves x for d/dw
        write(x)
        assert x._version == 1
        with pytest.raises(RuntimeError, match=f"{MODIFIED}.* which MulBackward saved for backward"):
            y.backward()


def test_a_saved_output_written_under_no_grad_raises_naming_its_op():
    x = tm.randn(3, requires_grad=True)
    y = x.exp()  # Exp saves its output
    with tm.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: .*which is output 0 of ExpBackward, is at "
                                           "version 1; expected version 0"):
        y.sum().backward()


def test_views_share_the_version_counter_of_their_base():
    w = tm.randn(3, requires_grad=True)
    base = tm.randn(2, 3)
    row = base[0]
    y = (w * row).sum()
    base.add_(1.0)  # writes the memory row lives in
    assert row._version == base._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()
    d = base.detach()
    d.zero_()
    assert base._version == 2


def test_writes_to_data_are_not_tracked_as_in_pytorch():
    w = tm.tensor([1.0, 2.0], requires_grad=True)
    x = tm.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.data[...] = 10.0  # an ndarray write: invisible to the counter, as tensor.data in PyTorch
    assert x._version == 0
    y.backward()
    np.testing.assert_array_equal(w.grad, [10.0, 10.0])


def test_ops_that_save_nothing_do_not_care():
    w = tm.randn(3, requires_grad=True)
    x = tm.randn(3)
    y = (w + x).sum()  # Add saves nothing, so writing x is harmless (as in PyTorch)
    x.add_(1.0)
    y.backward()
    np.testing.assert_array_equal(w.grad, np.ones(3, np.float32))


def test_backward_before_the_write_is_fine_and_versions_count_steps():
    model = _linear_model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    start = model.weight._version
    for step in range(3):
        opt.zero_grad()
        F.mse_loss(model(tm.randn(5, 4)), tm.randn(5, 3)).backward()
        opt.step()
        assert model.weight._version == start + step + 1
    before = model.bias._version
    nn.init.zeros_(model.bias)  # initialisation writes in place too, as in PyTorch
    assert model.bias._version == before + 1


def test_parameter_from_a_tensor_shares_its_counter():
    t = tm.randn(3)
    p = nn.Parameter(t)
    with tm.no_grad():
        p.add_(1.0)
    assert t._version == 1


class _SavesAView(tm.Function):
    """Saves a transposed view of its input: found through the memory it lives in."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a.T)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (at,) = ctx.saved_tensors
        return 2 * g * at.T


def test_a_saved_view_of_an_input_is_checked_too():
    x = tm.randn(2, 3, requires_grad=True)
    y = _SavesAView.apply(x).sum()
    with tm.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.* which _SavesAViewBackward saved for backward"):
        y.backward()
    z = _SavesAView.apply(x).sum()
    z.backward()  # no write in between: fine
    np.testing.assert_allclose(x.grad, 2 * x.numpy(), rtol=1e-6)
