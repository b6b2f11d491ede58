"""``tinymm.functional``: stateless ops (validate -> kernel -> Function), PyTorch's names.

    import tinymm.functional as F
"""

from .activation import dropout, gelu, log_softmax, relu, sigmoid, softmax, tanh

# --- layers from the kernel families (one import line per module) ---
from .attention import scaled_dot_product_attention
from .bilinear import bilinear
from .conv import conv1d, conv2d
from .conv_transpose import conv_transpose1d, conv_transpose2d
from .interpolate import interpolate
from .linear import linear
from .loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, one_hot
from .norm import layer_norm
from .pad import pad
from .pool import adaptive_avg_pool2d, avg_pool2d, max_pool1d, max_pool2d
from .recurrent import gru_layer, lstm_layer, rnn_layer
from .sparse import embedding

__all__ = [
    "linear", "relu", "gelu", "tanh", "sigmoid", "softmax", "log_softmax", "dropout",
    "cross_entropy", "mse_loss", "binary_cross_entropy_with_logits", "one_hot",
    "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    "layer_norm", "embedding", "scaled_dot_product_attention",
    "rnn_layer", "lstm_layer", "gru_layer",
    "conv_transpose2d", "conv_transpose1d", "bilinear", "interpolate", "pad",
]
