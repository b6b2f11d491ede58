"""Attention maps read through hooks equal what the layers return when asked directly; the
rollout is a product of row-stochastic matrices."""

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn
from tinymm.explain import attention_maps, attention_rollout


def test_maps_of_an_encoder_stack_equal_the_layers_own_weights():
    tm.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 2)
    x = tm.randn(3, 5, 16)
    maps = attention_maps(model, x)
    assert list(maps) == ["layers.0.self_attn", "layers.1.self_attn"]
    first = model.layers[0].self_attn
    _, direct = first(x, x, x, need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(maps["layers.0.self_attn"], direct.data, rtol=1e-6)
    assert maps["layers.1.self_attn"].shape == (3, 4, 5, 5)
    assert not any(m._forward_pre_hooks for m in model.modules())  # hooks removed again
    roll = attention_rollout(maps)
    assert roll.shape == (3, 5, 5)
    np.testing.assert_allclose(roll.sum(axis=-1), 1.0)


def test_rollout_of_identity_attention_is_identity():
    eye = np.broadcast_to(np.eye(4), (2, 3, 4, 4))
    np.testing.assert_allclose(attention_rollout([eye, eye]), np.broadcast_to(np.eye(4), (2, 4, 4)))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="has no MultiheadAttention"):
        attention_maps(nn.Linear(2, 2), tm.randn(1, 2))
    with pytest.raises(ValueError, match="needs at least one"):
        attention_rollout([])
    with pytest.raises(ValueError, match=r"\(B, H, L, L\)"):
        attention_rollout([np.ones((2, 3, 4))])
