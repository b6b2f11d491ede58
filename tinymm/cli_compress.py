"""``tinymm compress CHECKPOINT``: prune and quantise a trained model, and measure what it costs.

Steps, each optional: magnitude pruning of the Linear and Conv weights (``--prune AMOUNT``:
globally smallest weights, or with ``--structured`` whole channels/units, physically removed
where the layer chain allows), fine-tuning with the masks kept (``--finetune-epochs``), and
int8 post-training quantisation (``--quantize int8``: Linear and Conv with calibrated
activation ranges and integer kernels, LSTM and Embedding weights stored as int8). The table
compares before and after on the same test samples: size on disk, parameters, accuracy (with a
95 % interval on the paired difference) and the ablation, inference latency per batch.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _prunable(model) -> list:
    from . import nn

    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def prune_model(model, amount: float, structured: bool) -> dict:
    """Prune ``model`` in place; returns what was done (layers, sparsity, shrunk layers)."""
    from .compress import prune, prune_channels

    layers = _prunable(model)
    if structured:
        # every layer but the last (which produces the classes) loses channels/units
        for _, m in layers[:-1]:
            prune_channels(m, amount)
        return {"structured": True, "layers": [n for n, _ in layers[:-1]]}
    prune.global_unstructured([(m, "weight") for _, m in layers], amount=amount)
    return {"structured": False, "layers": [n for n, _ in layers],
            "sparsity": prune.sparsity(model)}


def finalize_pruning(model, structured: bool) -> dict:
    from .compress import prune, shrink

    if structured:
        return {"shrunk": {k: list(v) for k, v in shrink(model).items()}}
    for _, m in _prunable(model):
        if "weight_orig" in m._parameters:
            prune.remove(m, "weight")
    return {}


def disk_bytes(model) -> int:
    """Size of the model's state dict written by ``tm.save`` (no optimizer state)."""
    from .serialization import save

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        save(dict(model.state_dict()), path)
        return path.stat().st_size


def latency_ms(model, batch, repeats: int = 7) -> float:
    from .autograd import no_grad

    model.eval()
    times = []
    with no_grad():
        model(batch)  # warm-up (and compile)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def correct_per_sample(model, dataset, batch_size: int = 256) -> np.ndarray:
    from .train import predict

    logits, labels = predict(model, dataset, batch_size=batch_size)
    return logits.argmax(axis=1) == labels


def paired_interval(before: np.ndarray, after: np.ndarray) -> tuple[float, float, float]:
    """(accuracy change, 95 % interval low, high): normal interval of the mean paired
    difference of per-sample correctness on the same test samples."""
    d = after.astype(float) - before.astype(float)
    mean = float(d.mean())
    half = 1.96 * float(d.std(ddof=1)) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return mean, mean - half, mean + half


def describe(model, dataset, batch) -> dict:
    from .train import ablation

    correct = correct_per_sample(model, dataset)
    return {"disk_bytes": disk_bytes(model), "parameters": int(sum(
        a.size for a in model.state_dict().values())), "accuracy": float(correct.mean()),
        "ablation": {r["subset"]: r["accuracy"] for r in ablation(model, dataset)},
        "latency_ms": latency_ms(model, batch), "_correct": correct}


def format_table(before: dict, after: dict, change: tuple) -> str:
    rows = [("size on disk", f"{before['disk_bytes'] / 1024:.1f} KiB",
             f"{after['disk_bytes'] / 1024:.1f} KiB",
             f"{before['disk_bytes'] / after['disk_bytes']:.2f}x smaller"),
            ("stored values", f"{before['parameters']:,}", f"{after['parameters']:,}", ""),
            ("test accuracy", f"{before['accuracy']:.4f}", f"{after['accuracy']:.4f}",
             f"{100 * change[0]:+.2f} pts [95% {100 * change[1]:+.2f}, {100 * change[2]:+.2f}]"),
            ("latency / batch", f"{before['latency_ms']:.2f} ms", f"{after['latency_ms']:.2f} ms",
             f"{before['latency_ms'] / after['latency_ms']:.2f}x")]
    for subset in before["ablation"]:
        rows.append((f"  {subset}", f"{before['ablation'][subset]:.4f}",
                     f"{after['ablation'].get(subset, float('nan')):.4f}", ""))
    widths = [max(len(r[i]) for r in rows + [("", "before", "after", "change")]) for i in range(4)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(("", "before", "after", "change")), sep] + [line(r) for r in rows])


def save_json(path: Path, result: dict) -> None:
    clean = {k: ({kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                 if isinstance(v, dict) else v) for k, v in result.items()}
    path.write_text(json.dumps(clean, indent=1))


def run_compress(args, parser) -> int:
    """The ``tinymm compress`` command (see the module docstring)."""
    import copy

    from . import manual_seed, nn
    from .cli import CommandError, load_run_model
    from .data.loader import DataLoader

    if args.prune is None and args.quantize is None:
        raise CommandError("nothing to do: give --prune AMOUNT and/or --quantize int8")
    if args.finetune_epochs and args.prune is None:
        raise CommandError("--finetune-epochs fine-tunes a pruned model: give --prune too")
    model, state, run, path = load_run_model(args.checkpoint, "test")
    test = model.dataset
    train = load_run_model.split("train", run)
    val = load_run_model.split("val", run)
    manual_seed(int(run["seed"]))
    out = Path(args.out) if args.out else path.parent / f"compress-{path.stem}"
    batch = test.get_batch(np.arange(min(args.batch_size, len(test))))
    print(f"{path}: {run['dataset']} {run['fusion']} model, epoch {state['epoch']}; measuring "
          "the original model")
    before = describe(model, test, batch)
    small = copy.deepcopy(model)
    steps: dict = {}
    if args.prune is not None:
        steps["prune"] = prune_model(small, args.prune, args.structured)
        if args.finetune_epochs:
            from .train import Reporter, Trainer

            trainer = Trainer(small, train, val, epochs=args.finetune_epochs,
                              batch_size=run["batch_size"], lr=run["lr"] * 0.1,
                              optimizer=run["optimizer"], reporter=Reporter(quiet=args.quiet))
            trainer.fit(restore_best=False)
            steps["finetune"] = {"epochs": args.finetune_epochs, "lr": run["lr"] * 0.1}
        steps["prune"].update(finalize_pruning(small, args.structured))
    if args.quantize is not None:
        from .compress import quantize_dynamic, quantize_static

        calibration = [b for _, b in zip(range(4), DataLoader(train, batch_size=64))]
        bits = args.activation_bits
        small = quantize_static(small, calibration, modules=(nn.Linear, nn.Conv1d, nn.Conv2d),
                                reduce_range=bits == 7)
        small = quantize_dynamic(small, (nn.LSTM, nn.GRU, nn.RNN, nn.Embedding), inplace=True)
        steps["quantize"] = {"dtype": "int8", "weights": "per-channel symmetric",
                             "activations": f"per-tensor uint8 on {bits} bits (0..{2**bits - 1}), "
                             "calibrated on 256 train samples", "activation_bits": bits}
    print("measuring the compressed model")
    after = describe(small, test, batch)
    change = paired_interval(before["_correct"], after["_correct"])
    table = format_table(before, after, change)
    out.mkdir(parents=True, exist_ok=True)
    from .serialization import save

    save({"format": "tinymm-compressed", "model": dict(small.state_dict()),
          "config": {"run": run, "compression": steps}}, out / "compressed.npz")
    save_json(out / "compress.json", {"checkpoint": str(path), "steps": steps, "before": before,
                                      "after": after, "accuracy_change": list(change),
                                      "test_samples": len(test)})
    print(table)
    print(f"accuracy change is paired on the same {len(test)} test samples; outputs in {out}/")
    return 0
