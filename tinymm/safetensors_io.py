"""``.safetensors`` files for ``tm.save`` / ``tm.load`` (used when the path ends in
``.safetensors``): the flat name -> array format that PyTorch (``safetensors.torch``) and
model hubs read and write.

A safetensors file holds one flat mapping of names to arrays (a ``state_dict``), no nested
structure, no Python objects. Writes are atomic as for ``.npz``: a temporary file in the
same folder, then a rename. Needs the ``safetensors`` package (``pip install
tinymm[safetensors]``), imported only when such a file is used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .tensor import Tensor

__all__ = ["save_safetensors", "load_safetensors"]


def _numpy_backend(fn: str):
    try:
        from safetensors import numpy as st_numpy
    except ImportError:
        raise ImportError(f"{fn}: .safetensors files need the safetensors package: install "
                          "it with `pip install tinymm[safetensors]` (or `pip install "
                          "safetensors`), or save to a .npz path") from None
    return st_numpy


def _flat_arrays(obj) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise TypeError(f"save: a .safetensors file holds a flat dict of name -> array (a "
                        f"state_dict), got {type(obj).__name__}")
    arrays = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise TypeError(f"save: .safetensors keys must be str, got {k!r}")
        if isinstance(v, Tensor):
            v = v.data
        elif hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor
            v = v.detach().cpu().numpy()
        if not isinstance(v, (np.ndarray, np.generic)) or np.asarray(v).dtype == object:
            raise TypeError(f"save: .safetensors values must be arrays or Tensors, got "
                            f"{type(v).__name__} for {k!r}")
        arrays[k] = np.array(v, order="C")  # a copy; ascontiguousarray would make 0-d 1-d
    return arrays


def save_safetensors(obj, path: Path) -> None:
    """Write the flat dict ``obj`` (e.g. ``model.state_dict()``) to ``path`` atomically."""
    st = _numpy_backend("save")
    payload = st.save(_flat_arrays(obj))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` file as a dict of name -> ``numpy.ndarray``, in file order."""
    st = _numpy_backend("load")
    data = path.read_bytes()
    try:
        return dict(st.load(data))
    except Exception as exc:  # the Rust reader raises its own SafetensorError
        raise ValueError(f"load: {str(path)!r} is not a readable .safetensors file "
                         f"({exc})") from None
