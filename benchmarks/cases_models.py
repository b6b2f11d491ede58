"""Model-level cases: one Adam training step of the seed's model and of each built-in
dataset's default model, tinymm against a PyTorch twin with identical weights.

- ``seed_step_b32_32``: the seed's network (Conv 64/128/256 + MaxPool, Embedding(10000, 128)
  + LSTM(128) over 20 tokens, concat, Dense 1024, Dense 10) on 3x32x32 images, batch 32.
- ``seed_step_b8_224``: the same at the seed's own 224x224 (batch 8; a 177M-parameter Dense).
- ``model_<dataset>_step``: ``tinymm.models.build_model(dataset, modality_dropout=0)`` (the
  default encoders and concat fusion) on a batch of 32 samples of that dataset.
"""

from __future__ import annotations

import importlib
from functools import partial
from pathlib import Path

import numpy as np

from .case import Bench, Case, conv_flops, data, recurrent_flops, train_step_bench
from .frameworks import Framework

NUM_CLASSES = 10
TOKENS = 20
DATA_DIR = Path(__file__).resolve().parent.parent / "tinymm" / "data"
NOT_DATASETS = {"dataset", "loader", "__init__"}


def seed_model_flops(batch: int, size: int) -> float:
    """FLOPs of one training step (forward x3, minus the first conv's unused input grad)."""
    fwd, first, s, prev = 0.0, None, size, 3
    for ch in (64, 128, 256):
        f = conv_flops(batch, prev, ch, (s - 2) ** 2, 9)
        first = f if first is None else first
        fwd += f
        prev, s = ch, (s - 2) // 2
    fwd += recurrent_flops(TOKENS, batch, 128, 128, 4)
    feats = prev * s * s + 128
    fwd += 2.0 * batch * (feats * 1024 + 1024 * NUM_CLASSES)
    return 3.0 * fwd - first


def _cross_entropy_loss(fw: Framework, labels):
    def loss(model, batch):
        return fw.F.cross_entropy(model(batch), labels)
    return loss


def _seed_step(fw: Framework, seed: int, batch: int, size: int) -> Bench:
    if fw.name == "torch":
        from .torch_twins import seed_model_twin

        model = seed_model_twin(NUM_CLASSES, image_size=size)
    else:
        from tinymm.models import seed_model

        model = seed_model(NUM_CLASSES, image_size=size)
    rng = np.random.default_rng(seed)
    inputs = {"image": fw.tensor(data(seed, "image", (batch, 3, size, size))),
              "text": fw.tensor(rng.integers(1, 10000, (batch, TOKENS)))}
    labels = fw.tensor(rng.integers(0, NUM_CLASSES, batch))
    return train_step_bench(fw, seed, model, inputs, _cross_entropy_loss(fw, labels))


def dataset_names() -> list[str]:
    """The built-in datasets: the modules of tinymm/data that define ``build``."""
    names = []
    for path in sorted(DATA_DIR.glob("*.py")):
        if path.stem.startswith("_") or path.stem in NOT_DATASETS:
            continue
        if "\ndef build(" in path.read_text():
            names.append(path.stem)
    return names


def _dataset(name: str, size: int, seed: int):
    data_pkg = importlib.import_module("tinymm.data")
    getter = getattr(data_pkg, "get_dataset", None)
    if getter is not None:
        try:
            return getter(name, size=size, seed=seed, split="train")
        except TypeError:
            pass
    return importlib.import_module(f"tinymm.data.{name}").build(size=size, seed=seed)


def _dataset_step(fw: Framework, seed: int, name: str, batch: int) -> Bench:
    from tinymm.models import build_model

    ds = _dataset(name, max(batch, 64), seed)
    tm_model = build_model(ds, modality_dropout=0.0)
    if fw.name == "torch":
        from .torch_twins import torch_twin

        model = torch_twin(tm_model)
        del tm_model
    else:
        model = tm_model
    arrays = ds.get_batch(np.arange(batch))
    inputs = {m: fw.tensor(np.ascontiguousarray(arrays[m])) for m in ds.modalities}
    labels = fw.tensor(np.asarray(arrays["label"], dtype=np.int64))
    return train_step_bench(fw, seed, model, inputs, _cross_entropy_loss(fw, labels))


def cases() -> list[Case]:
    out = [
        Case(name="seed_step_b32_32", group="model",
             title="seed model, one Adam training step, batch 32, 3x32x32 + 20 tokens",
             setup=partial(_seed_step, batch=32, size=32), flops=seed_model_flops(32, 32),
             quick=True, rtol=5e-3),
        Case(name="seed_step_b8_224", group="model",
             title="seed model, one Adam training step, batch 8, 3x224x224 + 20 tokens",
             setup=partial(_seed_step, batch=8, size=224), flops=seed_model_flops(8, 224),
             rtol=5e-3),
    ]
    for name in dataset_names():
        out.append(Case(name=f"model_{name}_step", group="model",
                        title=f"build_model({name}) default, one Adam training step, batch 32",
                        setup=partial(_dataset_step, name=name, batch=32), rtol=5e-3))
    return out
