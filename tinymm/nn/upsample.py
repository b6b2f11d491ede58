"""``Upsample``: the module form of :func:`tinymm.functional.interpolate`."""

from __future__ import annotations

from ..functional.interpolate import MODES, interpolate
from .module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    """Resize (N, C, *spatial) by ``size`` or ``scale_factor`` with ``mode`` ("nearest",
    "linear", "bilinear", "trilinear"), as ``torch.nn.Upsample``.

    >>> import tinymm as tm
    >>> Upsample(scale_factor=2, mode="nearest")(tm.zeros(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Upsample: mode must be one of {tuple(MODES)}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size = tuple(size) if isinstance(size, list) else size
        self.scale_factor = (tuple(float(f) for f in scale_factor)
                             if isinstance(scale_factor, (tuple, list))
                             else None if scale_factor is None else float(scale_factor))
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):  # noqa: A002
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = (f"scale_factor={self.scale_factor}" if self.scale_factor is not None
                else f"size={self.size}")
        return f"{what}, mode={self.mode!r}"
