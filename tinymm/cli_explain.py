"""``tinymm explain CHECKPOINT``: why a trained model predicts what it predicts.

For the first ``--samples`` samples of a split it computes integrated gradients for every
modality (pixels of images and video frames, frames of spectrograms, and each token through
its embedding vector), exact modality Shapley values with the interaction index over up to
``--shapley-samples`` samples (averaged per class), and, when the model has attention layers,
their maps. It writes, into a folder of its own (``<checkpoint folder>/explain-<checkpoint>``,
never the training run's files): ``explain.json`` and PNG figures — saliency over each image,
tokens coloured by their attribution, saliency over each spectrogram, attention heatmaps and a
bar chart of modality contributions per class.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _text_layers(model) -> dict:
    layers = {}
    for name, enc in model.encoders.items():
        emb = getattr(enc, "embedding", None)
        if emb is not None:
            layers[name] = emb
    return layers


def explain_run(model, dataset, out: Path, samples: int, shapley_samples: int, steps: int,
                vocab=None, plots: bool = True) -> dict:
    """Compute the explanations of ``model`` on ``dataset`` and write them into ``out``."""
    from .explain import IntegratedGradients, ModalityShapley, attention_maps

    model.eval()
    n = min(samples, len(dataset))
    batch = dataset.get_batch(np.arange(n))
    layers = _text_layers(model)
    ig = IntegratedGradients(model)
    attributions, delta = ig.attribute(batch, n_steps=steps, return_convergence_delta=True,
                                       layers=layers)
    from .autograd import no_grad

    with no_grad():
        logits = model(batch).data
    pred = logits.argmax(axis=1)
    m = min(shapley_samples, len(dataset))
    shap_batch = dataset.get_batch(np.arange(m))
    shap = ModalityShapley(model).attribute(shap_batch)
    per_class = ModalityShapley.per_class(shap, dataset.num_classes)
    try:
        maps = attention_maps(model, batch)
    except ValueError:  # no attention layer in this model
        maps = {}
    samples_out = []
    for i in range(n):
        entry = {"index": i, "label": int(batch["label"][i]), "predicted": int(pred[i]),
                 "convergence_delta": float(delta[i]),
                 "modality_totals": {k: float(v[i].sum()) for k, v in attributions.items()}}
        for k in layers:
            scores = attributions[k][i].sum(axis=-1)  # one score per token
            tokens = batch[k][i]
            words = [vocab[t] if vocab is not None and t < len(vocab) else str(t) for t in tokens]
            entry[f"{k}_tokens"] = [{"token": w, "score": float(s)}
                                    for w, s, t in zip(words, scores, tokens) if t != 0]
        samples_out.append(entry)
    names = shap["modalities"]
    gaps = np.abs(np.asarray([s["convergence_delta"] for s in samples_out]))
    result = {
        "method": {"integrated_gradients": {"baseline": "zeros for images/audio; the padding "
                                            "token's embedding for text", "n_steps": steps,
                                            "quadrature": "gausslegendre",
                                            "max_abs_convergence_delta": float(gaps.max(initial=0))},
                   "shapley": {"value": "log-odds of the predicted class", "exact": True,
                               "samples": m}},
        "modalities": names,
        "samples": samples_out,
        "shapley_mean": dict(zip(names, shap["shapley"].mean(axis=0).tolist())),
        "interaction_mean": shap["interaction"].mean(axis=0).tolist(),
        "shapley_per_class": {str(c): dict(zip(names, per_class["shapley"][c].tolist()))
                              for c in range(dataset.num_classes) if per_class["count"][c]},
        "class_counts": per_class["count"].tolist(),
        "attention_layers": {k: list(v.shape) for k, v in maps.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "explain.json").write_text(json.dumps(result, indent=1))
    written = [out / "explain.json"]
    if plots:
        from .train.plots import matplotlib_available

        if matplotlib_available():
            written += _figures(out, batch, attributions, layers, dataset, per_class, names,
                                maps, vocab, pred)
    result["written"] = [str(p) for p in written]
    return result


def _figures(out: Path, batch, attributions, layers, dataset, per_class, names, maps, vocab,
             pred) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    n = len(batch["label"])
    class_names = list(getattr(dataset, "class_names", None) or range(dataset.num_classes))
    for key, attr in attributions.items():
        if key in layers:
            continue
        arr = batch[key]
        fig, axes = plt.subplots(2, n, figsize=(1.9 * n, 4), squeeze=False)
        for i in range(n):
            x, a = arr[i], np.abs(attr[i])
            if x.ndim == 4:  # video (T, C, H, W): frames side by side
                x = np.concatenate(list(x[:, 0]), axis=1)
                a = np.concatenate(list(a.sum(axis=1)), axis=1)
            elif x.ndim == 3:  # image (C, H, W)
                x, a = x.mean(axis=0), a.sum(axis=0)
            origin = "lower" if key == "audio" else "upper"  # spectrograms: low frequencies down
            axes[0, i].imshow(x, cmap="gray", aspect="auto", origin=origin)
            axes[1, i].imshow(x, cmap="gray", aspect="auto", origin=origin)
            axes[1, i].imshow(a, cmap="inferno", alpha=0.6, aspect="auto", origin=origin)
            axes[0, i].set_title(str(class_names[int(pred[i])])[:24], fontsize=7)
            for ax in axes[:, i]:
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0, 0].set_ylabel(key)
        axes[1, 0].set_ylabel("|IG|")
        fig.suptitle(f"{key}: integrated-gradients saliency (predicted class above)")
        fig.tight_layout()
        path = out / f"saliency-{key}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    for key in layers:
        scores = attributions[key].sum(axis=-1)
        fig, ax = plt.subplots(figsize=(8, 0.45 * n + 0.8))
        ax.axis("off")
        lim = max(np.abs(scores).max(), 1e-12)
        cmap = plt.get_cmap("coolwarm")
        for i in range(n):
            x = 0.0
            for t, s in zip(batch[key][i], scores[i]):
                if t == 0:
                    continue
                word = vocab[t] if vocab is not None and t < len(vocab) else str(t)
                ax.text(x, n - i, word, fontsize=9, va="center",
                        bbox={"facecolor": cmap(0.5 + 0.5 * s / lim), "edgecolor": "none", "pad": 1})
                x += 0.012 * (len(word) + 2)
        ax.set_xlim(0, 1)
        ax.set_ylim(0.3, n + 0.7)
        ax.set_title(f"{key}: token attributions (red: for the predicted class, blue: against)",
                     fontsize=9)
        path = out / f"tokens-{key}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * dataset.num_classes + 2), 3.2))
    rows = [c for c in range(dataset.num_classes) if per_class["count"][c]]
    width = 0.8 / max(len(names), 1)
    for j, name in enumerate(names):
        ax.bar(np.arange(len(rows)) + j * width, per_class["shapley"][rows, j], width, label=name)
    ax.set_xticks(np.arange(len(rows)) + 0.4 - width / 2, [str(class_names[c])[:24] for c in rows],
                  rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("mean Shapley value (log-odds)")
    ax.set_title("modality contribution per predicted class")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "modality-contribution.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    for name, w in maps.items():
        heads, length = w.shape[1], w.shape[-1]
        labels = _position_labels(name, length, names, batch, vocab)
        fig, axes = plt.subplots(1, heads + 1, figsize=(2.4 * (heads + 1), 3.4), squeeze=False)
        top = float(w[0].max())  # one colour scale for every head, so heads compare
        for h in range(heads + 1):
            m = w[0].mean(axis=0) if h == heads else w[0, h]
            ax = axes[0, h]
            ax.imshow(m, cmap="viridis", vmin=0, vmax=top)
            ax.set_title("mean over heads" if h == heads else f"head {h}", fontsize=8)
            ax.set_xticks(np.arange(length), labels, rotation=90, fontsize=6)
            ax.set_yticks(np.arange(length), labels if h == 0 else [""] * length, fontsize=6)
            ax.set_xlabel("key", fontsize=7)
        axes[0, 0].set_ylabel("query", fontsize=7)
        fig.suptitle(f"attention of {name} (sample 0; rows sum to 1)", fontsize=9)
        fig.tight_layout()
        path = out / f"attention-{name.replace('.', '_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def run_explain(args, parser) -> int:
    """The ``tinymm explain`` command (see the module docstring)."""
    from .cli import load_run_model

    model, state, run, path = load_run_model(args.checkpoint, args.split)
    dataset = model.dataset
    out = Path(args.out) if args.out else path.parent / f"explain-{path.stem}"
    result = explain_run(model, dataset, out, args.samples, args.shapley_samples, args.steps,
                         vocab=getattr(dataset, "vocab", None), plots=not args.no_plots)
    names = result["modalities"]
    print(f"{path}: {run['dataset']} {run['fusion']} model, epoch {state['epoch']}, "
          f"{args.split} split")
    print("mean modality Shapley value (log-odds of the predicted class): " + ", ".join(
        f"{n} {v:+.3f}" for n, v in result["shapley_mean"].items()))
    if len(names) > 1:
        inter = np.asarray(result["interaction_mean"])
        print("mean interaction index: " + ", ".join(
            f"{names[i]}x{names[j]} {inter[i, j]:+.3f}"
            for i in range(len(names)) for j in range(i + 1, len(names))))
    ig = result["method"]["integrated_gradients"]
    print(f"integrated gradients: {ig['n_steps']} steps, largest |convergence delta| "
          f"{ig['max_abs_convergence_delta']:.2e}")
    print(f"wrote {len(result['written'])} files into {out}/")
    return 0


def _position_labels(layer: str, length: int, names: list, batch: dict, vocab) -> list[str]:
    """Tick labels of an attention map's positions: [CLS] + modalities for the fusion
    Transformer, the words of sample 0 for a text encoder layer, else the indices."""
    if "fusion" in layer and length == len(names) + 1:
        return ["[CLS]", *names]
    for key, ids in batch.items():
        ids = np.asarray(getattr(ids, "data", ids))
        if key in layer and ids.dtype.kind in "iu" and ids.ndim == 2 and ids.shape[1] == length:
            return [("<pad>" if t == 0 else vocab[t] if vocab is not None and t < len(vocab) else str(t))
                    for t in ids[0].tolist()]
    return [str(i) for i in range(length)]
