"""InfoNCE (CLIP-style) loss and contrastive pre-training of modality encoders."""

import math

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn
from tinymm.pretrain import ContrastiveAligner, info_nce, pretrain_encoders


def t64(values, grad=False):
    return tm.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


def test_info_nce_matches_a_hand_computed_case():
    # identity pairs, scale e^{log 2} = 2: S = [[2, 0], [0, 2]] in both directions, so each
    # row's cross-entropy is -log(e^2 / (e^2 + e^0)) = log(1 + e^-2)
    loss = info_nce(t64([[1, 0], [0, 1]]), t64([[1, 0], [0, 1]]), math.log(2.0))
    assert float(loss.item()) == pytest.approx(math.log1p(math.exp(-2.0)), rel=1e-12)


def test_info_nce_asymmetric_case_by_hand():
    # rows normalised: a = [[.6, .8], [1, 0]], b = [[0, 1], [r, r]] with r = 1/sqrt 2
    r = 1 / math.sqrt(2)
    s11, s12, s21, s22 = 0.8, 1.4 * r, 0.0, r          # cosine similarities a_i . b_j
    rows = (-s11 + math.log(math.exp(s11) + math.exp(s12))
            - s22 + math.log(math.exp(s21) + math.exp(s22))) / 2
    cols = (-s11 + math.log(math.exp(s11) + math.exp(s21))
            - s22 + math.log(math.exp(s12) + math.exp(s22))) / 2
    loss = info_nce(t64([[3, 4], [1, 0]]), t64([[0, 2], [1, 1]]), 0.0)   # temperature 1
    assert float(loss.item()) == pytest.approx((rows + cols) / 2, rel=1e-12)


def test_info_nce_gradcheck_float64():
    rng = np.random.default_rng(0)
    za = t64(rng.standard_normal((4, 3)), grad=True)
    zb = t64(rng.standard_normal((4, 3)), grad=True)
    scale = t64([0.7], grad=True)
    assert tm.gradcheck(lambda a, b, s: info_nce(a, b, s), (za, zb, scale))


@pytest.mark.parametrize("a, b, scale, error, match", [
    (np.zeros((3, 2)), np.zeros((3, 4)), 0.0, ValueError, "same shape"),
    (np.ones((1, 2)), np.ones((1, 2)), 0.0, ValueError, "at least 2 pairs"),
    (np.ones((3, 2)), np.ones((3, 2)), float("nan"), ValueError, "finite"),
])
def test_info_nce_rejects_bad_input(a, b, scale, error, match):
    with pytest.raises(error, match=match):
        info_nce(t64(a), t64(b), scale)
    with pytest.raises(TypeError, match="info_nce: za and zb must be Tensors"):
        info_nce(np.ones((3, 2)), t64(np.ones((3, 2))), 0.0)


class _Lin(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)
        self.out_features = d_out

    def forward(self, x):
        return self.lin(x)


def test_loss_drops_below_log_batch_on_aligned_pairs():
    """Two views of the same latent through different random maps: alignment must bring the
    loss well under chance, log B (at initialisation it is near log B)."""
    tm.manual_seed(0)
    rng = np.random.default_rng(1)
    batch, latent = 16, 4
    ma, mb = rng.standard_normal((latent, 12)), rng.standard_normal((latent, 10))
    aligner = ContrastiveAligner({"a": _Lin(12, 16), "b": _Lin(10, 16)}, dim=8)
    opt = tm.optim.Adam(list(aligner.parameters()), lr=1e-2)

    def draw():
        z = rng.standard_normal((batch, latent))
        return {"a": (z @ ma).astype(np.float32), "b": (z @ mb).astype(np.float32),
                "label": np.zeros(batch, np.int64)}

    first = float(aligner(draw()).item())
    for _ in range(150):
        loss = aligner(draw())
        opt.zero_grad()
        loss.backward()
        opt.step()
        aligner.clamp_scale()
    final = np.mean([float(aligner(draw()).item()) for _ in range(5)])
    assert first > 0.5 * math.log(batch)
    assert final < 0.5 * math.log(batch)
    assert 0.0 <= float(aligner.logit_scale.data[0]) <= math.log(100.0) + 1e-6


def test_aligner_skips_samples_missing_a_modality():
    tm.manual_seed(0)
    aligner = ContrastiveAligner({"a": _Lin(3, 4), "b": _Lin(3, 4)}, dim=2)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    full = {"a": x, "b": x[::-1].copy(), "mask": np.ones((4, 2), bool)}
    part = dict(full, mask=np.array([[1, 1], [1, 1], [1, 0], [0, 1]], bool))
    sub = {"a": x[:2], "b": x[::-1][:2].copy()}
    assert float(aligner(part).item()) == pytest.approx(float(aligner(sub).item()), rel=1e-6)
    assert aligner(dict(full, mask=np.array([[1, 0]] * 4, bool))) is None


def test_aligner_and_pretrain_validate():
    with pytest.raises(ValueError, match="at least two modality encoders"):
        ContrastiveAligner({"a": _Lin(2, 2)})
    with pytest.raises(ValueError, match="dim must be a positive int"):
        ContrastiveAligner({"a": _Lin(2, 2), "b": _Lin(2, 2)}, dim=0)
    with pytest.raises(ValueError, match="pretrain_encoders: epochs must be a positive int"):
        pretrain_encoders(None, epochs=0)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        pretrain_encoders(None, batch_size=1)


def test_pretrained_encoders_load_into_a_model():
    from tinymm.data import get_dataset
    from tinymm.models import build_model

    data = get_dataset("sentiment_prosody", size=48)
    enc = pretrain_encoders(data, seed=0, epochs=1, batch_size=16)
    assert len(enc.history["loss"]) == 1 and math.isfinite(enc.history["loss"][0])
    tm.manual_seed(0)
    model = build_model(data, "late", "gru")
    before = {k: np.array(v) for k, v in model.encoders["text"].state_dict().items()}
    enc.load_into(model)
    after = model.encoders["text"].state_dict()
    assert any(not np.array_equal(before[k], np.asarray(after[k])) for k in before)
    for k, v in enc.states["text"].items():
        np.testing.assert_array_equal(np.asarray(after[k]), v)
