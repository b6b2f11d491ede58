"""``tm.save`` / ``tm.load``: nested state (dicts, lists, arrays, numbers) in a ``.npz``.

No pickle, ever: arrays are stored as ``.npz`` members and the structure around them
(dict keys, lists, numbers, strings) as a JSON manifest stored as one more member, so
``np.load(..., allow_pickle=False)`` reads everything. Writes are atomic: the archive is
written to a temporary file in the same folder and renamed over the target, so a crash
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import json
import numbers
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .tensor import Tensor

_MANIFEST = "__tinymm__"
_FORMAT = "tinymm-state"
_VERSION = 1


def _encode(obj, arrays: dict[str, np.ndarray], where: str):
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, (np.ndarray, np.generic)) and not isinstance(obj, np.bool_):
        arr = np.asarray(obj)
        if arr.dtype == object:
            raise TypeError(f"save: {where} is an object array, which cannot be saved without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return {"__array__": key, "scalar": isinstance(obj, np.generic)}
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor, say
        return _encode(obj.detach().cpu().numpy(), arrays, where)
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return {"__float__": repr(float(obj))}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} in {where}")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        values = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"__tuple__": values} if isinstance(obj, tuple) else values
    raise TypeError(f"save: cannot save {type(obj).__name__} at {where}; expected arrays, "
                    "Tensors, numbers, strings, None and dicts/lists of them")


def _decode(node, arrays):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        arr = arrays[node["__array__"]]
        return arr[()] if node.get("scalar") else arr
    if "__float__" in node:
        return float(node["__float__"])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__dict__" in node:
        return {k: _decode(v, arrays) for k, v in node["__dict__"]}
    raise ValueError(f"load: unknown manifest entry {sorted(node)}")


def save(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()``) to ``path`` atomically, as ``.npz`` (or
    as ``.safetensors`` when the path ends so: ``tinymm.safetensors_io``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.parent.exists():
        raise ValueError(f"save: the folder {str(path.parent)!r} does not exist")
    if path.suffix == ".safetensors":  # the flat format PyTorch and model hubs read
        from .safetensors_io import save_safetensors

        return save_safetensors(obj, path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, "state")
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "tree": tree})
    arrays[_MANIFEST] = np.frombuffer(manifest.encode("utf-8"), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike):
    """Read what :func:`save` wrote. Arrays come back as ``numpy.ndarray``s."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {str(path)!r}")
    if path.suffix == ".safetensors":
        from .safetensors_io import load_safetensors

        return load_safetensors(path)
    unreadable = f"load: {str(path)!r} is not a readable tinymm checkpoint"
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, io.UnsupportedOperation) as exc:
        raise ValueError(f"{unreadable} (not an .npz archive: {exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{unreadable} (a single .npy array, not an .npz archive)")
    with archive:
        if _MANIFEST not in archive.files:
            raise ValueError(f"load: {str(path)!r} is an .npz archive but not a tinymm "
                             "checkpoint (no manifest)")
        try:
            arrays = {k: archive[k] for k in archive.files}
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ValueError(f"{unreadable} (a corrupt member: {exc})") from None
    try:
        manifest = json.loads(arrays.pop(_MANIFEST).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {str(path)!r} has a corrupt manifest: {exc}") from None
    if manifest.get("format") != _FORMAT:
        raise ValueError(f"load: {str(path)!r} is not a tinymm checkpoint")
    if manifest.get("version", 0) > _VERSION:
        raise ValueError(f"load: {str(path)!r} has format version {manifest['version']}, "
                         f"newer than this tinymm understands ({_VERSION})")
    return _decode(manifest["tree"], arrays)
