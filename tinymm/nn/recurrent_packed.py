"""Running a recurrent layer-direction over a ``PackedSequence`` with the fused kernels.

A packed batch is sorted by decreasing length, so the steps fall into runs ("buckets") in
which the number of running sequences ``b`` is constant: steps ``[t0, t1)`` advance exactly
rows ``0..b-1``. Each bucket is one call of the fused layer op (``rnn_layer``/``lstm_layer``/
``gru_layer``: one input GEMM, one time loop, one fused backward) on the ``(t1-t0, b, I)``
block of packed rows, which in packed order is already contiguous and time-major:

- forward direction: buckets in time order; a bucket's final state seeds the next bucket
  (its first ``b'`` rows); the rows that stop (``b'..b-1``) have reached their last step,
  so their states are that sequence's ``h_n``;
- reverse direction: buckets from the last step backwards; a sequence joins (with its
  ``h_0``) at its own last step, so rows ``b_prev..b-1`` are appended before the bucket;
  ``h_n`` is the state after step 0.

This is exactly PyTorch's packed recurrence, with as many fused calls as there are distinct
lengths, and the output in packed layout: the buckets' outputs, flattened, concatenated.
"""

from __future__ import annotations

import numpy as np

from ..ops.shape import cat
from ..tensor import Tensor

__all__ = ["buckets", "run_packed_direction"]


def buckets(batch_sizes: np.ndarray) -> list[tuple[int, int, int, int]]:
    """``[(t0, t1, b, row0)]``: runs of equal batch size; ``row0`` is the packed row of step
    ``t0``. ``batch_sizes (T,)`` decreasing."""
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    starts = [0] + [t for t in range(1, len(batch_sizes)) if batch_sizes[t] != batch_sizes[t - 1]]
    ends = starts[1:] + [len(batch_sizes)]
    return [(t0, t1, int(batch_sizes[t0]), int(offsets[t0])) for t0, t1 in zip(starts, ends)]


def run_packed_direction(layer_fn, data: Tensor, runs, initial: list[Tensor], weights: tuple,
                         reverse: bool) -> tuple[Tensor, list[Tensor]]:
    """One layer-direction over packed ``data (S, I)``.

    ``runs`` from :func:`buckets`; ``initial``: the initial states, each ``(N, H)`` in sorted
    batch order; ``layer_fn(x, *states, *weights, reverse)`` -> ``(y, *final_states)``.
    Returns the packed output ``(S, H)`` and the final states, each ``(N, H)``, sorted order.
    """
    def block(t0, t1, b, row0):
        return data[row0:row0 + (t1 - t0) * b].reshape(t1 - t0, b, data.shape[1])

    outputs: list[Tensor] = [None] * len(runs)  # type: ignore[list-item]
    if not reverse:
        state = [s[:runs[0][2]] for s in initial]
        done: list[list[Tensor]] = []  # finished rows, from the last rows upwards
        for k, run in enumerate(runs):
            y, *state = layer_fn(block(*run), *state, *weights, False)
            outputs[k] = y.reshape(-1, y.shape[2])
            b_next = runs[k + 1][2] if k + 1 < len(runs) else 0
            if b_next:
                done.append([s[b_next:] for s in state])
                state = [s[:b_next] for s in state]
        done.append(state)
        finals = (done[0] if len(done) == 1 else
                  [cat([d[i] for d in reversed(done)]) for i in range(len(state))])
    else:
        rows = runs[-1][2]
        state = [s[:rows] for s in initial]
        for k in range(len(runs) - 1, -1, -1):
            b = runs[k][2]
            if b > rows:  # sequences whose last step is t1 - 1 of this bucket join here
                state = [cat([s, s0[rows:b]]) for s, s0 in zip(state, initial)]
                rows = b
            y, *state = layer_fn(block(*runs[k]), *state, *weights, True)
            outputs[k] = y.reshape(-1, y.shape[2])
        finals = state
    out = outputs[0] if len(outputs) == 1 else cat(outputs)
    return out, finals
