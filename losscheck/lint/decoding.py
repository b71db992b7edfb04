"""Decoding a Python source file's bytes the way Python does (a module of its own: the reporters
and the cache paths need it without importing the engine, and with it libcst)."""

from __future__ import annotations

import io
import tokenize


def decode(data: bytes) -> str:
    """Decode like Python does (BOM, PEP 263 coding line, else UTF-8). Raises ValueError."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from exc
