"""Scaling cases: how cost grows with batch, sequence length and channels (issue 16).

Run with ``python benchmarks/run.py --scaling`` (not part of the default suite or --quick).
Each series varies one size and keeps the rest of the case fixed:

- ``seed_batch``: the seed model's Adam training step at 3x32x32, batch 8 -> 128;
- ``lstm_seq``: LSTM 128->128 forward+backward, batch 32, sequence length 16 -> 512;
- ``mha_seq``: MultiheadAttention self-attention forward+backward, batch 8, d 128, 4 heads,
  sequence length 16 -> 512 (the L^2 of the score matrix shows at long sequences);
- ``conv_channels``: conv2d C->C 3x3 pad 1 forward+backward at 16x16, batch 32, C 16 -> 256.
"""

from __future__ import annotations

from functools import partial

from .case import Case, conv_flops, mha_flops, recurrent_flops
from .cases_models import _seed_step, seed_model_flops
from .cases_ops import _conv2d, _recurrent

# series -> (x-axis label, [(x, case name)]), filled by cases()
SERIES: dict[str, tuple[str, list[tuple[int, str]]]] = {}

BATCHES = (8, 16, 32, 64, 128)
SEQ_LENGTHS = (16, 32, 64, 128, 256, 512)
CHANNELS = (16, 32, 64, 128, 256)
MHA_BATCH = 8


def _mha(fw, seed: int, mode: str, seq: int, batch: int):
    from .case import data, op_bench

    mha = fw.nn.MultiheadAttention(128, 4, batch_first=True)
    x = data(seed, "x", (batch, seq, 128))

    def self_attention(x):
        return mha(x, x, x, need_weights=False)[0]

    return op_bench(fw, seed, self_attention, {"x": (x, True)}, mode, module=mha)


def _add(out: list[Case], series: str, label: str, x: int, case: Case) -> None:
    out.append(case)
    SERIES.setdefault(series, (label, []))
    if (x, case.name) not in SERIES[series][1]:
        SERIES[series][1].append((x, case.name))


def cases() -> list[Case]:
    out: list[Case] = []
    for b in BATCHES:
        _add(out, "seed_batch", "batch", b, Case(
            name=f"scale_seed_b{b}", group="scaling",
            title=f"seed model Adam step, batch {b}, 3x32x32 + 20 tokens",
            setup=partial(_seed_step, batch=b, size=32), flops=seed_model_flops(b, 32),
            rtol=5e-3, tags=("scaling",)))
    for t in SEQ_LENGTHS:
        _add(out, "lstm_seq", "sequence length", t, Case(
            name=f"scale_lstm_L{t}_fb", group="scaling",
            title=f"LSTM 128->128 fwd+bwd, batch 32, {t} steps",
            setup=partial(_recurrent, mode="fb", kind="LSTM", steps=t),
            flops=3.0 * recurrent_flops(t, 32, 128, 128, 4), tags=("scaling",)))
    for t in SEQ_LENGTHS:
        _add(out, "mha_seq", "sequence length", t, Case(
            name=f"scale_mha_L{t}_fb", group="scaling",
            title=f"MultiheadAttention self fwd+bwd, batch {MHA_BATCH}, seq {t}, d 128, 4 heads",
            setup=partial(_mha, mode="fb", seq=t, batch=MHA_BATCH),
            flops=3.0 * mha_flops(MHA_BATCH, t, 128), tags=("scaling",)))
    for c in CHANNELS:
        _add(out, "conv_channels", "channels (in = out)", c, Case(
            name=f"scale_conv_c{c}_fb", group="scaling",
            title=f"conv2d {c}->{c} 3x3 pad1 fwd+bwd, 16x16, batch 32",
            setup=partial(_conv2d, mode="fb", cin=c, cout=c, size=16),
            flops=3.0 * conv_flops(32, c, c, 256, 9), tags=("scaling",)))
    return out


def series_table(rows: list[dict]) -> str:
    """Markdown: one table per series, x | torch ms | tinymm ms | tinymm/torch."""
    if not SERIES:
        cases()
    by_name = {r["name"]: r for r in rows}
    parts = []
    for series, (label, points) in SERIES.items():
        present = [(x, by_name[n]) for x, n in sorted(points) if n in by_name]
        if not present:
            continue
        fws = _frameworks(r for _, r in present)
        parts += [f"**{series}**", "",
                  f"| {label} | " + " | ".join(f"{f} ms" for f in fws) + " | numba / torch |",
                  "|---|" + "---|" * (len(fws) + 1)]
        for x, r in present:
            cells = [_ms(r, f) for f in fws]
            ratio = r.get("ratio_numba_torch")
            parts.append(f"| {x} | " + " | ".join(cells)
                         + f" | {'—' if ratio is None else f'{ratio:.2f}'} |")
        parts.append("")
    return "\n".join(parts)


def _frameworks(rows) -> list[str]:
    fws: list[str] = []
    for r in rows:
        for f in r["frameworks"]:
            if f not in fws:
                fws.append(f)
    order = {"torch": 0, "tinymm-numba": 1, "tinymm-numpy": 2}
    return sorted(fws, key=lambda f: (order.get(f, 3), f))


def _median(row: dict, fw: str) -> float | None:
    d = row["frameworks"].get(fw) or {}
    t = d.get("timing")
    return t["median_ms"] if d.get("status") == "ok" and t and t.get("n") else None


def _ms(row: dict, fw: str) -> str:
    m = _median(row, fw)
    if m is None:
        return (row["frameworks"].get(fw) or {}).get("status", "—")
    return f"{m:.3g}"


def write_png(path, rows: list[dict]) -> str | None:
    """One log-log panel per series, time vs size, one line per framework; None when written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no scaling figure"
    if not SERIES:
        cases()
    by_name = {r["name"]: r for r in rows}
    series = [(s, lab, [(x, by_name[n]) for x, n in sorted(pts) if n in by_name])
              for s, (lab, pts) in SERIES.items()]
    series = [s for s in series if s[2]]
    if not series:
        return "no scaling rows to plot"
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.6), squeeze=False)
    for ax, (name, label, pts) in zip(axes[0], series):
        for fw in _frameworks(r for _, r in pts):
            xy = [(x, _median(r, fw)) for x, r in pts if _median(r, fw) is not None]
            if xy:
                ax.plot([p[0] for p in xy], [p[1] for p in xy], marker="o", label=fw)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("median ms per step")
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None
