"""``tinymm.nn``: Modules and Parameters with PyTorch's names, defaults and layouts."""

from . import init, utils
from .activation import GELU, Dropout, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh

# --- layers from the kernel families (one import line per module) ---
from .attention import MultiheadAttention, TransformerEncoderLayer
from .containers import ModuleDict, ModuleList, ParameterList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module
from .norm import LayerNorm
from .parameter import Parameter
from .pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d
from .recurrent import GRU, LSTM, RNN
from .sparse import Embedding
from .upsample import Upsample

__all__ = [
    "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity",
    "Linear", "Flatten", "ReLU", "GELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout",
    "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "Embedding", "LayerNorm", "RNN", "LSTM", "GRU", "MultiheadAttention",
    "TransformerEncoderLayer",
    "utils", "ConvTranspose2d", "ConvTranspose1d", "Bilinear", "Unflatten", "ParameterList", "Upsample",
]
