"""The compression table for every built-in data set: int8, and prune 0.5 + int8, against the
float32 model each data set's ``tinymm train`` defaults produce.

    python benchmarks/compress_table.py                 # trains what is missing, then compresses
    python benchmarks/compress_table.py --datasets shapes_captions --finetune-epochs 1

Per data set: the default model is trained (``tinymm train --dataset X --out RUNS/X-concat``,
skipped when that run exists) and its best checkpoint loaded. Two compressed copies:

- **int8**: Linear/Conv weights per-channel int8 with activation ranges calibrated on 256
  training samples (integer kernels), LSTM/GRU/RNN and Embedding weights stored as int8;
- **prune 0.5 + int8**: the 50 % smallest Linear/Conv weights (globally) masked, fine-tuned
  with the masks kept (``--finetune-epochs``, lr / 10), masks folded in, then int8 as above.

Reported: weight bytes (the state dict's arrays, no optimizer state) and the ratio; bytes of
the ``np.savez_compressed`` file (where the zeros of pruning do pay); test accuracy before and
after on the *same* test samples with a 95 % interval on the paired difference
(:func:`paired_difference_interval`); inference latency per batch of 64 (median of 7 calls).
Each data set's result is saved to ``OUT/<dataset>.json`` as soon as it is done, so an
interrupted run resumes where it stopped; the table goes to ``benchmarks/COMPRESS.md``.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATASETS = ("sentiment_prosody", "shapes_captions", "spoken_digits", "video_events")
TARGET_RATIO, TARGET_DROP = 3.5, 0.01


def paired_difference_interval(before, after, level: float = 0.95) -> tuple[float, float, float]:
    """(mean change, low, high) of accuracy from per-sample correctness on the same samples.

    d_i = after_i − before_i ∈ {−1, 0, 1}; the change is mean(d) and the interval the normal
    one on the paired differences, mean(d) ± z · sd(d) / √n — the interval McNemar's test
    inverts, as only the discordant samples (d ≠ 0) make sd(d) > 0. When no sample changed,
    the interval is [0, 0].
    """
    b, a = np.asarray(before), np.asarray(after)
    if b.shape != a.shape or b.ndim != 1 or b.size < 2:
        raise ValueError(f"paired_difference_interval: before and after must be 1-D of the same length "
                         f">= 2, got shapes {b.shape} and {a.shape}")
    if b.dtype != bool or a.dtype != bool:
        raise TypeError(f"paired_difference_interval: per-sample correctness must be boolean, got "
                        f"{b.dtype} and {a.dtype}")
    if not 0 < level < 1:
        raise ValueError(f"paired_difference_interval: level must be in (0, 1), got {level}")
    d = a.astype(np.float64) - b.astype(np.float64)
    z = math.sqrt(2) * _erfinv(level)
    half = z * float(d.std(ddof=1)) / math.sqrt(d.size)
    mean = float(d.mean())
    return mean, mean - half, mean + half


def _erfinv(y: float) -> float:
    """Inverse error function by Newton's method on math.erf (no SciPy)."""
    x = 0.0
    for _ in range(60):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def verdict(change: tuple[float, float, float], drop: float = TARGET_DROP) -> str:
    """'met (interval)' when the whole interval lies above −drop, 'met (point)' when only the
    estimate does, else 'not met'."""
    mean, low, _ = change
    if low >= -drop:
        return "met (interval)"
    return "met (point)" if mean >= -drop else "not met"


def _train(dataset: str, runs: Path) -> Path:
    out = runs / f"{dataset}-concat"
    if not (out / "report.json").is_file():
        print(f"  training the default model: tinymm train --dataset {dataset} --out {out}", flush=True)
        subprocess.run([str(Path(sys.executable).parent / "tinymm"), "train", "--dataset", dataset, "--out",
                        str(out), "--no-plots"], check=True, cwd=ROOT)
    return out / "best.npz"


def _compressed_bytes(model) -> int:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in model.state_dict().items()})
    return buf.getbuffer().nbytes


def _quantize(model, train):
    from tinymm import nn
    from tinymm.compress import quantize_dynamic, quantize_static
    from tinymm.data.loader import DataLoader

    calibration = [b for _, b in zip(range(4), DataLoader(train, batch_size=64), strict=False)]
    small = quantize_static(model, calibration, modules=(nn.Linear, nn.Conv1d, nn.Conv2d))
    return quantize_dynamic(small, (nn.LSTM, nn.GRU, nn.RNN, nn.Embedding), inplace=True)


def _measure(model, test, batch) -> dict:
    from tinymm.cli_compress import correct_per_sample, latency_ms
    from tinymm.compress import weight_bytes

    correct = correct_per_sample(model, test)
    return {"weight_bytes": weight_bytes(model), "compressed_bytes": _compressed_bytes(model),
            "accuracy": float(correct.mean()), "latency_ms": latency_ms(model, batch),
            "_correct": correct}


def compress_dataset(dataset: str, runs: Path, finetune_epochs: int) -> dict:
    from tinymm import manual_seed
    from tinymm.cli import load_run_model
    from tinymm.cli_compress import finalize_pruning, prune_model
    from tinymm.compress import prune
    from tinymm.train import Reporter, Trainer

    t0 = time.perf_counter()
    ckpt = _train(dataset, runs)
    model, state, run, _ = load_run_model(str(ckpt), "test")
    test = model.dataset
    train, val = load_run_model.split("train", run), load_run_model.split("val", run)
    batch = test.get_batch(np.arange(min(64, len(test))))
    print("  measuring float32", flush=True)
    base = _measure(model, test, batch)
    print("  int8", flush=True)
    manual_seed(int(run["seed"]))
    variants = {"int8": _measure(_quantize(model, train), test, batch)}
    print(f"  prune 0.5 (global magnitude) + fine-tune {finetune_epochs} epoch(s) + int8", flush=True)
    manual_seed(int(run["seed"]))
    pruned = copy.deepcopy(model)
    info = prune_model(pruned, 0.5, structured=False)
    if finetune_epochs:
        Trainer(pruned, train, val, epochs=finetune_epochs, batch_size=run["batch_size"],
                lr=run["lr"] * 0.1, optimizer=run["optimizer"], reporter=Reporter(quiet=True)).fit(
                    restore_best=False)
    sparsity = float(prune.sparsity(pruned))
    finalize_pruning(pruned, structured=False)
    pruned.eval()
    variants["prune0.5+int8"] = _measure(_quantize(pruned, train), test, batch)
    out = {"dataset": dataset, "checkpoint": str(ckpt.relative_to(ROOT)) if ckpt.is_relative_to(ROOT)
           else str(ckpt), "epoch": int(state["epoch"]), "test_samples": len(test),
           "finetune_epochs": finetune_epochs, "pruned_layers": info["layers"],
           "sparsity_after_finetune": sparsity, "float32": base, "variants": {}}
    for name, v in variants.items():
        change = paired_difference_interval(base["_correct"], v["_correct"])
        out["variants"][name] = {**v, "ratio": base["weight_bytes"] / v["weight_bytes"],
                                 "compressed_ratio": base["compressed_bytes"] / v["compressed_bytes"],
                                 "change": list(change), "verdict": verdict(change)}
    out["seconds"] = time.perf_counter() - t0
    return out


def _clean(d):
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items() if not k.startswith("_")}
    return d


def table(results: list[dict]) -> str:
    kb = lambda b: f"{b / 1024:.1f}"  # noqa: E731
    lines = ["| data set | model | weight KiB | ratio (≥ 3.5) | npz-compressed KiB (ratio) | test accuracy | "
             "change, pts [95 % paired interval] | ≤ 1 pt drop | latency / batch of 64 (ms) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        b = r["float32"]
        lines.append(f"| {r['dataset']} | float32 | {kb(b['weight_bytes'])} | — | "
                     f"{kb(b['compressed_bytes'])} | {b['accuracy']:.4f} | — | — | {b['latency_ms']:.2f} |")
        for name, v in r["variants"].items():
            m, lo, hi = (100 * c for c in v["change"])
            lines.append(f"| | {name} | {kb(v['weight_bytes'])} | **{v['ratio']:.2f}×** | "
                         f"{kb(v['compressed_bytes'])} ({v['compressed_ratio']:.2f}×) | "
                         f"{v['accuracy']:.4f} | "
                         f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}] | {v['verdict']} | {v['latency_ms']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs", help="where the trained runs live")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "compress",
                    help="per-data-set JSON results (resume from here)")
    ap.add_argument("--finetune-epochs", type=int, default=2)
    ap.add_argument("--table", type=Path, default=HERE / "COMPRESS.md")
    ap.add_argument("--redo", action="store_true", help="ignore saved per-data-set results")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for Numba and BLAS while compressing and timing (default 1, as "
                    "tinymm compress: two spinning pools on few cores distort the latency)")
    args = ap.parse_args(argv)
    from tinymm.train.threads import set_num_threads

    set_num_threads(args.threads)
    try:
        import sklearn  # noqa: F401

        datasets = list(args.datasets) + (["digits_captions"] if args.datasets == list(DATASETS) else [])
    except ImportError:
        datasets = list(args.datasets)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, ds in enumerate(datasets, 1):
        path = args.out / f"{ds}.json"
        if path.is_file() and not args.redo:
            print(f"[{i}/{len(datasets)}] {ds}: saved result {path}", flush=True)
            results.append(json.loads(path.read_text()))
            continue
        print(f"[{i}/{len(datasets)}] {ds}", flush=True)
        r = _clean(compress_dataset(ds, args.runs, args.finetune_epochs))
        path.write_text(json.dumps(r, indent=1))
        results.append(r)
        print(f"  done in {r['seconds']:.0f} s", flush=True)
    text = "\n".join([
        "# Compression table: int8, and prune 0.5 + int8, on every built-in data set", "",
        f"Command: `python benchmarks/compress_table.py --finetune-epochs {args.finetune_epochs}` "
        "(each data set's default model from `tinymm train --dataset X`; "
        "sklearn's digits_captions is included when scikit-learn is installed).", "",
        table(results), "",
        "Weight KiB: the state dict's arrays (what `tm.save` stores; no optimizer state). Ratio: float32 "
        "weight bytes / compressed weight bytes. Pruned weights are stored dense, so pruning alone does not "
        "shrink them; the npz-compressed column shows what a compressing archive makes of its zeros. "
        "Accuracy change: paired on the same test samples, 95 % normal interval on the per-sample "
        "differences; '≤ 1 pt drop' is *met (interval)* when the whole interval lies above −1 pt, "
        "*met (point)* when only the estimate does. Latency: median of 7 forward passes on one batch "
        f"of 64 test samples, {args.threads} thread(s) for Numba and BLAS.", ""])
    args.table.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
