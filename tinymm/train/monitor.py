"""What the Trainer measures each epoch besides loss and accuracy (cheap, on small subsets).

- ``contributions``: the fused model's accuracy on the first ``n`` validation samples with
  every modality present, and with each single modality alone (the others masked, as in the
  ablation), from one encoding pass: {"all": acc, modality: acc, ..., "n": n}.
- ``clean_accuracy``: the accuracy on the first ``n`` training samples in eval mode, i.e.
  without modality dropout or dropout, so it is comparable with the validation accuracy
  (the running training accuracy is measured under modality dropout and sits below it).

Neither draws from tinymm's random generator, so monitoring never changes a run.
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad


def _first(dataset, n: int):
    from ..data.dataset import Subset

    return dataset if len(dataset) <= n else Subset(dataset, np.arange(n))


def _batches(dataset, n: int, batch_size: int = 256):
    from ..data.loader import DataLoader

    return DataLoader(_first(dataset, n), batch_size=batch_size, shuffle=False)


def contributions(model, dataset, n: int) -> dict:
    """{"all": fused accuracy, <modality>: accuracy with only it present, "n": samples}."""
    was_training = model.training
    model.eval()
    names = list(model.modalities)
    correct = dict.fromkeys(["all", *names], 0)
    count = 0
    try:
        with no_grad():
            for batch in _batches(dataset, n):
                mask = model.presence(batch)
                feats = model.fusion_inputs(batch, mask)
                labels = np.asarray(batch["label"])
                subsets = [("all", mask)]
                for j, name in enumerate(names):
                    only = np.zeros_like(mask)
                    only[:, j] = mask[:, j]
                    subsets.append((name, only))
                for key, m in subsets:
                    logits = model.head(model.fusion(feats, m)).data
                    correct[key] += int((logits.argmax(axis=1) == labels).sum())
                count += len(labels)
    finally:
        model.train(was_training)
    out = {k: v / max(count, 1) for k, v in correct.items()}
    out["n"] = count
    return out


def clean_accuracy(model, dataset, n: int) -> float:
    """Accuracy in eval mode (no modality dropout, no dropout) on the first ``n`` samples."""
    was_training = model.training
    model.eval()
    correct = count = 0
    try:
        with no_grad():
            for batch in _batches(dataset, n):
                logits = model(batch).data
                correct += int((logits.argmax(axis=1) == np.asarray(batch["label"])).sum())
                count += len(batch["label"])
    finally:
        model.train(was_training)
    return correct / max(count, 1)
