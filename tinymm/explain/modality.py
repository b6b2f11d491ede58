"""How much each modality contributes to a prediction: exact Shapley values over modality
subsets, and the pairwise interaction index that says whether modalities work together.

The game: for a sample and a target class, the *value* of a subset S of modalities is the
model's score for the target when only the modalities in S are present — the others masked
through the model's missing-modality path (the mask a ``MultimodalClassifier`` takes), so
nothing is made up. With M modalities (2–3 in the built-in data sets) every one of the 2^M
subsets is evaluated, so the values are exact, not sampled:

    φ_i = Σ_{S ⊆ M∖{i}} |S|! (M − |S| − 1)! / M! · (v(S ∪ {i}) − v(S))

They satisfy *efficiency* (Σ_i φ_i = v(M) − v(∅)), *symmetry* (two modalities that change
every subset's value alike get the same φ) and the *null player* property (a modality the
model ignores gets φ = 0). The Shapley interaction index of a pair (Grabisch & Roubens, 1999)

    I_ij = Σ_{S ⊆ M∖{i,j}} |S|! (M − |S| − 2)! / (M − 1)! · (v(S∪{i,j}) − v(S∪{i}) − v(S∪{j}) + v(S))

is 0 when the two modalities' effects add up, and large when the prediction needs both at
once (an XOR across modalities). The score is the target's **log-odds** by default,
``log p − log(1 − p)``: when modalities are conditionally independent given a two-class label,
the Bayes posterior's log-odds are exactly additive, so the interaction index measures real
synergy rather than the curvature of the softmax. ``value="logit"``, ``"log_prob"`` and
``"prob"`` are available too.
"""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["ModalityShapley", "shapley_from_values", "interaction_from_values"]

VALUES = ("log_odds", "logit", "log_prob", "prob")


def _scores(logits: np.ndarray, target: np.ndarray, value: str) -> np.ndarray:
    z = logits.astype(np.float64)
    z_t = z[np.arange(z.shape[0]), target]
    if value == "logit":
        return z_t
    log_norm = np.logaddexp.reduce(z, axis=1)
    log_p = z_t - log_norm
    if value == "log_prob":
        return log_p
    if value == "prob":
        return np.exp(log_p)
    others = np.where(np.arange(z.shape[1])[None, :] == target[:, None], -np.inf, z)
    return z_t - np.logaddexp.reduce(others, axis=1)  # log p − log(1 − p)


def shapley_from_values(values: dict[frozenset, np.ndarray], players: list) -> np.ndarray:
    """(B, M) Shapley values from ``values[S]`` (B,) for every subset S of ``players``.

    >>> from tinymm.explain import shapley_from_values
    >>> values = {frozenset(): np.array([0.0]), frozenset({"a"}): np.array([1.0]),
    ...           frozenset({"b"}): np.array([2.0]), frozenset({"a", "b"}): np.array([5.0])}
    >>> shapley_from_values(values, ["a", "b"]).tolist()        # they add up to v(all) - v(none)
    [[2.0, 3.0]]
    """
    m = len(players)
    out = np.zeros((next(iter(values.values())).shape[0], m))
    for i, p in enumerate(players):
        rest = [q for q in players if q != p]
        for r in range(m):
            w = factorial(r) * factorial(m - r - 1) / factorial(m)
            for s in itertools.combinations(rest, r):
                s = frozenset(s)
                out[:, i] += w * (values[s | {p}] - values[s])
    return out


def interaction_from_values(values: dict[frozenset, np.ndarray], players: list) -> np.ndarray:
    """(B, M, M) Shapley interaction indices (diagonal 0) from the subset values.

    >>> from tinymm.explain import interaction_from_values
    >>> values = {frozenset(): np.array([0.0]), frozenset({"a"}): np.array([1.0]),
    ...           frozenset({"b"}): np.array([2.0]), frozenset({"a", "b"}): np.array([5.0])}
    >>> interaction_from_values(values, ["a", "b"]).tolist()    # 5 - 1 - 2 + 0
    [[[0.0, 2.0], [2.0, 0.0]]]
    """
    m = len(players)
    out = np.zeros((next(iter(values.values())).shape[0], m, m))
    for i, j in itertools.combinations(range(m), 2):
        a, b = players[i], players[j]
        rest = [q for q in players if q not in (a, b)]
        for r in range(m - 1):
            w = factorial(r) * factorial(m - r - 2) / factorial(m - 1)
            for s in itertools.combinations(rest, r):
                s = frozenset(s)
                out[:, i, j] += w * (values[s | {a, b}] - values[s | {a}] - values[s | {b}]
                                     + values[s])
        out[:, j, i] = out[:, i, j]
    return out


class ModalityShapley:
    """Exact modality Shapley values of a ``MultimodalClassifier`` (or any model called as
    ``model(batch, mask=...)`` with a ``modalities`` attribute).

    ``attribute(batch, target=None, value="log_odds")`` returns a dict: ``"shapley"`` (B, M),
    ``"interaction"`` (B, M, M), ``"values"`` ({subset name: (B,)}), ``"target"`` (B,),
    ``"modalities"`` (names in column order). ``target=None`` explains each sample's class
    predicted with every modality present. :meth:`per_class` averages them per target class.

    A toy two-modality model whose class-1 logit adds 1 for ``image`` and 2 for ``text`` when
    present, and 3 more when both are:

    >>> from tinymm.explain import ModalityShapley
    >>> class Toy:
    ...     modalities = ("image", "text")
    ...     def __call__(self, batch, mask):
    ...         score = 1.0 * mask[:, 0] + 2.0 * mask[:, 1] + 3.0 * (mask[:, 0] & mask[:, 1])
    ...         return tm.tensor(np.stack([np.zeros(len(mask)), score], axis=1))
    >>> result = ModalityShapley(Toy()).attribute({"image": np.zeros(1), "text": np.zeros(1)},
    ...                                          target=1, value="logit")
    >>> result["shapley"].tolist(), float(result["interaction"][0, 0, 1])
    ([[2.5, 3.5]], 3.0)
    """

    def __init__(self, model):
        if not hasattr(model, "modalities") or not callable(model):
            raise TypeError("ModalityShapley: model must be a multimodal classifier with a "
                            f"`modalities` attribute, got {type(model).__name__}")
        self.model = model

    def attribute(self, batch, target=None, value: str = "log_odds") -> dict:
        fn = "ModalityShapley.attribute"
        if value not in VALUES:
            raise ValueError(f"{fn}: value must be one of {VALUES}, got {value!r}")
        if not isinstance(batch, dict):
            raise TypeError(f"{fn}: batch must be a dict of modality arrays, got {type(batch).__name__}")
        names = list(self.model.modalities)
        if len(names) > 10:
            raise ValueError(f"{fn}: exact Shapley values need 2^M evaluations; M={len(names)} > 10")
        present = self.model.presence(batch) if hasattr(self.model, "presence") else None
        was_training = getattr(self.model, "training", False)
        if hasattr(self.model, "eval"):
            self.model.eval()
        logits = {}
        try:
            with no_grad():
                for r in range(len(names) + 1):
                    for subset in itertools.combinations(range(len(names)), r):
                        keep = np.zeros(len(names), dtype=bool)
                        keep[list(subset)] = True
                        mask = keep[None, :] if present is None else present & keep[None, :]
                        out = self.model(batch, mask=np.broadcast_to(mask, (
                            _batch_size(batch, names), len(names))).copy())
                        logits[frozenset(names[i] for i in subset)] = \
                            out.data if isinstance(out, Tensor) else np.asarray(out)
        finally:
            if was_training and hasattr(self.model, "train"):
                self.model.train()
        full = logits[frozenset(names)]
        if target is None:
            tgt = full.argmax(axis=1)
        else:
            tgt = np.broadcast_to(np.asarray(target, dtype=np.int64), (full.shape[0],)).copy()
            if tgt.min() < 0 or tgt.max() >= full.shape[1]:
                raise IndexError(f"{fn}: target must be in [0, {full.shape[1]})")
        values = {s: _scores(z, tgt, value) for s, z in logits.items()}
        return {"modalities": names, "target": tgt,
                "values": {"+".join(sorted(s)) or "(none)": v for s, v in values.items()},
                "shapley": shapley_from_values(values, names),
                "interaction": interaction_from_values(values, names)}

    @staticmethod
    def per_class(result: dict, num_classes: int) -> dict:
        """Mean Shapley values (C, M) and mean interaction (C, M, M) per target class, and
        how many samples each class had."""
        tgt = result["target"]
        counts = np.bincount(tgt, minlength=num_classes)
        shap = np.zeros((num_classes, result["shapley"].shape[1]))
        inter = np.zeros((num_classes,) + result["interaction"].shape[1:])
        for c in range(num_classes):
            if counts[c]:
                shap[c] = result["shapley"][tgt == c].mean(axis=0)
                inter[c] = result["interaction"][tgt == c].mean(axis=0)
        return {"shapley": shap, "interaction": inter, "count": counts}


def _batch_size(batch: dict, names: list) -> int:
    for m in names:
        if m in batch:
            return int(np.shape(batch[m])[0])
    raise KeyError(f"ModalityShapley: the batch holds none of the modalities {names}")
