"""``tm.save`` / ``tm.load``: nested state (dicts, lists, arrays, numbers) in a ``.npz``.

No pickle, ever: arrays are stored as ``.npz`` members and the structure around them
(dict keys, lists, numbers, strings) as a JSON manifest stored as one more member, so
``np.load(..., allow_pickle=False)`` reads everything. The manifest also records each
array's dtype and shape, so a member that does not match it is caught on load.

Writes are atomic: the archive is written to a temporary file in the same folder, flushed
to disk and renamed over the target, so a crash leaves either the old file or the new one,
never half of one.

Reads trust nothing: :func:`load` parses the zip members and their ``.npy`` headers itself
(sizes checked against the file before anything is allocated, headers at most
``MAX_HEADER_BYTES``, no object dtypes) and turns every kind of damage into one
``ValueError`` that names the file and what is wrong with it.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .tensor import Tensor

_MANIFEST = "__tinymm__"
_FORMAT = "tinymm-state"
_VERSION = 1
MAX_HEADER_BYTES = 10_000  # an .npy header tinymm writes is ~120 bytes; numpy's own limit
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand data by more than ~1032x
_NPY_MAGIC = b"\x93NUMPY"


def _encode(obj, arrays: dict[str, np.ndarray], where: str):
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, (np.ndarray, np.generic)) and not isinstance(obj, np.bool_):
        arr = np.asarray(obj)
        if arr.dtype.hasobject:
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


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()``) to ``path`` atomically, as ``.npz`` (or
    as ``.safetensors`` when the path ends so: ``tinymm.safetensors_io``).

    >>> import tempfile, pathlib
    >>> model = nn.Linear(3, 2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "model.npz"
    ...     tm.save(model.state_dict(), path)
    ...     state = tm.load(path)
    >>> sorted(state), state["weight"].shape
    (['bias', 'weight'], (2, 3))
    """
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
    layout = {k: [a.dtype.str, list(a.shape)] for k, a in arrays.items()}
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "tree": tree,
                           "arrays": layout})
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
    _fsync_dir(path.parent)


# ----------------------------------------------------------------------------- load
class _Foreign(Exception):
    """The file is something else than a tinymm checkpoint."""


class _Damaged(Exception):
    """The file looks like a checkpoint but cannot be read as one."""


def _sniff(path: Path) -> None:
    """Refuse, from the first bytes, files that are not zip archives at all."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        raise _Foreign("the file is empty (0 bytes)")
    if head.startswith(_NPY_MAGIC):
        raise _Foreign("it is a single .npy array, not an .npz archive written by tm.save")
    if head.startswith(b"PK"):
        return
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        raise _Foreign("it is a text file, not an .npz archive written by tm.save")
    raise _Foreign(f"it is not an .npz (zip) archive (it starts with {head[:4]!r})")


def _parse_npy(data: bytes, member: str) -> np.ndarray:
    """The array in one ``.npy`` member, every header field checked against ``data``."""
    if len(data) < 10 or not data.startswith(_NPY_MAGIC):
        raise _Damaged(f"member {member!r} is not an .npy array")
    major = data[6]
    if major == 1:
        start, size = 10, int.from_bytes(data[8:10], "little")
    elif major in (2, 3) and len(data) >= 12:
        start, size = 12, int.from_bytes(data[8:12], "little")
    else:
        raise _Damaged(f"member {member!r} has an unknown .npy format version {major}")
    if size > MAX_HEADER_BYTES:
        raise _Damaged(f"member {member!r} has an oversized .npy header ({size:,} bytes; "
                       f"at most {MAX_HEADER_BYTES:,} are read)")
    if start + size > len(data):
        raise _Damaged(f"member {member!r} ends inside its .npy header")
    try:
        header = ast.literal_eval(data[start:start + size].decode("utf-8" if major == 3 else "latin1"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        raise _Damaged(f"member {member!r} has an unparsable .npy header") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise _Damaged(f"member {member!r} has an .npy header without exactly the keys "
                       "descr, fortran_order, shape")
    shape, fortran = header["shape"], header["fortran_order"]
    if not isinstance(fortran, bool) or not isinstance(shape, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise _Damaged(f"member {member!r} has an invalid shape {shape!r} or fortran_order")
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except Exception:  # numpy raises ValueError/TypeError/KeyError for a bad descr
        raise _Damaged(f"member {member!r} has an invalid dtype {header['descr']!r}") from None
    if dtype.hasobject:
        raise _Damaged(f"member {member!r} holds Python objects (dtype {dtype}), which only "
                       "pickle can read; tinymm never unpickles")
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    held = len(data) - start - size
    if held != expected:
        raise _Damaged(f"member {member!r} announces {dtype} of shape {shape} ({expected:,} "
                       f"bytes) but holds {held:,} bytes")
    arr = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=start + size)
    return arr.reshape(shape, order="F" if fortran else "C").copy(order="K")


def _read_members(path: Path) -> dict[str, np.ndarray]:
    archive_bytes = path.stat().st_size
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, EOFError, struct/Unicode errors from damaged bytes
        raise _Damaged(f"a damaged or truncated zip archive ({type(exc).__name__}: {exc})") from None
    arrays: dict[str, np.ndarray] = {}
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise _Damaged("the zip archive lists a member twice")
        if f"{_MANIFEST}.npy" not in names:
            if any(re.fullmatch(r"a\d+\.npy", n) for n in names):
                raise _Damaged(f"the manifest member {_MANIFEST}.npy is missing, but the "
                               f"other members are named as tm.save names them: {names[:4]}")
            raise _Foreign("it is an .npz archive but not a tinymm checkpoint (no manifest)")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise _Foreign(f"it holds a member {name!r} that is not an .npy array")
            if info.compress_type == zipfile.ZIP_STORED:
                sane = info.file_size == info.compress_size <= archive_bytes
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                sane = info.compress_size <= archive_bytes and \
                    info.file_size <= _DEFLATE_MAX_RATIO * info.compress_size + 1024
            else:
                raise _Damaged(f"member {name!r} uses zip compression method "
                               f"{info.compress_type}, which tm.save never writes")
            if not sane:
                raise _Damaged(f"member {name!r} claims {info.file_size:,} bytes, which a "
                               f"{archive_bytes:,}-byte file cannot hold")
            try:
                with zf.open(info) as f:
                    data = f.read()
            except Exception as exc:  # bad CRC, bad local header, truncated data ...
                raise _Damaged(f"member {name!r} is damaged ({type(exc).__name__}: {exc})") from None
            arrays[name[:-4]] = _parse_npy(data, name)
    return arrays


def _decode(node, arrays, where: str):
    if isinstance(node, list):
        return [_decode(v, arrays, f"{where}[{i}]") for i, v in enumerate(node)]
    if node is None or isinstance(node, (bool, int, str)):
        return node
    if not isinstance(node, dict) or len(node) not in (1, 2):
        raise _Damaged(f"the manifest has an unexpected entry at {where}")
    if "__array__" in node:
        key = node["__array__"]
        if not isinstance(key, str) or key not in arrays:
            raise _Damaged(f"the manifest refers to array {key!r} at {where}, which the "
                           "archive does not hold")
        arr = arrays[key]
        return arr[()] if node.get("scalar") else arr
    if "__float__" in node and len(node) == 1:
        try:
            return float(node["__float__"])
        except (TypeError, ValueError):
            raise _Damaged(f"the manifest has an invalid number at {where}") from None
    if "__tuple__" in node and len(node) == 1 and isinstance(node["__tuple__"], list):
        return tuple(_decode(v, arrays, f"{where}[{i}]") for i, v in enumerate(node["__tuple__"]))
    if "__dict__" in node and len(node) == 1 and isinstance(node["__dict__"], list):
        out = {}
        for item in node["__dict__"]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                    and not isinstance(item[0], bool)):
                raise _Damaged(f"the manifest has an invalid dict item at {where}")
            out[item[0]] = _decode(item[1], arrays, f"{where}[{item[0]!r}]")
        return out
    raise _Damaged(f"the manifest has an unexpected entry {sorted(map(str, node))} at {where}")


def _check_layout(layout, arrays: dict[str, np.ndarray]) -> None:
    """Every member is the dtype and shape the manifest recorded (files from tinymm >= 0.1)."""
    if not isinstance(layout, dict):
        raise _Damaged("the manifest's array table is not a dict")
    extra = sorted(set(arrays) - set(layout))
    if extra:
        raise _Damaged(f"the archive holds arrays the manifest does not list: {extra}")
    for key, entry in layout.items():
        if key not in arrays:
            raise _Damaged(f"the manifest lists array {key!r}, which the archive does not hold")
        arr = arrays[key]
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
            raise _Damaged(f"the manifest's entry for array {key!r} is invalid")
        if arr.dtype.str != entry[0]:
            raise _Damaged(f"array {key!r} has dtype {arr.dtype.str} but the manifest records "
                           f"{entry[0]}")
        if list(arr.shape) != entry[1]:
            raise _Damaged(f"array {key!r} has shape {tuple(arr.shape)} but the manifest "
                           f"records {tuple(entry[1])}")


def _read(path: Path):
    _sniff(path)
    arrays = _read_members(path)
    raw = arrays.pop(_MANIFEST)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Damaged(f"the manifest is {raw.dtype} of shape {raw.shape}, not bytes")
    try:
        manifest = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Damaged(f"a corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise _Foreign("its manifest names another format")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Damaged(f"the manifest has an invalid format version {version!r}")
    if version > _VERSION:
        raise _Damaged(f"format version {version} is newer than this tinymm understands "
                       f"({_VERSION})")
    if "tree" not in manifest:
        raise _Damaged("the manifest has no 'tree'")
    if "arrays" in manifest:
        _check_layout(manifest["arrays"], arrays)
    return _decode(manifest["tree"], arrays, "state")


def load(path: str | os.PathLike):
    """Read what :func:`save` wrote. Arrays come back as ``numpy.ndarray``s.

    Raises ``FileNotFoundError`` for a missing file and one ``ValueError`` naming the file
    and the problem for anything else: a file that is not a tinymm checkpoint (empty, text,
    a plain ``.npz``, ...) or one that is damaged (truncated, flipped bits, members that do
    not match the manifest, oversized headers, object arrays).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "state.npz"
    ...     tm.save({"step": 3, "w": np.ones(2, np.float32)}, path)
    ...     state = tm.load(path)
    >>> state["step"], state["w"].tolist()
    (3, [1.0, 1.0])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {str(path)!r}")
    if path.suffix == ".safetensors":
        from .safetensors_io import load_safetensors

        return load_safetensors(path)
    try:
        return _read(path)
    except _Foreign as exc:
        raise ValueError(f"load: {str(path)!r} is not a tinymm checkpoint: {exc}") from None
    except _Damaged as exc:
        raise ValueError(f"load: {str(path)!r} is not a readable tinymm checkpoint: "
                         f"{exc}") from None
    except RecursionError:
        raise ValueError(f"load: {str(path)!r} is not a readable tinymm checkpoint: its "
                         "manifest is nested too deeply") from None
