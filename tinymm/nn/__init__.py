"""``tinymm.nn``: Modules and Parameters with PyTorch's names, defaults and layouts."""

from . import init, utils
from .activation import (
    ELU,
    GELU,
    Dropout,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)

# --- layers from the kernel families (one import line per module) ---
from .attention import MultiheadAttention
from .containers import ModuleDict, ModuleList, ParameterList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .dropout import Dropout1d, Dropout2d
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .parameter import Parameter
from .pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d
from .recurrent import GRU, LSTM, RNN
from .sparse import Embedding
from .transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from .upsample import Upsample

__all__ = [
    "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity",
    "Linear", "Flatten", "ReLU", "GELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout",
    "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "Embedding", "LayerNorm", "RNN", "LSTM", "GRU", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder",
    # normalisation, activations, channel dropout and losses (second round)
    "BatchNorm1d", "BatchNorm2d", "GroupNorm", "Dropout1d", "Dropout2d", "LeakyReLU", "ELU",
    "SiLU", "Softplus", "Mish", "Hardtanh", "NLLLoss", "BCELoss", "L1Loss", "SmoothL1Loss",
    "HuberLoss", "KLDivLoss", "CosineEmbeddingLoss",
    "utils", "ConvTranspose2d", "ConvTranspose1d", "Bilinear", "Unflatten", "ParameterList",
    "Upsample",
]
