"""``tinymm.functional``: stateless ops (validate -> kernel -> Function), PyTorch's names.

    import tinymm.functional as F
"""

from .activation import (
    dropout,
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)

# --- layers from the kernel families (one import line per module) ---
from .attention import scaled_dot_product_attention
from .bilinear import bilinear
from .channel_dropout import dropout1d, dropout2d
from .conv import conv1d, conv2d
from .conv_transpose import conv_transpose1d, conv_transpose2d
from .interpolate import interpolate
from .linear import linear
from .loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss, one_hot
from .loss_pointwise import (
    binary_cross_entropy,
    cosine_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    smooth_l1_loss,
)
from .norm import batch_norm, group_norm, layer_norm
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
    # normalisation, activations, channel dropout and losses (second round)
    "batch_norm", "group_norm", "leaky_relu", "elu", "silu", "softplus", "mish", "hardtanh",
    "dropout1d", "dropout2d", "nll_loss", "binary_cross_entropy", "l1_loss", "smooth_l1_loss",
    "huber_loss", "kl_div", "cosine_embedding_loss",
    "conv_transpose2d", "conv_transpose1d", "bilinear", "interpolate", "pad",
]
