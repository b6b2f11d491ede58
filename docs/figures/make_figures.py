"""Draw the figures of docs/ from tinymm's own outputs.

    python docs/figures/make_figures.py            # writes docs/figures/*.png

- ``im2col.png``: a 1-channel 4x4 image, a 3x3 convolution with padding 1, and the column
  matrix the Numba kernel builds (one column per output pixel, one row per kernel tap);
- ``attention.png``: the attention weights of a MultiheadAttention layer trained for a few
  steps to copy the key position a query asks for, per head and averaged;
- ``lstm_gates.png``: the gates of an LSTM cell over a sentence: what the fused kernel saves
  for backward.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def im2col_figure(plt, out: Path) -> None:
    from tinymm import kernels

    x = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)  # (N, C, H, W)
    cols = np.empty((9, 16), np.float32)  # (C·kh·kw, N·Ho·Wo)
    im2col = kernels.get("conv2d_forward", "numba").__globals__["_im2col"]
    im2col(x, cols, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 3.2]})
    a.imshow(x[0, 0], cmap="Blues", vmin=0, vmax=20)
    for (i, j), v in np.ndenumerate(x[0, 0]):
        a.text(j, i, f"{v:g}", ha="center", va="center")
    a.set_title("input x (1 channel, 4×4)")
    a.set_xticks([])
    a.set_yticks([])
    b.imshow(cols, cmap="Blues", vmin=0, vmax=20, aspect="auto")
    for (i, j), v in np.ndenumerate(cols):
        b.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7)
    b.set_title("cols = im2col(x): row (u, v) = tap of the 3×3 kernel, column = output pixel\n"
                "y = W (O, 9) @ cols (9, 16): one GEMM; zeros are the padding")
    b.set_yticks(range(9), [f"(u={u}, v={v})" for u in range(3) for v in range(3)], fontsize=7)
    b.set_xticks(range(16), [f"({i},{j})" for i in range(4) for j in range(4)], fontsize=6,
                 rotation=90)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def attention_figure(plt, out: Path) -> None:
    import tinymm as tm
    import tinymm.functional as F
    from tinymm import nn, optim

    tm.manual_seed(0)
    L = 6
    emb = nn.Embedding(L, 16)
    mha = nn.MultiheadAttention(16, 2, batch_first=True)
    head = nn.Linear(16, L)
    params = list(emb.parameters()) + list(mha.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=3e-2)
    rng = np.random.default_rng(0)
    for _ in range(150):  # task: query i must find the key that holds token (i + 2) % L
        perm = np.stack([rng.permutation(L) for _ in range(32)])
        keys = emb(tm.tensor(perm))
        queries = emb(tm.tensor((np.arange(L)[None, :] + 2) % L).expand(32, L))
        mixed, _ = mha(queries, keys, keys, need_weights=False)
        loss = F.cross_entropy(head(mixed).reshape(-1, L), tm.tensor((np.arange(L)[None] + 2) % L)
                               .expand(32, L).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    perm = np.array([[3, 0, 5, 1, 4, 2]])
    keys = emb(tm.tensor(perm))
    queries = emb(tm.tensor((np.arange(L)[None, :] + 2) % L))
    with tm.no_grad():
        _, per_head = mha(queries, keys, keys, average_attn_weights=False)
    w = per_head.data[0]  # (heads, L, S)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for k, ax in enumerate(axes):
        m = w.mean(axis=0) if k == 2 else w[k]
        ax.imshow(m, cmap="viridis", vmin=0, vmax=1)
        ax.set_title("average over heads" if k == 2 else f"head {k}")
        ax.set_xlabel("key position (token shown)")
        ax.set_ylabel("query asks for token")
        ax.set_xticks(range(L), [f"{j}:{t}" for j, t in enumerate(perm[0])], fontsize=7)
        ax.set_yticks(range(L), [str((i + 2) % L) for i in range(L)], fontsize=7)
    fig.suptitle("softmax(QKᵀ/√d) of a trained MultiheadAttention: each query finds its token")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def lstm_figure(plt, out: Path) -> None:
    import tinymm as tm
    from tinymm import nn

    tm.manual_seed(1)
    lstm = nn.LSTM(4, 3, batch_first=True)
    x = np.zeros((1, 12, 4), np.float32)
    x[0, 2, 0] = x[0, 7, 1] = 3.0  # two "events" in a sequence of 12 steps
    w_ih, w_hh = lstm.weight_ih_l0.data, lstm.weight_hh_l0.data
    b = lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
    h, c = np.zeros(3, np.float32), np.zeros(3, np.float32)
    gates = {"input gate i": [], "forget gate f": [], "candidate g": [], "output gate o": [],
             "cell c": [], "hidden h": []}
    sig = lambda z: 1 / (1 + np.exp(-z))
    for t in range(12):  # the equations PyTorch (and tinymm's fused kernel) use, gate order i f g o
        z = w_ih @ x[0, t] + w_hh @ h + b
        i, f, g, o = sig(z[:3]), sig(z[3:6]), np.tanh(z[6:9]), sig(z[9:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip(gates, (i, f, g, o, c, h)):
            gates[k].append(v[0])
    out_h, _ = lstm(tm.tensor(x))
    assert np.allclose(out_h.data[0, :, 0], gates["hidden h"], atol=1e-5), "hand-run LSTM != tinymm"
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for k, v in gates.items():
        ax.plot(v, marker="o", label=k, lw=2 if k in ("cell c", "hidden h") else 1)
    for t in (2, 7):
        ax.axvline(t, color="grey", ls=":")
    ax.set_xlabel("time step t (inputs at t = 2 and t = 7)")
    ax.set_title("One LSTM unit: c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t)")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(out_dir: Path = HERE) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for name, draw in (("im2col.png", im2col_figure), ("attention.png", attention_figure),
                       ("lstm_gates.png", lstm_figure)):
        draw(plt, out_dir / name)
        made.append(out_dir / name)
    return made


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)
