"""Smaller, cheaper models: int8 quantisation (and, with hooks, magnitude pruning).

    from tinymm.compress import quantize_dynamic, quantize_static
    small = quantize_dynamic(model)                 # Linear + LSTM weights as int8
    small = quantize_static(model, calib_batches)   # + Conv, activation ranges calibrated
"""

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

__all__ = ["QuantizedLinear", "QuantizedConv1d", "QuantizedConv2d", "QuantizedLSTM",
           "QuantizedEmbedding", "quantize_dynamic", "quantize_static", "weight_bytes",
           "DEFAULT_DYNAMIC"]
