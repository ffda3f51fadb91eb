"""A head's file read as the untrusted input it is (shared/backbone/head_file.py): nothing inflated before it is
checked against the manifest's shapes, every hostile file one line, and no model whose outputs are not finite."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from piclassify.shared.backbone.head import build_head
from piclassify.shared.backbone.head_file import load_head
from piclassify.shared.errors import ManifestError

RNG = np.random.default_rng(0)
GOOD = build_head(RNG.normal(size=(30, 1000)), RNG.normal(size=(60, 1280)), RNG.integers(0, 2, 60), 2).data


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def bomb(member: str, inflated: int) -> bytes:
    """A zip whose ``member`` is a valid .npy header followed by ``inflated`` zero bytes, deflated to a few hundred KB."""
    compress = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = npy(np.zeros(inflated, np.int8))[:128]  # the header alone: (inflated,) int8
    chunks, crc = [compress.compress(start)], zlib.crc32(start)
    zeros = bytes(1 << 20)
    for _ in range(inflated >> 20):
        chunks.append(compress.compress(zeros))
        crc = zlib.crc32(zeros, crc)
    chunks.append(compress.flush())
    data = b"".join(chunks)
    size = len(start) + (inflated >> 20 << 20)
    name = member.encode()
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0) + name
    central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0, 0,
                          0, 0, 0, 0) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def test_a_member_that_would_inflate_beyond_the_manifest_s_shapes_is_refused_before_it_is_read(tmp_path):
    """2 MB on disk, 200 MB inflated: refused from the zip's own declaration, with next to no memory."""
    path = tmp_path / "bomb.npz"
    path.write_bytes(bomb("bank.npy", 200 << 20))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ManifestError, match="'bank' would inflate to") as error:
            load_head(path, 1280, 1000, 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, f"{peak / 2 ** 20:.0f} MiB allocated reading a refused head"
    assert str(path) in str(error.value)


def test_members_a_head_does_not_have_are_never_read(tmp_path):
    with zipfile.ZipFile(io.BytesIO(GOOD)) as good:
        members = {name: good.read(name) for name in good.namelist()}
    extra = tmp_path / "with-extra.npz"
    extra.write_bytes(bomb("extra.npy", 64 << 20))
    with zipfile.ZipFile(extra, "a") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    tracemalloc.start()
    try:
        head = load_head(extra, 1280, 1000, 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert head.weights.shape == (1280, 2) and peak < 32 << 20


def _with(**replace: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(GOOD)) as good:
        members = {name: good.read(name) for name in good.namelist()}
    members.update(replace)
    return zipped(members)


def _damaged(data: bytes) -> bytes:
    """The zip with bytes in the middle of its first member's deflated data overwritten (its headers intact)."""
    out = bytearray(data)
    out[40:48] = b"\xff\x00\xff\x00\xff\x00\xff\x00"
    return bytes(out)


def _flag(data: bytes, flag: int, method: int) -> bytes:
    """The zip with every entry's general purpose flag and compression method set (local and central headers)."""
    out = bytearray(data)
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            struct.pack_into("<2H", out, start + at, flag, method)
            start += 4
    return bytes(out)


HOSTILE = [
    ("a member that is not .npy", zipped({"bank": b"\x00" * 64}), "'bank' must be int8 rows"),
    ("text for weights", _with(**{"weights.npy": npy(np.full((1280, 2), "x"))}), "holds <U1, not plain numbers"),
    ("complex weights", _with(**{"weights.npy": npy(np.zeros((1280, 2), np.complex64))}), "not plain numbers"),
    ("integer weights", _with(**{"weights.npy": npy(np.zeros((1280, 2), np.int32))}), "needs float 'weights'"),
    ("a header claiming 10^15 rows", _with(**{"bank.npy": npy(np.zeros((1, 1000), np.int8)).replace(
        b"(1, 1000)", b"(1000000000000000, 1000)"[:9].ljust(9))}), "not a readable head file"),
    ("a shape its data lacks", _with(**{"bank.npy": npy(np.zeros((30, 1000), np.int8))[:-1000]}), "bytes, not the"),
    ("broken deflate data", _damaged(zipped({"bank.npy": npy(RNG.integers(-9, 9, (30, 1000), np.int8))},
                                            zipfile.ZIP_DEFLATED)), "not a readable head file"),
    ("an encrypted member", _flag(_with(), 1, 0), "not a readable head file"),
    ("an unknown compression", _flag(_with(), 0, 99), "not a readable head file"),
]


@pytest.mark.parametrize("case, data, message", HOSTILE, ids=[case for case, _, _ in HOSTILE])
def test_a_hostile_head_file_is_one_line(tmp_path, case, data, message):
    path = tmp_path / "hostile.npz"
    path.write_bytes(data)
    with pytest.raises(ManifestError, match=message) as error:
        load_head(path, 1280, 1000, 2)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_weights_that_can_make_a_logit_beyond_float32_are_refused_at_load(tmp_path):
    """Finite weights, but 1e37 times a feature of 6 is no float32: the answer would be NaN."""
    path = tmp_path / "huge.npz"
    path.write_bytes(_with(**{"weights.npy": npy(np.full((1280, 2), 1e37, np.float32))}))
    with pytest.raises(ManifestError, match="its outputs would not be finite numbers"):
        load_head(path, 1280, 1000, 2, largest_feature=6.0)
    path.write_bytes(_with(**{"weights.npy": npy(np.full((1280, 2), 1e3, np.float64))}))
    assert load_head(path, 1280, 1000, 2, largest_feature=6.0).weights.dtype == np.float32
