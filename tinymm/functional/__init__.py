"""``tinymm.functional``: stateless ops (validate -> kernel -> Function), PyTorch's names.

    import tinymm.functional as F
"""

from .activation import dropout, gelu, log_softmax, relu, sigmoid, softmax, tanh
from .linear import linear
from .loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, one_hot

# --- layers from the kernel families (one import line per module) ---

__all__ = [
    "linear", "relu", "gelu", "tanh", "sigmoid", "softmax", "log_softmax", "dropout",
    "cross_entropy", "mse_loss", "binary_cross_entropy_with_logits", "one_hot",
]
