"""The ablation rows carry the accuracy's interval, the ceiling's kind, the additive ceiling and
the split's realised oracle; the table marks gaps within sampling error."""

from types import SimpleNamespace

import numpy as np
import pytest

from tinymm.data import get_dataset
from tinymm.train.evaluate import ablation, build_report, format_ablation
from tinymm.train.metrics import binomial_interval


class OracleStub:
    """A stand-in model: the Bayes oracle of a built-in data set, fed the latents by index.

    Rows of the batch are matched to the dataset's samples by their label-free "index"
    modality, so the ablation's masking decides which modalities the oracle may read."""

    def __init__(self, dataset, module):
        self.modalities = dataset.modalities
        self.dataset, self.module = dataset, module
        self.training = False
        self._seen = 0

    def num_parameters(self):
        return 0

    def presence(self, batch):
        return np.asarray(batch["mask"], dtype=bool)

    def eval(self):
        self.training = False

    def train(self, mode=True):
        self.training = mode

    def __call__(self, batch, mask):
        n = mask.shape[0]
        idx = np.arange(self._seen, self._seen + n) % len(self.dataset)
        self._seen += n
        lat = {k: v[idx] for k, v in self.dataset.latents.items()}
        subset = [m for m, keep in zip(self.modalities, mask[0]) if keep]
        pred = self.module.oracle_predict(lat, subset)
        return SimpleNamespace(data=np.eye(self.dataset.num_classes)[pred])


def test_ablation_rows_of_the_oracle_stub():
    from tinymm.data import sentiment_prosody

    ds = get_dataset("sentiment_prosody", split="test", size=300)
    model = OracleStub(ds, sentiment_prosody)
    rows = ablation(model, ds, batch_size=300)
    by = {r["subset"]: r for r in rows}
    for subset, r in by.items():
        k, n = ds.oracle_accuracy(subset)
        # the stub is the oracle: its accuracy is the realised oracle accuracy
        assert r["accuracy"] == pytest.approx(k / n) == pytest.approx(r["oracle_accuracy"])
        assert r["correct"] == k and r["n"] == n == 300
        assert tuple(r["accuracy_interval"]) == binomial_interval(k, n)
        assert r["oracle_interval"] == r["accuracy_interval"]
        lo, hi = r["accuracy_interval"]
        assert r["within_error"] == (lo <= r["ceiling"] <= hi)
        assert r["additive_ceiling"] == pytest.approx(ds.additive_ceilings[subset])
    assert by["text"]["ceiling_kind"] == "exact"
    assert by["audio+text"]["ceiling_kind"] == "upper bound"
    assert by["audio+text"]["additive_ceiling"] == pytest.approx(0.808)
    table = format_ablation(rows, chance=0.5)
    assert "upper bound" in table and "0.8080" in table and "300 samples" in table
    marked = [line for line in table.splitlines() if "~ |" in line]
    assert len(marked) == sum(r["within_error"] for r in rows)


def test_rows_without_ceilings_or_oracle_and_report_interval():
    ds = get_dataset("shapes_captions", split="val", size=60)
    bare = ds.with_arrays(ds.arrays)
    bare.ceilings, bare.additive_ceilings, bare.ceiling_kinds, bare.oracle = {}, {}, {}, None
    from tinymm.data import shapes_captions

    model = OracleStub(bare, shapes_captions)
    rows = ablation(model, bare, batch_size=60)
    assert all(r["ceiling"] is None and r["within_error"] is None and r["oracle_accuracy"] is None
               and r["ceiling_kind"] is None for r in rows)
    assert "| image+text" in format_ablation(rows)
    model = OracleStub(ds, shapes_captions)
    report = build_report(model, ds, batch_size=60, robustness=False)
    k = int(round(report["accuracy"] * 60))
    assert tuple(report["accuracy_interval"]) == binomial_interval(k, 60)
