"""Smaller, cheaper models: magnitude pruning and int8 quantisation.

    from tinymm.compress import prune, prune_channels, shrink, quantize_dynamic
    prune.global_unstructured([(m, "weight") for m in layers], amount=0.5)  # masks, as PyTorch
    prune_channels(conv, 0.5); shrink(model)        # structured: channels really removed
    small = quantize_dynamic(model)                 # Linear + LSTM weights as int8
    small = quantize_static(model, calib_batches)   # + Conv, activation ranges calibrated
"""

from . import prune
from .quantize import (
    DEFAULT_DYNAMIC,
    QuantizedConv1d,
    QuantizedConv2d,
    QuantizedEmbedding,
    QuantizedLinear,
    QuantizedLSTM,
    quantize_dynamic,
    quantize_static,
    weight_bytes,
)
from .shrink import prune_channels, shrink

__all__ = ["prune", "prune_channels", "shrink", "QuantizedLinear", "QuantizedConv1d",
           "QuantizedConv2d", "QuantizedLSTM", "QuantizedEmbedding", "quantize_dynamic",
           "quantize_static", "weight_bytes", "DEFAULT_DYNAMIC"]
