"""A packed-sequence LSTM text classifier written as in a PyTorch tutorial, with only the
``torch`` -> ``tinymm`` names changed, trains step by step like PyTorch (float64, Adam,
gradient clipping). Tolerance: rtol 1e-8 over 5 steps (Adam divides by sqrt(v) + eps,
which amplifies the ~1e-15 forward differences early on, but stays far below 1e-8 here).
"""

import numpy as np
import pytest

import tinymm

torch = pytest.importorskip("torch")


def make_classifier(lib, vocab, embed, hidden, classes):
    nn = lib.nn
    rnn_utils = lib.nn.utils.rnn

    class TextClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
            self.lstm = nn.LSTM(embed, hidden, num_layers=2, batch_first=True,
                                bidirectional=True)
            self.fc = nn.Linear(2 * hidden, classes)

        def forward(self, tokens, lengths):
            packed = rnn_utils.pack_padded_sequence(self.embedding(tokens), lengths,
                                                    batch_first=True, enforce_sorted=False)
            _, (h_n, _) = self.lstm(packed)
            return self.fc(lib.cat([h_n[-2], h_n[-1]], dim=1))

    return TextClassifier()


def _train(lib, model, batches, steps):
    F = lib.nn.functional if lib is torch else lib.functional
    opt = lib.optim.Adam(model.parameters(), lr=0.01)
    losses, norms = [], []
    for step in range(steps):
        tokens, lengths, labels = batches[step % len(batches)]
        opt.zero_grad()
        loss = F.cross_entropy(model(lib.tensor(tokens), lengths), lib.tensor(labels))
        loss.backward()
        norms.append(float(lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
        opt.step()
        losses.append(float(loss.item()))
    return losses, norms


def test_packed_lstm_classifier_trains_like_pytorch():
    rng = np.random.default_rng(0)
    vocab, batch, steps = 20, 6, 5
    batches = []
    for _ in range(2):
        lengths = rng.integers(1, 9, batch)
        tokens = np.zeros((batch, 8), np.int64)
        for i, n in enumerate(lengths):
            tokens[i, :n] = rng.integers(1, vocab, n)
        batches.append((tokens, lengths.tolist(), rng.integers(0, 3, batch)))
    torch.manual_seed(0)
    theirs = make_classifier(torch, vocab, 5, 4, 3).double()
    mine = make_classifier(tinymm, vocab, 5, 4, 3).double()
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    losses_t, norms_t = _train(torch, theirs, batches, steps)
    losses_m, norms_m = _train(tinymm, mine, batches, steps)
    np.testing.assert_allclose(losses_m, losses_t, rtol=1e-8)
    np.testing.assert_allclose(norms_m, norms_t, rtol=1e-8)
    assert losses_m[-1] != losses_m[0]
    params = dict(mine.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(params[name].data, p.detach().numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=name)
