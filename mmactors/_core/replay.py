"""Compact replay tokens.

A token is ``v1`` followed by a URL-safe base64 string of zlib-compressed
unsigned varints: the seed, a strategy code, the strategy's parameters and,
for strategies whose choices cannot be regenerated from the seed (Hypothesis,
explicit lists), the sparse list of non-zero choices as (gap, choice) pairs.
Everything a run decides comes from these numbers, so the token reproduces
the schedule exactly (given the same scenario).
"""
from __future__ import annotations

import base64
import zlib

__all__ = ["encode_token", "decode_token", "TokenError"]


class TokenError(ValueError):
    pass


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


def encode_token(seed: int, fields: list[int]) -> str:
    """``fields`` = [strategy code, params...] as the strategy defines them."""
    seed_u = seed * 2 if seed >= 0 else -seed * 2 - 1      # zigzag: seeds may be negative
    raw = _varints([seed_u, *fields])
    z = zlib.compress(raw, 9)
    body = z if len(z) < len(raw) + 1 else raw
    flag = b"z" if body is z else b"r"
    return "v1" + base64.urlsafe_b64encode(flag + body).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, list[int]]:
    if not token.startswith("v1"):
        raise TokenError(f"not a replay token (expected 'v1...'): {token!r}")
    body = token[2:]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        flag, data = raw[:1], raw[1:]
        if flag == b"z":
            data = zlib.decompress(data)
        elif flag != b"r":
            raise TokenError("bad token flag")
        nums = _unvarints(data)
    except (ValueError, zlib.error) as e:
        raise TokenError(f"corrupt replay token: {e}") from None
    if not nums:
        raise TokenError("empty replay token")
    s = nums[0]
    seed = s // 2 if s % 2 == 0 else -(s + 1) // 2
    return seed, nums[1:]
