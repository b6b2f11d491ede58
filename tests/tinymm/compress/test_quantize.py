"""int8 post-training quantisation: outputs close to float, ~4x smaller, checkpoints that
round-trip, the original model untouched, clear errors."""

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn
from tinymm.compress import (
    QuantizedConv1d,
    QuantizedConv2d,
    QuantizedEmbedding,
    QuantizedLinear,
    QuantizedLSTM,
    quantize_dynamic,
    quantize_static,
    weight_bytes,
)

ALL = (nn.Linear, nn.LSTM, nn.Conv1d, nn.Conv2d, nn.Embedding)


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_quantized_linear_is_close_to_float_and_equal_across_backends(backend):
    tm.manual_seed(0)
    lin = nn.Linear(64, 32)
    x = tm.randn(5, 7, 64)
    with tm.backend(backend):
        q = QuantizedLinear.from_float(lin)
        y = q(x)
    assert y.shape == (5, 7, 32) and y.dtype == np.float32 and not y.requires_grad
    with tm.no_grad():
        ref = lin(x).data
    # 8-bit weights, 7-bit activations: a few 1/127 of the range, accumulated over 64 inputs
    assert _relative_error(y.data, ref) < 0.03
    with tm.backend("numpy" if backend == "numba" else "numba"):
        np.testing.assert_array_equal(QuantizedLinear.from_float(lin)(x).data, y.data)


def test_activations_are_7_bit_by_default_and_8_bit_with_reduce_range_false(monkeypatch):
    """reduce_range=True (default) hands the int8 kernel activations in 0..127 — the range the
    AVX2 vpmaddubsw kernel needs — at a bounded cost in accuracy; False keeps 0..255."""
    from tinymm.compress import quantize as Q

    seen = []
    real_get = Q.kernels.get

    def spy(name, *args):
        fn = real_get(name, *args)
        if name != "int8_linear":
            return fn
        return lambda x_q, *rest: seen.append(int(x_q.max())) or fn(x_q, *rest)

    monkeypatch.setattr(Q.kernels, "get", spy)
    tm.manual_seed(4)
    lin, x = nn.Linear(64, 32), tm.randn(256, 64)
    with tm.no_grad():
        ref = lin(x).data
    errors = {}
    for reduce_range, qmax in ((True, 127), (False, 255)):
        q = QuantizedLinear.from_float(lin, reduce_range=reduce_range)
        assert q.activation_qmax == qmax and f"{8 - reduce_range}-bit" in repr(q)
        errors[qmax] = _relative_error(q(x).data, ref)
        assert seen.pop() == qmax      # the batch's largest value maps to qmax
        model = quantize_dynamic(nn.Sequential(lin), reduce_range=reduce_range)
        model(x)
        assert seen.pop() == qmax
        calibrated = quantize_static(nn.Sequential(lin), [x], reduce_range=reduce_range)
        calibrated(x * 3)              # beyond the calibrated range: clipped at qmax
        assert seen.pop() == qmax
    assert errors[255] < errors[127] < 0.03


def test_static_range_equals_dynamic_when_it_is_the_batch_range():
    tm.manual_seed(1)
    lin = nn.Linear(10, 4)
    x = tm.randn(8, 10)
    static = QuantizedLinear.from_float(lin, activation_range=(float(x.data.min()), float(x.data.max())))
    dynamic = QuantizedLinear.from_float(lin)
    assert dynamic.dynamic and not static.dynamic
    np.testing.assert_array_equal(static(x).data, dynamic(x).data)


@pytest.mark.parametrize(("cls", "conv", "shape"), [
    (QuantizedConv2d, lambda: nn.Conv2d(3, 8, 3, padding=1), (2, 3, 9, 7)),
    (QuantizedConv2d, lambda: nn.Conv2d(3, 8, (3, 2), stride=2, padding="valid"), (2, 3, 9, 7)),
    (QuantizedConv2d, lambda: nn.Conv2d(1, 4, 3, padding="same", bias=False), (1, 1, 5, 5)),
    (QuantizedConv1d, lambda: nn.Conv1d(4, 6, 5, padding=2), (3, 4, 11)),
])
def test_quantized_conv_is_close_to_float(cls, conv, shape):
    tm.manual_seed(2)
    layer = conv()
    x = tm.randn(*shape)
    q = cls.from_float(layer)
    with tm.no_grad():
        ref = layer(x).data
    assert q(x).shape == ref.shape
    assert _relative_error(q(x).data, ref) < 0.03


def test_quantized_lstm_and_embedding_store_int8_and_stay_close():
    tm.manual_seed(3)
    lstm, emb = nn.LSTM(6, 5, batch_first=True), nn.Embedding(20, 6, padding_idx=0)
    ids = tm.tensor(np.arange(12).reshape(2, 6) % 20)
    ql, qe = QuantizedLSTM.from_float(lstm), QuantizedEmbedding.from_float(emb)
    assert qe.weight_int8.dtype == np.int8 and ql.weight_ih_l0_int8.dtype == np.int8
    with tm.no_grad():
        ref, _ = lstm(emb(ids))
    out, _ = ql(qe(ids))
    assert _relative_error(out.data, ref.data) < 0.03
    with pytest.raises(IndexError, match="QuantizedEmbedding: ids must be in"):
        qe(tm.tensor([[20]]))


def _model():
    tm.manual_seed(4)
    from tinymm.models import seed_model
    return seed_model(5, image_size=32, vocab_size=300, embed_dim=16, lstm_units=16,
                      channels=(4, 8, 8), dense=32).eval()


def _batch(n=6):
    rng = np.random.default_rng(0)
    return {"image": tm.tensor(rng.standard_normal((n, 3, 32, 32)).astype(np.float32)),
            "text": tm.tensor(rng.integers(1, 300, (n, 20)))}


def test_quantize_dynamic_copies_shrinks_and_keeps_predictions():
    model, batch = _model(), _batch()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    small = quantize_dynamic(model, ALL)
    for k, v in model.state_dict().items():  # the float model is untouched
        np.testing.assert_array_equal(v, before[k])
    assert not any(isinstance(m, nn.Linear) for m in small.modules())
    assert weight_bytes(model) / weight_bytes(small) > 3.0  # tiny: scales and biases weigh
    with tm.no_grad():
        ref = model(batch).data
    assert _relative_error(small(batch).data, ref) < 0.05
    default = quantize_dynamic(model)  # PyTorch's default set: Linear and LSTM only
    assert any(isinstance(m, nn.Conv2d) for m in default.modules())
    assert any(isinstance(m, QuantizedLSTM) for m in default.modules())


def test_the_seed_model_gets_at_least_3_5_times_smaller():
    tm.manual_seed(0)
    from tinymm.models import seed_model
    model = seed_model(10, image_size=32)
    small = quantize_dynamic(model, ALL)
    int8 = sum(b.nbytes for m in small.modules() for b in m._buffers.values()
               if b is not None and b.dtype == np.int8)
    assert int8 * 4 == sum(p.data.nbytes for n, p in model.named_parameters() if "weight" in n)
    assert weight_bytes(model) / weight_bytes(small) > 3.5


def test_quantize_static_calibrates_every_reached_layer():
    model, batch = _model(), _batch()
    small = quantize_static(model, [batch], modules=(nn.Linear, nn.Conv2d))
    layers = [m for m in small.modules() if isinstance(m, (QuantizedLinear, QuantizedConv2d))]
    assert len(layers) == 5 and not any(m.dynamic for m in layers)
    with tm.no_grad():
        ref = model(batch).data
    assert _relative_error(small(batch).data, ref) < 0.05
    with pytest.raises(ValueError, match="quantize_static: calibration gave no batches"):
        quantize_static(model, [])


def test_a_quantized_checkpoint_round_trips_pickle_free(tmp_path):
    model, batch = _model(), _batch()
    small = quantize_dynamic(model, ALL)
    path = tmp_path / "small.npz"
    tm.save(small.state_dict(), path)
    state = tm.load(path)
    assert state["head.0.weight_int8"].dtype == np.int8
    fresh = quantize_dynamic(_model(), ALL)
    for m in fresh.modules():  # make sure loading, not construction, gives the values
        for buf in list(m._buffers.values()):
            if buf is not None and buf.dtype == np.int8:
                buf[...] = 0
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh(batch).data, small(batch).data)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: quantize_dynamic("model"), TypeError, "quantize_dynamic: model must be"),
    (lambda: quantize_dynamic(nn.Linear(2, 2), dtype="int4"), ValueError, "dtype must be 'int8'"),
    (lambda: quantize_dynamic(nn.Linear(2, 2), (nn.ReLU,)), ValueError, "can quantise"),
    (lambda: quantize_dynamic(nn.Linear(2, 2), reduce_range=1), TypeError,
     "quantize_dynamic: reduce_range must be a bool, got int"),
    (lambda: quantize_static(nn.Linear(2, 2), [tm.randn(1, 2)], reduce_range="yes"), TypeError,
     "quantize_static: reduce_range must be a bool"),
    (lambda: QuantizedConv2d.from_float(nn.Conv2d(2, 2, 3), reduce_range=None), TypeError,
     "QuantizedConv2d.from_float: reduce_range must be a bool"),
    (lambda: QuantizedLinear.from_float(nn.Linear(3, 2))(tm.randn(2, 4)), ValueError, "end in 3"),
    (lambda: QuantizedLinear.from_float(nn.Linear(3, 2))(np.ones((2, 3), np.int64)), TypeError,
     "float32 or float64"),
    (lambda: QuantizedConv2d.from_float(nn.Conv2d(2, 2, 3, dilation=2)), ValueError, "dilation=1"),
    (lambda: QuantizedConv2d.from_float(nn.Conv2d(2, 2, 3))(tm.randn(1, 2, 2, 2)), ValueError,
     "smaller than the kernel"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
