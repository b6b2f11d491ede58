"""Magnitude pruning: PyTorch's masks and re-parametrisation, sparsity as asked, pruned
weights stay pruned through fine-tuning, and shrinking gives the masked model's outputs."""

import copy

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm import nn, optim
from tinymm.compress import prune, prune_channels, shrink


def _mlp():
    tm.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 3))


def test_l1_unstructured_matches_pytorch_names_masks_and_values():
    torch = pytest.importorskip("torch")
    import torch.nn.utils.prune as tp
    ours = _mlp()[0]
    theirs = torch.nn.Linear(8, 32)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    for amount in (0.3, 20, 0.5):  # iterative: each amount counts what is still unpruned
        prune.l1_unstructured(ours, "weight", amount)
        tp.l1_unstructured(theirs, "weight", amount)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    np.testing.assert_array_equal(ours.weight_mask, theirs.weight_mask.numpy())
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())
    assert prune.is_pruned(ours)


@pytest.mark.parametrize("amount", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_global_pruning_hits_the_requested_sparsity(amount):
    model = _mlp()
    layers = [m for m in model if isinstance(m, nn.Linear)]
    prune.global_unstructured([(m, "weight") for m in layers], amount=amount)
    total = sum(m.weight.data.size for m in layers)
    assert prune.sparsity(model) == pytest.approx(round(amount * total) / total)
    kept = [np.abs(m.weight.data[m.weight_mask == 1]) for m in layers]
    gone = [np.abs(m.weight_orig.data[m.weight_mask == 0]) for m in layers]
    smallest_kept = min(k.min(initial=np.inf) for k in kept)
    largest_pruned = max(g.max(initial=0) for g in gone)
    assert largest_pruned <= smallest_kept  # globally smallest, wherever they are


def test_pruned_weights_stay_pruned_through_fine_tuning():
    model = _mlp()
    for m in model:
        if isinstance(m, nn.Linear):
            prune.l1_unstructured(m, "weight", 0.6)
    mask = model[0].weight_mask.copy()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x, y = tm.randn(64, 8), tm.tensor(np.arange(64) % 3)
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        assert np.all(model[0].weight_orig.grad[mask == 0] == 0)  # no gradient to pruned entries
        opt.step()
    model(x)
    assert np.all(model[0].weight.data[mask == 0] == 0)
    assert prune.sparsity(model) == pytest.approx(0.6, abs=0.01)
    prune.remove(model[0], "weight")
    assert "weight" in model[0]._parameters and "weight_mask" not in model[0]._buffers
    assert np.all(model[0].weight.data[mask == 0] == 0)


def test_ln_structured_prunes_whole_channels_as_pytorch():
    tm.manual_seed(1)
    conv = nn.Conv2d(3, 10, 3)
    prune.ln_structured(conv, "weight", 0.4, n=2, dim=0)
    dead = ~conv.weight_mask.reshape(10, -1).any(axis=1)
    assert dead.sum() == 4
    norms = np.linalg.norm(conv.weight_orig.data.reshape(10, -1), axis=1)
    assert norms[dead].max() <= norms[~dead].min()
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Conv2d(3, 10, 3)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(conv.weight_orig.data))
    import torch.nn.utils.prune as tp
    tp.ln_structured(theirs, "weight", 0.4, n=2, dim=0)
    np.testing.assert_array_equal(conv.weight_mask, theirs.weight_mask.numpy())


def test_shrink_removes_channels_and_keeps_the_outputs():
    tm.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 5, 1),
                          nn.Flatten(), nn.Linear(5 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 4))
    for i in (0, 3, 7):
        prune_channels(model[i], 0.5)
    x = tm.randn(2, 3, 8, 8)
    masked = model(x).data
    before = model.num_parameters()
    changed = shrink(model)
    assert changed == {"0": (16, 8), "3": (12, 6), "7": (32, 16)}
    assert model[0].weight.shape == (8, 3, 3, 3) and model[3].weight.shape == (6, 8, 3, 3)
    assert model[5].weight.shape == (5, 6, 1, 1) and model[9].weight.shape == (4, 16)
    assert model.num_parameters() < 0.6 * before
    assert not prune.is_pruned(model)
    np.testing.assert_allclose(model(x).data, masked, rtol=1e-5, atol=1e-6)


def test_shrink_leaves_a_channel_whose_bias_is_alive():
    tm.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    prune.ln_structured(model[0], "weight", 2, dim=0)  # weights only: the bias still feeds on
    x = tm.randn(5, 4)
    masked = model(x).data
    assert shrink(copy.deepcopy(model)) == {}
    np.testing.assert_allclose(model(x).data, masked)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weights", 0.5), ValueError, "no parameter 'weights'"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", 1.5), ValueError, "in [0, 1]"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", 5), ValueError, "more than the 4"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", "half"), TypeError, "amount must be"),
    (lambda: prune.ln_structured(nn.Linear(2, 2), "weight", 1, dim=3), ValueError, "dim must be"),
    (lambda: prune.remove(nn.Linear(2, 2), "weight"), ValueError, "is not pruned"),
    (lambda: prune.custom_from_mask(nn.Linear(2, 2), "weight", np.ones(3)), ValueError, "shape"),
    (lambda: prune_channels(nn.ReLU(), 0.5), TypeError, "Conv1d, Conv2d or Linear"),
    (lambda: shrink("model"), TypeError, "shrink: model must be"),
])
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
