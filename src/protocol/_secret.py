"""The cluster secret: the HMAC key both sides of a handshake hold, and how strong it must be.

The key is the secret's bytes (a ``str`` as UTF-8) with surrounding ASCII
whitespace stripped, so a secret file ending in a newline, the same secret in
an environment variable, and the same bytes passed in code are one key.

A key must carry at least :data:`MIN_SECRET_BITS` bits of material, counted
by the narrowest alphabet the key is written in:

- only hex digits (``0-9a-fA-F``): 4 bits a character, so at least 32;
- only base64 / base64url characters (``A-Za-z0-9+/-_``, ``=`` padding not
  counted): 6 bits a character, so at least 22;
- anything else: 8 bits a byte, so at least 16 bytes;

and it must use at least :data:`MIN_DISTINCT_BYTES` different byte values,
which refuses keys like ``aaaa…``, ``abab…`` or a word repeated. This counts
what the key *could* hold, not what it does: ``0123456789abcdef…`` passes. Make
keys at random (``python -m actors.node gen-secret PATH``); a fresh random
128-bit key fails the distinct-bytes rule with a probability under 1e-7
(32 hex digits), far less for longer keys.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

__all__ = [
    "MIN_DISTINCT_BYTES",
    "MIN_SECRET_BITS",
    "WeakSecret",
    "cluster_key",
    "generate_secret",
    "secret_bits",
]

MIN_SECRET_BITS: Final = 128
"""Bits of key material a cluster secret needs, at least (see :func:`secret_bits`)."""

MIN_DISTINCT_BYTES: Final = 8
"""Different byte values a cluster secret needs, at least."""

HOW_TO_MAKE: Final = "make one with `python -m actors.node gen-secret PATH`"

_HEX: Final = re.compile(rb"[0-9a-fA-F]+")
_BASE64: Final = re.compile(rb"[A-Za-z0-9+/_-]+=*")


class WeakSecret(ValueError):
    """A cluster secret is empty or carries under :data:`MIN_SECRET_BITS` bits of material."""


def secret_bits(key: bytes) -> int:
    """Bits of material ``key`` can hold: its length times the bits of its alphabet."""
    if _HEX.fullmatch(key):
        return 4 * len(key)
    if _BASE64.fullmatch(key):
        return 6 * len(key.rstrip(b"="))
    return 8 * len(key)


def cluster_key(secret: bytes | str) -> bytes:
    """The HMAC key of ``secret``: stripped of surrounding ASCII whitespace, checked strong.

    Raises :class:`WeakSecret` (a :class:`ValueError`) saying which rule the
    secret breaks and how to make a good one; the message never contains the secret.
    """
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    key = raw.strip()
    if not key:
        raise WeakSecret(f"the cluster secret is empty; {HOW_TO_MAKE}")
    bits = secret_bits(key)
    if bits < MIN_SECRET_BITS:
        raise WeakSecret(
            f"the cluster secret is too weak: {len(key)} bytes hold at most {bits} bits, "
            f"{MIN_SECRET_BITS} are needed (32 hex digits, 22 base64 characters or "
            f"16 bytes); {HOW_TO_MAKE}"
        )
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_BYTES:
        raise WeakSecret(
            f"the cluster secret is too weak: it uses only {distinct} different "
            f"characters (a repeated pattern), {MIN_DISTINCT_BYTES} are needed; {HOW_TO_MAKE}"
        )
    return key


def generate_secret() -> bytes:
    """A fresh random secret: 256 bits from the OS's CSPRNG as 64 hex digits and a newline."""
    return secrets.token_hex(32).encode() + b"\n"
