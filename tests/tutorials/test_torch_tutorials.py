"""Three models written as in PyTorch's tutorials run unchanged on tinymm and train step by
step like PyTorch.

Each model is one source text, executed twice: once with ``torch``, ``nn``, ``F`` and
``optim`` bound to PyTorch, once bound to tinymm — *only the import changes*. The tinymm
model gets the PyTorch model's initial weights (``load_state_dict`` of the torch state dict),
both train in float64 on the same batches, and the losses and final weights must agree to
float64 rounding. Dropout is 0 in these step-by-step runs (random masks differ between the
two libraries); dropout's statistics are tested in the layer tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinymm as tm

torch = pytest.importorskip("torch")

CNN = '''
class Net(nn.Module):
    """The CIFAR-10 tutorial's network, with BatchNorm and Dropout added."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.bn1 = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.dropout = nn.Dropout(p=0.0)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def make():
    net = Net().double()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    return net, criterion, optimizer


def step(net, criterion, optimizer, inputs, labels):
    optimizer.zero_grad()
    outputs = net(inputs)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss.item()
'''

PACKED_LSTM = '''
class TextClassifier(nn.Module):
    """Embedding -> bidirectional LSTM over packed variable-length sentences -> Linear."""

    def __init__(self, vocab_size, embed_dim, hidden_dim, num_classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_dim, num_classes)

    def forward(self, text, lengths):
        embedded = self.embedding(text)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True,
                                                   enforce_sorted=False)
        packed_output, (hidden, cell) = self.lstm(packed)
        output, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_output, batch_first=True)
        hidden = torch.cat((hidden[-2], hidden[-1]), dim=1)
        return self.fc(hidden) + 0.0 * output.sum()


def make():
    model = TextClassifier(50, 8, 6, 3).double()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    return model, criterion, optimizer


def step(model, criterion, optimizer, text, lengths, labels):
    optimizer.zero_grad()
    loss = criterion(model(text, lengths), labels)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()
'''

TRANSFORMER = '''
class PositionalEncoding(nn.Module):

    def __init__(self, d_model, dropout=0.0, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):

    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.0):
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask=None):
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        return self.linear(output)


def make():
    model = TransformerModel(40, 16, 2, 32, 2).double()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    scheduler = optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)
    return model, criterion, optimizer, scheduler


def step(model, criterion, optimizer, scheduler, data, targets):
    seq_len = data.size(0)
    src_mask = torch.triu(torch.full((seq_len, seq_len), float("-inf")), diagonal=1).double()
    optimizer.zero_grad()
    output = model(data, src_mask)
    loss = criterion(output.view(-1, 40), targets.reshape(-1))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    scheduler.step()
    return loss.item()
'''


def _namespace(lib: str) -> dict:
    if lib == "torch":
        import torch.nn.functional as F
        return {"torch": torch, "nn": torch.nn, "F": F, "optim": torch.optim, "math": math}
    return {"torch": tm, "nn": tm.nn, "F": tm.functional, "optim": tm.optim, "math": math}


def _run(source: str) -> tuple[dict, dict]:
    spaces = {}
    for lib in ("torch", "tinymm"):
        ns = _namespace(lib)
        exec(compile(source, f"<tutorial model for {lib}>", "exec"), ns)  # noqa: S102
        spaces[lib] = ns
    return spaces["torch"], spaces["tinymm"]


def _copy_weights(ours, theirs) -> None:
    result = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def _assert_same_weights(ours, theirs) -> None:
    mine = ours.state_dict()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(mine[key], value.detach().numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=key)


def test_cnn_with_batchnorm_trains_like_pytorch():
    pt, ours = _run(CNN)
    torch.manual_seed(0)
    t_net, t_crit, t_opt = pt["make"]()
    m_net, m_crit, m_opt = ours["make"]()
    _copy_weights(m_net, t_net)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.standard_normal((8, 3, 32, 32))
        y = rng.integers(0, 10, 8)
        a = pt["step"](t_net, t_crit, t_opt, torch.from_numpy(x), torch.from_numpy(y))
        b = ours["step"](m_net, m_crit, m_opt, tm.tensor(x), tm.tensor(y))
        assert b == pytest.approx(a, rel=1e-10)
    _assert_same_weights(m_net, t_net)  # running_mean/var and num_batches_tracked too
    t_net.eval()
    m_net.eval()
    x = rng.standard_normal((4, 3, 32, 32))
    with torch.no_grad():
        want = t_net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m_net(tm.tensor(x)).data, want, rtol=1e-9, atol=1e-11)


def test_packed_sequence_lstm_classifier_trains_like_pytorch():
    pt, ours = _run(PACKED_LSTM)
    torch.manual_seed(0)
    t_model, t_crit, t_opt = pt["make"]()
    m_model, m_crit, m_opt = ours["make"]()
    _copy_weights(m_model, t_model)
    rng = np.random.default_rng(1)
    for _ in range(4):
        lengths = rng.integers(1, 9, 6)
        text = np.zeros((6, 8), np.int64)
        for i, n in enumerate(lengths):
            text[i, :n] = rng.integers(1, 50, n)
        y = rng.integers(0, 3, 6)
        a = pt["step"](t_model, t_crit, t_opt, torch.from_numpy(text), lengths.tolist(),
                       torch.from_numpy(y))
        b = ours["step"](m_model, m_crit, m_opt, tm.tensor(text), lengths.tolist(), tm.tensor(y))
        assert b == pytest.approx(a, rel=1e-10)
    _assert_same_weights(m_model, t_model)


def test_two_layer_transformer_language_model_trains_like_pytorch():
    pt, ours = _run(TRANSFORMER)
    torch.manual_seed(0)
    t_parts = pt["make"]()
    m_parts = ours["make"]()
    _copy_weights(m_parts[0], t_parts[0])
    rng = np.random.default_rng(2)
    for _ in range(3):
        data = rng.integers(0, 40, (10, 4))  # (seq_len, batch), as the tutorial batches
        targets = rng.integers(0, 40, (10, 4))
        a = pt["step"](*t_parts, torch.from_numpy(data), torch.from_numpy(targets))
        b = ours["step"](*m_parts, tm.tensor(data), tm.tensor(targets))
        assert b == pytest.approx(a, rel=1e-9)
    _assert_same_weights(m_parts[0], t_parts[0])
