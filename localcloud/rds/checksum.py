"""The Checksum of an RDS backup set: CRC-64/XZ (ECMA-182, reflected) over its files, the checksum OSS reports."""
from __future__ import annotations

from pathlib import Path


def _crc64_table() -> list[int]:
    poly = 0xC96C5795D7870F42  # CRC-64/XZ (ECMA-182, reflected), as OSS reports
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64 = _crc64_table()


def crc64(paths: list[Path]) -> str:
    """The CRC-64/XZ of the files' contents one after the other, in decimal."""
    crc = 0xFFFFFFFFFFFFFFFF
    table = _CRC64
    for path in paths:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                for b in chunk:
                    crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return str(crc ^ 0xFFFFFFFFFFFFFFFF)
