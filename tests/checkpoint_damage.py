"""Ways to damage a checkpoint file, shared by the tm.load and the CLI attack tests.

Each ``FILE_DAMAGE`` entry turns the bytes of a valid ``tm.save`` archive into a damaged or
foreign file: what ``tm.load`` must refuse with one ``ValueError`` naming the path. The
archive-rewriting kinds rebuild a well-formed zip (fresh CRCs) around wrong contents, so
they test the checks behind the zip layer, not the zip CRC.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, payload in files.items():
            zf.writestr(name, payload)
    return buf.getvalue()


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def manifest(data: bytes) -> dict:
    raw = members(data)["__tinymm__.npy"]
    return json.loads(np.load(io.BytesIO(raw)).tobytes().decode())


def with_manifest(data: bytes, edit) -> bytes:
    files = members(data)
    m = manifest(data)
    edit(m)
    files["__tinymm__.npy"] = npy(np.frombuffer(json.dumps(m).encode(), np.uint8))
    return rezip(files)


def _array_member(data: bytes) -> str:
    return sorted(n for n in members(data) if n != "__tinymm__.npy")[0]


def _replace_member(data: bytes, payload) -> bytes:
    files = members(data)
    name = _array_member(data)
    files[name] = payload(np.load(io.BytesIO(files[name])))
    return rezip(files)


def _flip(data: bytes, where: float) -> bytes:
    out = bytearray(data)
    out[int(len(data) * where)] ^= 0xFF
    return bytes(out)


def _oversized_header(data: bytes) -> bytes:
    # a v1 .npy header may be up to 65535 bytes: a legal but absurd 60000-byte one
    body = repr({"descr": "<f8", "fortran_order": False, "shape": (2,)}).encode()
    header = body + b" " * (60000 - len(body) - 1) + b"\n"
    payload = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    files = members(data)
    files[_array_member(data)] = payload + np.zeros(2).tobytes()
    return rezip(files)


def _huge_header_length(data: bytes) -> bytes:
    files = members(data)  # a v2 header that claims 2 GiB
    files[_array_member(data)] = b"\x93NUMPY\x02\x00" + (2**31).to_bytes(4, "little") + b"{}"
    return rezip(files)


def _huge_shape(data: bytes) -> bytes:
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)}).encode()
    header += b" " * (63 - len(header)) + b"\n"
    files = members(data)
    files[_array_member(data)] = (b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                  + header + np.zeros(4).tobytes())
    return rezip(files)


def _drop_member(data: bytes) -> bytes:
    files = members(data)
    del files[_array_member(data)]
    return rezip(files)


def _extra_member(data: bytes) -> bytes:
    files = members(data)
    files["a999.npy"] = npy(np.ones(3))
    return rezip(files)


def _set_tree(tree):
    return lambda data: with_manifest(data, lambda m: m.update(tree=tree))


def _without_layout(edit):
    """Old-style manifest (no array table), so only the tree's own checks can see ``edit``."""
    def damage(data: bytes) -> bytes:
        return with_manifest(edit(data), lambda m: m.pop("arrays", None))
    return damage


FILE_DAMAGE = {
    "empty": lambda data: b"",
    "text": lambda data: b"model:\n  weights: [0.1, 0.2]\n",
    "random-bytes": lambda data: np.random.default_rng(0).bytes(len(data)),
    "single-npy": lambda data: npy(np.ones(3)),
    "plain-npz": lambda data: rezip({"w.npy": npy(np.ones(3))}),
    "zip-of-text": lambda data: rezip({"readme.txt": b"hello"}),
    "truncated-half": lambda data: data[: len(data) // 2],
    "truncated-tail": lambda data: data[:-7],
    "bit-flip-data": lambda data: _flip(data, 0.5),
    "bit-flip-directory": lambda data: _flip(data, 0.97),
    "wrong-key-missing": _drop_member,
    "wrong-key-missing-old-manifest": _without_layout(_drop_member),
    "wrong-key-extra": _extra_member,
    "wrong-shape": lambda data: _replace_member(data, lambda a: npy(np.zeros(a.size + 1, a.dtype))),
    "wrong-dtype": lambda data: _replace_member(data, lambda a: npy(a.astype(np.int64))),
    "object-dtype": lambda data: _replace_member(
        data, lambda a: npy(np.array([{"evil": 1}], dtype=object), allow_pickle=True)),
    "oversized-header": _oversized_header,
    "huge-header-length": _huge_header_length,
    "huge-shape": _huge_shape,
    "manifest-not-json": lambda data: rezip({**members(data), "__tinymm__.npy": npy(
        np.frombuffer(b"{not json", np.uint8))}),
    "manifest-wrong-dtype": lambda data: rezip({**members(data), "__tinymm__.npy": npy(
        np.zeros(4, np.float64))}),
    "manifest-other-format": lambda data: with_manifest(data, lambda m: m.update(format="x")),
    "manifest-future-version": lambda data: with_manifest(data, lambda m: m.update(version=99)),
    "manifest-bad-array-ref": _set_tree({"__array__": 5}),
    "manifest-bad-float": _set_tree({"__float__": "one"}),
    "manifest-bad-dict": _set_tree({"__dict__": [[1.5, 2]]}),
    "manifest-unknown-entry": _set_tree({"__set__": [1, 2]}),
    "manifest-deeply-nested": lambda data: rezip({**members(data), "__tinymm__.npy": npy(
        np.frombuffer(b'{"format": "tinymm-state", "version": 1, "tree": ' + b"[" * 5000
                      + b"]" * 5000 + b"}", np.uint8))}),
}
