"""ROOT's ZLIB compression of object payloads, fast for the large ones.

ROOT compresses a key's payload in blocks of at most 16 MB, each with a 9-byte header (``ZL``,
method 8, 3-byte compressed and uncompressed sizes) and a zlib stream. A payload that would not
shrink is stored as it is (fNbytes - fKeylen == fObjlen). Large models' covariance matrices are
tens of MB of noisy doubles that zlib barely shrinks at tens of MB/s: such blocks are detected on
samples and stored (zlib level 0), and the blocks of one payload are compressed on threads (zlib
releases the GIL).
"""

from __future__ import annotations

import os
import struct
import zlib

__all__ = ["root_zlib"]

_MAX_BLOCK = 2**24 - 1  # ROOT's compression headers hold 3-byte sizes
#: blocks above this size are sampled before they are compressed (see :func:`root_zlib`)
_SAMPLE_ABOVE = 1 << 22
#: a sampled block whose compressed size would exceed this fraction of its size is only stored
_WORTHWHILE_RATIO = 0.9
#: the largest block stored without compression (zlib level 0 adds 5 bytes per 64 kB)
_STORED_BLOCK = _MAX_BLOCK - (1 << 13)


def _worth_compressing(block, level: int) -> bool:
    """Whether ``block`` (large) shrinks by more than 10 %, judged on four 64 kB samples.

    Covariance matrices of thousands of parameters are dense doubles with noisy mantissas: zlib
    gains a few per cent on them at ~20-50 MB/s, seconds per matrix. Such blocks are stored
    (zlib level 0: a copy and a checksum), which every ROOT reader inflates as usual.
    """
    step = len(block) // 4
    raw = packed = 0
    for j in range(4):
        sample = block[j * step : j * step + (1 << 16)]
        raw += len(sample)
        packed += len(zlib.compress(sample, level))
    return packed < _WORTHWHILE_RATIO * raw


def _compress_blocks(blocks: list, levels: list[int]) -> list[bytes]:
    """zlib of each block at its level; several blocks on threads (zlib releases the GIL)."""
    if len(blocks) < 2:
        return [zlib.compress(b, lv) for b, lv in zip(blocks, levels, strict=True)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(blocks), os.cpu_count() or 1)) as pool:
        return list(pool.map(zlib.compress, blocks, levels))


def root_zlib(data: bytes, level: int = 1) -> bytes:
    """``data`` in ROOT's ZLIB blocks (``ZL``, method 8, 3-byte sizes), as uproot's ``compress``.

    Buffers that would not shrink (and those of at most 17 bytes, which cannot) are returned
    as they are: ROOT then reads them uncompressed (fNbytes - fKeylen == fObjlen). Large blocks
    whose samples do not shrink by 10 % are stored rather than compressed (:func:`_worth_compressing`).
    """
    if len(data) <= 17:
        return data
    view = memoryview(data)
    blocks, levels = [], []
    for start in range(0, len(view), _MAX_BLOCK):
        block = view[start : start + _MAX_BLOCK]
        if len(block) <= _SAMPLE_ABOVE or _worth_compressing(block, level):
            blocks.append(block)
            levels.append(level)
        else:
            for at in range(0, len(block), _STORED_BLOCK):
                blocks.append(block[at : at + _STORED_BLOCK])
                levels.append(0)
    if not any(levels):
        return data
    out = []
    for block, packed in zip(blocks, _compress_blocks(blocks, levels), strict=True):
        if len(packed) > _MAX_BLOCK:  # pragma: no cover - deflate never grows a block this much
            return data
        out.append(b"ZL\x08" + struct.pack("<I", len(packed))[:3] + struct.pack("<I", len(block))[:3])
        out.append(packed)
    packed = b"".join(out)
    # a stored size equal to the uncompressed one means "not compressed" to ROOT's readers
    return packed if len(packed) < len(data) else data
