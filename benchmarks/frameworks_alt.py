"""Optional educational peers: MyGrad and tinygrad (never required).

A case is written against PyTorch's names (``fw.nn.Conv2d``, ``fw.F.softmax``); these
frameworks have other names, so each adapter maps the few it can:

- **MyGrad** (NumPy autograd, like tinymm's NumPy backend): ``F.softmax``,
  ``F.log_softmax``, ``F.max_pool2d``, ``F.cross_entropy`` and ``nn.Conv2d``. Anything else a
  case asks for raises AttributeError, which the worker reports as "unavailable" for that case.
- **tinygrad**: needs a usable device; on CPU it compiles generated C with ``clang`` (or a
  system libLLVM). Without one the adapter raises ImportError with that reason (the column
  then reads "unavailable: ..."). No case mapping is written for it yet.

Install with ``pip install mygrad tinygrad``; a missing package is an ImportError too.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np

from .frameworks import Framework


class _NotMapped(SimpleNamespace):
    """A namespace whose missing names raise AttributeError naming the framework."""

    def __init__(self, framework: str, **names):
        super().__init__(**names)
        self._framework = framework

    def __getattr__(self, name: str):
        raise AttributeError(f"{self._framework} adapter: no mapping for {name!r}")


class MyGradFramework(Framework):
    def __init__(self, threads: int):
        import mygrad as mg
        import mygrad.nnet as nnet

        self.name = "mygrad"
        self.lib = mg
        framework = self

        class Leaf(mg.Tensor):
            """A tensor whose ``grad`` can be cleared with ``t.grad = None`` as in PyTorch."""

            @property
            def grad(self):
                return mg.Tensor.grad.fget(self)

            @grad.setter
            def grad(self, value):
                if value is not None:
                    raise AttributeError("mygrad adapter: only `grad = None` is supported")
                self.null_grad()

        self._leaf = Leaf

        class Conv2d:
            def __init__(self, cin: int, cout: int, kernel_size: int, padding: int = 0):
                k = kernel_size
                self.padding = padding
                self.weight = framework.tensor(np.zeros((cout, cin, k, k), np.float32), True)
                self.bias = framework.tensor(np.zeros((cout,), np.float32), True)

            def __call__(self, x):
                y = nnet.conv_nd(x, self.weight, stride=1, padding=self.padding)
                return y + self.bias.reshape(1, -1, 1, 1)

            def named_parameters(self):
                return iter([("weight", self.weight), ("bias", self.bias)])

            def state_dict(self):
                return dict(self.named_parameters())

            def load_state_dict(self, state):
                self.weight = framework.tensor(np.asarray(state["weight"]), True)
                self.bias = framework.tensor(np.asarray(state["bias"]), True)

        def max_pool2d(x, kernel_size):
            k = (kernel_size, kernel_size)
            return nnet.max_pool(x, k, k)

        self.F = _NotMapped(
            "mygrad",
            softmax=lambda x, dim=-1: nnet.softmax(x, axis=dim),
            log_softmax=lambda x, dim=-1: nnet.logsoftmax(x, axis=dim),
            max_pool2d=max_pool2d,
            cross_entropy=lambda z, target: nnet.softmax_crossentropy(z, np.asarray(target)))
        self.nn = _NotMapped("mygrad", Conv2d=Conv2d)
        self.optim = _NotMapped("mygrad")

    def tensor(self, array, requires_grad=False):
        array = np.array(array, copy=True)
        if array.dtype.kind != "f":
            return array                    # integer targets stay NumPy arrays
        return self._leaf(array, constant=not requires_grad)

    def numpy(self, t):
        return np.array(getattr(t, "data", t), copy=True)

    def grad(self, t):
        g = getattr(t, "grad", None)
        return None if g is None else np.array(g, copy=True)

    def no_grad(self):
        return self.lib.no_autodiff

    def version(self) -> str:
        return f"mygrad {self.lib.__version__}"


class TinygradFramework(Framework):
    def __init__(self, threads: int):
        import tinygrad

        try:
            from tinygrad import Device, Tensor

            with contextlib.redirect_stdout(None):
                Tensor([1.0, 2.0]).softmax().numpy()
            device = Device.DEFAULT
        except Exception as exc:  # noqa: BLE001  (any failure: the device is not usable)
            raise ImportError(f"no usable tinygrad device (its CPU device needs clang; "
                              f"{type(exc).__name__}: {str(exc)[:80]})") from exc
        raise NotImplementedError(f"tinygrad {getattr(tinygrad, '__version__', '')} on "
                                  f"{device}: no case mapping written yet")


def make(name: str, threads: int) -> Framework:
    if name == "mygrad":
        return MyGradFramework(threads)
    if name == "tinygrad":
        return TinygradFramework(threads)
    raise ValueError(f"frameworks_alt.make: unknown framework {name!r}")
