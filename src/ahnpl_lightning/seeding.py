"""One deterministic seed function for the whole package (the world, the negatives generator, perturbations)."""

from __future__ import annotations

import hashlib

__all__ = ["stable_seed"]


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts``, identical in every process and machine (unlike ``hash``, salted per process).

    The parts' ``str`` forms joined by ``"\\x1f"``, hashed with BLAKE2b (8 bytes), read little-endian.
    """
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
