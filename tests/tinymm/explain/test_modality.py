"""Modality Shapley values: efficiency, symmetry and the null player on constructed models
whose answer is known; the interaction index separates additive evidence from an XOR."""

import numpy as np
import pytest

import tinymm as tm
from tinymm.explain import ModalityShapley, interaction_from_values, shapley_from_values
from tinymm.tensor import Tensor


class Scripted:
    """A 'model' whose two-class log-odds for a subset is given by a table per modality set."""

    def __init__(self, modalities, log_odds):
        self.modalities, self.log_odds, self.training = tuple(modalities), log_odds, False

    def __call__(self, batch, mask=None):
        b = mask.shape[0]
        out = np.zeros((b, 2))
        for i in range(b):
            present = frozenset(m for m, on in zip(self.modalities, mask[i]) if on)
            out[i, 1] = self.log_odds(present, i)  # logits (0, z): log-odds of class 1 is z
        return Tensor(out)


def _batch(b=3, m=("a", "b", "c")):
    return {name: np.zeros((b, 2), np.float32) for name in m}


def test_efficiency_symmetry_and_null_player():
    weights = {"a": 1.5, "b": 1.5, "c": 0.0}  # a and b alike, c ignored
    model = Scripted(weights, lambda s, i: 0.2 + sum(weights[m] for m in s) + 0.7 * ("a" in s and "b" in s))
    out = ModalityShapley(model).attribute(_batch(), target=1)
    phi = out["shapley"]
    full, empty = out["values"]["a+b+c"], out["values"]["(none)"]
    np.testing.assert_allclose(phi.sum(axis=1), full - empty)            # efficiency
    np.testing.assert_allclose(phi[:, 0], phi[:, 1])                      # symmetry
    np.testing.assert_allclose(phi[:, 2], 0.0, atol=1e-12)                # null player
    np.testing.assert_allclose(phi[:, 0], 1.5 + 0.35)                     # the shared 0.7 split
    inter = out["interaction"]
    np.testing.assert_allclose(inter[:, 0, 1], 0.7)                       # the a-b synergy
    np.testing.assert_allclose(inter[:, 0, 2], 0.0, atol=1e-12)


def test_interaction_is_zero_for_additive_and_large_for_xor_evidence():
    additive = Scripted(("text", "audio"), lambda s, i: 2.0 * ("text" in s) - 1.0 * ("audio" in s))
    xor = Scripted(("text", "audio"), lambda s, i: 3.0 if s == {"text", "audio"} else 0.0)
    batch = _batch(m=("text", "audio"))
    a = ModalityShapley(additive).attribute(batch, target=1)
    x = ModalityShapley(xor).attribute(batch, target=1)
    np.testing.assert_allclose(a["interaction"][:, 0, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(x["interaction"][:, 0, 1], 3.0)
    np.testing.assert_allclose(x["shapley"], 1.5)                         # split evenly


def test_log_odds_of_a_real_classifier_and_per_class_means():
    from multimodal_support import bits_dataset

    from tinymm.models import build_model
    tm.manual_seed(0)
    data = bits_dataset(16)
    model = build_model(data, modality_dropout=0.0)
    batch = data.get_batch(np.arange(16))
    out = ModalityShapley(model).attribute(batch)
    with tm.no_grad():
        logits = model(batch).data.astype(np.float64)
    np.testing.assert_array_equal(out["target"], logits.argmax(axis=1))
    p = np.exp(logits - np.logaddexp.reduce(logits, axis=1, keepdims=True))[np.arange(16), out["target"]]
    np.testing.assert_allclose(out["values"]["+".join(sorted(model.modalities))], np.log(p / (1 - p)),
                               rtol=1e-5, atol=1e-6)
    means = ModalityShapley.per_class(out, data.num_classes)
    assert means["count"].sum() == 16
    for c in np.flatnonzero(means["count"]):
        np.testing.assert_allclose(means["shapley"][c], out["shapley"][out["target"] == c].mean(axis=0))


def test_the_formulas_on_a_three_player_game():
    players = ["x", "y", "z"]
    v = {frozenset(s): np.array([float(len(s) ** 2)]) for s in
         [(), ("x",), ("y",), ("z",), ("x", "y"), ("x", "z"), ("y", "z"), ("x", "y", "z")]}
    np.testing.assert_allclose(shapley_from_values(v, players), [[3.0, 3.0, 3.0]])
    np.testing.assert_allclose(interaction_from_values(v, players)[0, 0, 1], 2.0)


def test_bad_arguments_are_named():
    model = Scripted(("a",), lambda s, i: 0.0)
    with pytest.raises(ValueError, match="value must be one of"):
        ModalityShapley(model).attribute(_batch(m=("a",)), value="odds")
    with pytest.raises(TypeError, match="batch must be a dict"):
        ModalityShapley(model).attribute(np.zeros(3))
    with pytest.raises(TypeError, match="modalities"):
        ModalityShapley(lambda x: x)
