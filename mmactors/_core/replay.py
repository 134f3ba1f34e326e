"""Compact replay tokens.

A token is ``v2`` followed by a URL-safe base64 string of zlib-compressed
unsigned varints: the seed, a short hash of the scenario and options the run
was made from (its *digest*, 0 when unknown), a strategy code, the strategy's
parameters and, for strategies whose choices cannot be regenerated from the
seed (Hypothesis, explicit lists), the sparse list of non-zero choices as
(gap, choice) pairs.  Everything a run decides comes from these numbers, so
the token reproduces the schedule exactly; the digest lets a replay refuse a
token made for another scenario instead of running something else.  ``v1``
tokens (no digest) still decode.
"""
from __future__ import annotations

import base64
import string
import zlib

__all__ = ["encode_token", "decode_token", "TokenError"]


class TokenError(ValueError):
    pass


_B64 = set(string.ascii_letters + string.digits + "-_")


def _varints(nums):
    out = bytearray()
    for n in nums:
        if n < 0:
            raise ValueError("varints are unsigned")
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out.append(b | 0x80)
            else:
                out.append(b)
                break
    return bytes(out)


def _unvarints(data):
    nums, n, shift = [], 0, 0
    for b in data:
        n |= (b & 0x7F) << shift
        if b & 0x80:
            shift += 7
        else:
            nums.append(n)
            n, shift = 0, 0
    if shift:
        raise TokenError("truncated token")
    return nums


def encode_token(seed: int, fields: list[int], digest: int = 0) -> str:
    """``fields`` = [strategy code, params...] as the strategy defines them;
    ``digest``: the scenario's short hash (0: unknown)."""
    seed_u = seed * 2 if seed >= 0 else -seed * 2 - 1      # zigzag: seeds may be negative
    raw = _varints([seed_u, digest, *fields])
    z = zlib.compress(raw, 9)
    body = z if len(z) < len(raw) + 1 else raw
    flag = b"z" if body is z else b"r"
    return "v2" + base64.urlsafe_b64encode(flag + body).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, list[int], int]:
    """(seed, strategy fields, digest) of a token; TokenError if it is not one."""
    version = token[:2]
    if version not in ("v1", "v2"):
        raise TokenError(f"not a replay token (expected 'v2...'): {token!r}")
    body = token[2:]
    nums = None
    if body and len(body) % 4 != 1 and set(body) <= _B64:
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            flag, data = raw[:1], raw[1:]
            if flag == b"z":
                data = zlib.decompress(data)
            if flag in (b"z", b"r"):
                nums = _unvarints(data)
        except (ValueError, zlib.error):
            nums = None
    if not nums or (version == "v2" and len(nums) < 2):
        raise TokenError(f"corrupt replay token {token!r} (copy it whole from the run's output)")
    s = nums[0]
    seed = s // 2 if s % 2 == 0 else -(s + 1) // 2
    if version == "v1":
        return seed, nums[1:], 0
    return seed, nums[2:], nums[1]
