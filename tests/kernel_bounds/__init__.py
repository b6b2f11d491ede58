"""Rounding-error bounds of the composite kernels, for the kernel tests (one module per family).

Each function takes the kernel's inputs (the float32/float64 arrays the kernel saw) and
returns the float64 reference and the componentwise error bound, derived to first order
with ``tinymm.testing.tolerance``'s rules (u = unit roundoff, γ_n = nu/(1-nu), exp and log
charged ``TRANSCENDENTAL_ULPS``), then multiplied by ``SAFETY``. Kernels whose outputs are
sums of products use ``tolerance.multilinear_bound`` directly in their tests.

:func:`check_twins` holds the Numba and the NumPy twin to the same bound against the same
float64 reference.
"""

from .attention import attention_backward_bound, attention_forward_bound
from .norm import layer_norm_backward_bound, layer_norm_forward_bound
from .optim import adam_step_bound, sgd_step_bound
from .recurrent import recurrent_backward_bound, recurrent_forward_bound
from .softmax import (
    KE,
    check_twins,
    cross_entropy_backward_bound,
    cross_entropy_forward_bound,
    log_softmax_backward_bound,
    log_softmax_forward_bound,
    softmax_backward_bound,
    softmax_forward_bound,
    softmax_stats,
)

__all__ = [
    "KE", "check_twins", "softmax_stats", "softmax_forward_bound", "log_softmax_forward_bound",
    "softmax_backward_bound", "log_softmax_backward_bound", "cross_entropy_forward_bound",
    "cross_entropy_backward_bound", "adam_step_bound", "sgd_step_bound",
    "layer_norm_forward_bound", "layer_norm_backward_bound", "attention_forward_bound",
    "attention_backward_bound", "recurrent_forward_bound", "recurrent_backward_bound",
]
