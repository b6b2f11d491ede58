"""A small CNN with BatchNorm and dropout, written as in a PyTorch tutorial with only
``torch`` -> ``tinymm`` changed, trains step by step like PyTorch (dropout p=0 so the
training-mode step is deterministic; BatchNorm in training mode, then eval)."""

import numpy as np
import pytest

import tinymm


def build(torch_like):
    nn = torch_like.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                nn.MaxPool2d(2), nn.Dropout2d(0.0),
                nn.Conv2d(8, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.SiLU(),
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 16), nn.BatchNorm1d(16),
                                      nn.GELU(approximate="tanh"), nn.Dropout(0.0),
                                      nn.Linear(16, 5))

        def forward(self, x):
            return self.head(self.features(x))

    return Net()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_cnn_with_batch_norm_trains_like_torch(backend):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = build(torch).double()
    ours = build(tinymm).double()
    ours.load_state_dict(theirs.state_dict())
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    opt_m = tinymm.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    loss_t, loss_m = torch.nn.CrossEntropyLoss(label_smoothing=0.1), \
        tinymm.nn.CrossEntropyLoss(label_smoothing=0.1)
    rng = np.random.default_rng(0)
    with tinymm.backend(backend):
        for step in range(4):
            x = rng.standard_normal((6, 3, 8, 8))
            y = rng.integers(0, 5, 6)
            opt_t.zero_grad()
            lt = loss_t(theirs(torch.tensor(x)), torch.tensor(y))
            lt.backward()
            opt_t.step()
            opt_m.zero_grad()
            lm = loss_m(ours(tinymm.tensor(x)), y)
            lm.backward()
            opt_m.step()
            assert abs(lm.item() - lt.item()) <= 1e-9 * max(1.0, abs(lt.item())), step
        for k, v in theirs.state_dict().items():  # parameters and running statistics
            np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-8, atol=1e-10,
                                       err_msg=k)
        ours.eval()
        theirs.eval()
        x = rng.standard_normal((3, 3, 8, 8))
        np.testing.assert_allclose(ours(tinymm.tensor(x)).data,
                                   theirs(torch.tensor(x)).detach().numpy(), rtol=1e-8, atol=1e-10)
