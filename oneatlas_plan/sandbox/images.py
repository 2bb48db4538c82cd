"""Tiny deterministic PNG images (hand-made with zlib) for quicklooks, thumbnails and products."""

from __future__ import annotations

import hashlib
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width: int, height: int, seed: str) -> bytes:
    """An RGB PNG with a smooth pattern derived from ``seed`` (a few KB at most)."""
    h = hashlib.sha256(seed.encode()).digest()
    base = (h[0], h[1], h[2])
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(
                ((base[0] + x * 2) % 256, (base[1] + y * 2) % 256, (base[2] + (x + y)) % 256)
            )
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")
    )
