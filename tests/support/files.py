"""Comparing disk images byte for byte."""
from __future__ import annotations

import hashlib


def sha256_of(path) -> str:
    with open(path, "rb") as f:
        digest = hashlib.sha256()      # hashlib.file_digest is 3.11+; the functions run on python3.10
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()
