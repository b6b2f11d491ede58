"""RNN, LSTM and GRU modules: PyTorch parity (state_dict copied across), errors, dropout.

Parity runs in float64 with rtol 1e-9 / atol 1e-11 on outputs and every gradient (input,
h_0/c_0, all parameters), on both backends; the float32 runs use rtol 1e-4 / atol 1e-5.
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm.nn.recurrent import GRU, LSTM, RNN

F64 = dict(rtol=1e-9, atol=1e-11)
F32 = dict(rtol=1e-4, atol=1e-5)
MODULES = {"RNN_tanh": (RNN, {}), "RNN_relu": (RNN, {"nonlinearity": "relu"}),
           "LSTM": (LSTM, {}), "GRU": (GRU, {})}
CONFIGS = {
    "plain": {},
    "deep_bidirectional": {"num_layers": 2, "bidirectional": True},
    "batch_first": {"batch_first": True, "num_layers": 2},
    "no_bias": {"bias": False, "bidirectional": True},
    "three_layers": {"num_layers": 3},
}


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _pair(name, input_size, hidden_size, dtype=np.float64, seed=0, **kwargs):
    """(tinymm module, torch module) with torch's random initialisation copied into ours."""
    torch = pytest.importorskip("torch")
    cls, extra = MODULES[name]
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, cls.__name__)(input_size, hidden_size, **extra, **kwargs)
    theirs = theirs.double() if dtype == np.float64 else theirs
    mine = cls(input_size, hidden_size, **extra, **kwargs, dtype=dtype)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return mine, theirs


def _compare(mine, theirs, x, hx=None, tol=F64, seed=1):
    """Run both on x (and hx), backprop the same random cotangents, compare everything."""
    torch = pytest.importorskip("torch")
    lstm = isinstance(mine, LSTM)
    hx = [] if hx is None else (list(hx) if lstm else [hx])
    xm = tm.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    hm = [tm.tensor(h, requires_grad=True) for h in hx]
    ht = [torch.tensor(h, requires_grad=True) for h in hx]
    state_m = None if not hx else (tuple(hm) if lstm else hm[0])
    state_t = None if not hx else (tuple(ht) if lstm else ht[0])
    out_m, fin_m = mine(xm, state_m)
    out_t, fin_t = theirs(xt, state_t)
    outs_m = [out_m, *(fin_m if lstm else [fin_m])]
    outs_t = [out_t, *(fin_t if lstm else [fin_t])]
    rng = np.random.default_rng(seed)
    loss_m, loss_t = 0, 0
    for om, ot in zip(outs_m, outs_t):
        assert om.shape == tuple(ot.shape) and om.dtype == x.dtype
        np.testing.assert_allclose(om.data, ot.detach().numpy(), **tol)
        r = rng.standard_normal(om.shape).astype(x.dtype)
        loss_m = loss_m + (om * tm.tensor(r)).sum()
        loss_t = loss_t + (ot * torch.from_numpy(r)).sum()
    loss_m.backward()
    loss_t.backward()
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), **tol, err_msg="input")
    for a, b in zip(hm, ht):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **tol, err_msg="hx")
    params_m = dict(mine.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(params_m[name].grad, p.grad.numpy(), **tol, err_msg=name)


def _state_shape(module, batch):
    rows = module.num_layers * (2 if module.bidirectional else 1)
    return (rows, module.hidden_size) if batch is None else (rows, batch, module.hidden_size)


def _inputs(module, T, N, seed=2, dtype=np.float64, with_state=True):
    """x in the module's layout (N=None: unbatched) and a random hx (or None)."""
    rng = np.random.default_rng(seed)
    I = module.input_size
    shape = (T, I) if N is None else ((N, T, I) if module.batch_first else (T, N, I))
    x = rng.standard_normal(shape).astype(dtype)
    if not with_state:
        return x, None
    states = [rng.standard_normal(_state_shape(module, N)).astype(dtype) * 0.5
              for _ in range(2 if isinstance(module, LSTM) else 1)]
    return x, (tuple(states) if isinstance(module, LSTM) else states[0])


# ----------------------------------------------------------------------------- parity


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", MODULES)
def test_matches_torch(backend, name, config):
    mine, theirs = _pair(name, 4, 6, **CONFIGS[config])
    x, hx = _inputs(mine, T=5, N=3)
    _compare(mine, theirs, x, hx)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("name", MODULES)
def test_default_state_and_unbatched_input_match_torch(backend, name, batch_first):
    """hx=None means zeros; 2-D input is one unbatched sequence (batch_first ignored)."""
    mine, theirs = _pair(name, 3, 5, num_layers=2, bidirectional=True, batch_first=batch_first)
    x, _ = _inputs(mine, T=4, N=2, with_state=False)
    _compare(mine, theirs, x)  # hx=None: zeros
    x, hx = _inputs(mine, T=4, N=None)
    _compare(mine, theirs, x, hx)  # 2-D input (L, H_in), 2-D states
    x, _ = _inputs(mine, T=4, N=None, with_state=False)
    _compare(mine, theirs, x)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_float32_matches_torch(backend, name):
    mine, theirs = _pair(name, 16, 32, dtype=np.float32, num_layers=2, bidirectional=True)
    x, hx = _inputs(mine, T=20, N=8, dtype=np.float32)
    _compare(mine, theirs, x, hx, tol=F32)


def test_long_lstm_matches_torch(backend):
    """300 steps: errors would compound; float64 keeps the comparison tight."""
    mine, theirs = _pair("LSTM", 3, 8, seed=3)
    x, hx = _inputs(mine, T=300, N=2)
    _compare(mine, theirs, x, hx)


def test_eval_mode_dropout_matches_torch(backend):
    mine, theirs = _pair("GRU", 4, 5, num_layers=3, dropout=0.5)
    mine.eval()
    theirs.eval()
    x, hx = _inputs(mine, T=4, N=2)
    _compare(mine, theirs, x, hx)


# ----------------------------------------------------------------------------- module facts


@pytest.mark.parametrize("name", MODULES)
def test_parameters_init_and_repr(name):
    cls, extra = MODULES[name]
    tm.manual_seed(0)
    m = cls(7, 10, num_layers=2, bidirectional=True, **extra)
    gates = {"LSTM": 4, "GRU": 3}.get(name, 1) * 10
    shapes = {k: p.shape for k, p in m.named_parameters()}
    assert shapes["weight_ih_l0"] == (gates, 7) and shapes["weight_hh_l0"] == (gates, 10)
    assert shapes["weight_ih_l1_reverse"] == (gates, 20) and shapes["bias_hh_l1"] == (gates,)
    assert len(shapes) == 16
    bound = 1 / np.sqrt(10)
    values = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert values.dtype == np.float32 and np.all(np.abs(values) <= bound)
    assert values.std() > bound / 2  # spread over the range, not a constant
    text = repr(m)
    assert text.startswith(f"{cls.__name__}(7, 10, num_layers=2") and "bidirectional=True" in text
    assert "bias_ih_l0" not in dict(cls(7, 10, bias=False, **extra).named_parameters())


def test_state_dict_round_trips_to_torch():
    torch = pytest.importorskip("torch")
    mine = LSTM(3, 4, num_layers=2, bidirectional=True)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in mine.state_dict().items()})
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), mine.state_dict()[k])


def test_dropout_between_layers_in_training_only(backend):
    m = LSTM(4, 6, num_layers=2, dropout=0.5, dtype=np.float64)
    x = tm.tensor(np.random.default_rng(0).standard_normal((5, 3, 4)))
    m.eval()
    y_eval = m(x)[0].data
    m.train()
    tm.manual_seed(1)
    y_train = m(x)[0].data
    tm.manual_seed(1)
    np.testing.assert_array_equal(m(x)[0].data, y_train)  # seeded: reproducible
    assert not np.allclose(y_train, y_eval)
    no_dropout = LSTM(4, 6, num_layers=2, dtype=np.float64)
    no_dropout.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(no_dropout(x)[0].data, y_eval)  # training, p=0


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="GRU: dropout=0.2 .* num_layers=1"):
        GRU(3, 4, dropout=0.2)


def test_final_state_is_last_output(backend):
    """h_n of the forward direction is output[-1]; of the reverse direction, output[0]."""
    m = GRU(3, 4, bidirectional=True, batch_first=True)
    y, h_n = m(tm.randn(2, 6, 3))
    np.testing.assert_array_equal(h_n.data[0], y.data[:, -1, :4])
    np.testing.assert_array_equal(h_n.data[1], y.data[:, 0, 4:])


# ----------------------------------------------------------------------------- errors


def test_constructor_errors():
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="LSTM: proj_size=2 is not supported"):
        LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="GRU: hidden_size must be >= 1, got 0"):
        GRU(3, 0)
    with pytest.raises(ValueError, match="LSTM: num_layers must be >= 1"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="RNN: input_size must be an int"):
        RNN(3.0, 4)
    with pytest.raises(ValueError, match=r"GRU: dropout must be a number in \[0, 1\]"):
        GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(TypeError, match="LSTM: bidirectional must be a bool"):
        LSTM(3, 4, bidirectional="yes")


def test_forward_errors():
    lstm = LSTM(3, 4, num_layers=2)
    gru = GRU(3, 4, batch_first=True)
    x = tm.randn(5, 2, 3)
    with pytest.raises(ValueError, match=r"LSTM: input has 7 features .* input_size=3"):
        lstm(tm.randn(5, 2, 7))
    with pytest.raises(ValueError, match=r"LSTM: input must be 3-D \(batched\) or 2-D"):
        lstm(tm.randn(5, 2, 1, 3))
    with pytest.raises(TypeError, match="GRU: input must be a Tensor"):
        gru(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="GRU: input must have at least one time step"):
        gru(tm.randn(2, 0, 3))
    with pytest.raises(ValueError, match=r"LSTM: h_0 must have shape \(2, 2, 4\)"):
        lstm(x, (tm.zeros(2, 2, 5), tm.zeros(2, 2, 4)))  # wrong hidden size
    with pytest.raises(ValueError, match=r"LSTM: c_0 must have shape \(2, 2, 4\)"):
        lstm(x, (tm.zeros(2, 2, 4), tm.zeros(1, 2, 4)))  # wrong number of layers
    with pytest.raises(ValueError, match=r"GRU: h_0 must have shape \(1, 4\) .*unbatched"):
        gru(tm.randn(5, 3), tm.zeros(1, 1, 4))  # 3-D state for 2-D input
    with pytest.raises(ValueError, match=r"GRU: h_0 must have shape \(1, 2, 4\) .*batched"):
        gru(tm.randn(2, 5, 3), tm.zeros(1, 4))  # 2-D state for 3-D input
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h_0, c_0\)"):
        lstm(x, tm.zeros(2, 2, 4))
    with pytest.raises(TypeError, match="LSTM: expected one dtype.*input is float64"):
        lstm(tm.randn(5, 2, 3, dtype=tm.float64))
    with pytest.raises(TypeError, match="RNN: expected one dtype.*h_0 is float64"):
        RNN(3, 4)(x, tm.zeros(1, 2, 4, dtype=tm.float64))
    with pytest.raises(TypeError, match="RNN: input must have a floating dtype"):
        RNN(3, 4)(tm.zeros(5, 2, 3, dtype=tm.int64))
