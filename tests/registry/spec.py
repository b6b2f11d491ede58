"""One entry of the op/module registry: how to call a public op validly, how to attack it,
and how to make the same call in PyTorch.

Adding an op is one :class:`Spec` in a module of this package (``tests/registry/<area>.py``
holding a module-level ``SPECS`` list); ``tests/registry/__init__.py`` collects them all. The
fuzz (``tests/fuzz``), aliasing (``tests/aliasing``) and tolerance checks read the registry,
so a new op joins every check with its entry. A typical functional entry::

    Spec("F.relu", F.relu, sample=elementwise_input, call=lambda F, a, o: F.relu(a["input"]))

and a module entry (``make`` builds the module from ``nn`` = ``tinymm.nn`` or ``torch.nn``)::

    Spec("nn.Linear", nn.Linear, sample=linear_sample,
         make=lambda nn, init: nn.Linear(**init), call=lambda m, a, o: m(a["input"]),
         size_options=("in_features", "out_features"))

Vocabulary
----------
* A **size** is a label from :data:`SIZES`; :data:`DIMS` gives its dimensions (batch ``N``,
  channels ``C``, query tokens ``L``, key tokens ``S``, ``heads``, embedding ``E``, spatial
  ``H`` x ``W``, features ``F``, classes ``K``). The degenerate-but-legal labels are where a
  transposed view happens to be contiguous (one token, one head, batch 1, one channel,
  1x1 spatial); ``"bench"`` is the benchmark scale. A spec lists the labels it supports.
* A :class:`Sample` is one valid call: named arrays (the Tensor arguments, in call order;
  ``None`` = argument not given), non-Tensor options, the module constructor's arguments
  (``init``) and which arrays are differentiable (``grad``).
* ``call(target, a, o)`` runs the call: ``target`` is the functional namespace
  (``tinymm.functional`` or ``torch.nn.functional``) for a function, the module instance
  for a module; ``a`` maps argument names to framework tensors (tinymm Tensors or torch
  tensors made from ``Sample.arrays``); ``o`` is ``Sample.options``.
* ``torch_call`` is the same call in PyTorch (same signature, ``target`` from torch), or
  ``None`` when PyTorch has no counterpart. By default it is ``call`` itself (tinymm keeps
  PyTorch's names and signatures, so the same lambda runs on ``torch.nn.functional``).
* :class:`Invalid` is one way to make a sample invalid that the generic attacks of
  ``tests/fuzz`` do not cover (an index out of range, an option PyTorch rejects, ...),
  with the error types allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["Dims", "DIMS", "SIZES", "DEGENERATE", "Sample", "Invalid", "Spec"]


@dataclass(frozen=True)
class Dims:
    """Named dimensions for a sample builder (each builder uses the ones it needs)."""

    N: int = 2  # batch
    C: int = 3  # channels (conv/pool input), C_out = C + 1
    L: int = 5  # query tokens / sequence length / time steps
    S: int = 7  # key tokens
    heads: int = 2
    E: int = 8  # embedding (divisible by heads)
    H: int = 6  # spatial height
    W: int = 5  # spatial width
    F: int = 4  # features (hidden size, output features)
    K: int = 5  # classes / vocabulary size


DIMS: dict[str, Dims] = {
    "small": Dims(),
    "one_token": Dims(L=1),
    "one_head": Dims(heads=1),
    "batch1": Dims(N=1),
    "one_channel": Dims(C=1),
    "1x1": Dims(H=1, W=1),
    # benchmark scale (benchmarks/cases_ops.py: batch 32, d 128 with 4 heads, 20 tokens,
    # 16x16 images), narrowed in channels so that a test run stays short
    "bench": Dims(N=32, C=16, L=20, S=20, heads=4, E=128, H=16, W=16, F=128, K=1000),
}
SIZES: tuple[str, ...] = tuple(DIMS)
DEGENERATE: tuple[str, ...] = ("one_token", "one_head", "batch1", "one_channel", "1x1")


@dataclass(frozen=True)
class Sample:
    """One valid call. ``arrays``: Tensor arguments by name, in call order (None: not given);
    ``options``: other call arguments; ``init``: module constructor arguments;
    ``grad``: names of the arrays that are differentiable (require grad)."""

    arrays: dict[str, np.ndarray | None]
    options: dict[str, Any] = field(default_factory=dict)
    init: dict[str, Any] = field(default_factory=dict)
    grad: tuple[str, ...] = ()

    def with_arrays(self, **arrays: np.ndarray | None) -> Sample:
        return replace(self, arrays={**self.arrays, **arrays})

    def with_options(self, **options: Any) -> Sample:
        return replace(self, options={**self.options, **options})

    def with_init(self, **init: Any) -> Sample:
        return replace(self, init={**self.init, **init})


@dataclass(frozen=True)
class Invalid:
    """An op-specific invalid variant: ``make(sample, rng)`` returns the invalid sample;
    the call must raise one of ``errors`` (naming the op) or, if ``torch_may_accept``,
    may instead give a result that matches PyTorch's shape and dtype."""

    kind: str
    make: Callable[[Sample, np.random.Generator], Sample]
    errors: tuple[type[BaseException], ...] = (ValueError, TypeError)
    torch_may_accept: bool = False


_SAME = object()  # Spec.torch_call default: the same ``call`` works with torch


@dataclass(frozen=True)
class Spec:
    """A public op or module and how to exercise it (see the module docstring).

    name           "F.<function>" or "nn.<Module>" (the label in test ids)
    target         the public tinymm object covered (function or Module class)
    sample         (rng, dims, dtype) -> Sample, valid arguments at the given dims
    call           (F-namespace | module, arrays, options) -> output(s)
    make           modules only: (nn-namespace, init) -> module (tinymm.nn or torch.nn)
    torch_call     the call in PyTorch, or None if it has no counterpart; by default
                   ``call`` itself (same names and signature)
    sizes          which :data:`SIZES` labels the sample builder supports
    differentiable whether gradients flow to the float arrays in ``Sample.grad`` (and to
                   a module's parameters)
    random         output depends on the RNG (dropout): values are compared only between
                   calls made after the same ``tm.manual_seed``
    size_options   names in ``options`` (functions) or ``init`` (modules) holding
                   ints that are sizes/strides/paddings: the fuzz attacks them with 0,
                   negative and huge values
    invalid        op-specific invalid variants (:class:`Invalid`)
    error_name     the name the error messages must contain (default: the part of
                   ``name`` after the dot)
    also_named     other names an error may carry instead: the functions a module's
                   forward delegates to (``nn.Softmax`` -> ``"softmax"``)
    dtypes         float dtypes the op supports (others must be refused with TypeError)
    passthrough    returns its argument unchanged without looking at it (``nn.Identity``):
                   the dtype and argument-type attacks do not apply
    """

    name: str
    target: object
    sample: Callable[[np.random.Generator, Dims, np.dtype], Sample]
    call: Callable[..., Any]
    make: Callable[[Any, dict], Any] | None = None
    torch_call: Callable[..., Any] | None = _SAME  # type: ignore[assignment]
    sizes: tuple[str, ...] = SIZES
    differentiable: bool = True
    random: bool = False
    size_options: tuple[str, ...] = ()
    invalid: tuple[Invalid, ...] = ()
    error_name: str = ""
    also_named: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ("float32", "float64")
    passthrough: bool = False

    def __post_init__(self):
        if self.torch_call is _SAME:
            object.__setattr__(self, "torch_call", self.call)
        if not self.error_name:
            object.__setattr__(self, "error_name", self.name.split(".", 1)[-1])
        unknown = set(self.sizes) - set(SIZES)
        if unknown:
            raise ValueError(f"Spec {self.name}: unknown sizes {sorted(unknown)}")

    @property
    def is_module(self) -> bool:
        return self.make is not None

    def build(self, rng: np.random.Generator, size: str = "small",
              dtype: str | np.dtype = "float32") -> Sample:
        """Valid arguments at the dims of ``size`` (a label of :data:`SIZES`)."""
        return self.sample(rng, DIMS[size], np.dtype(dtype))

    def __repr__(self) -> str:  # short, for pytest ids and failure messages
        return f"Spec({self.name})"
