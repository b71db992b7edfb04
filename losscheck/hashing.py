"""BLAKE2b, the one hash losscheck keys and checks its caches with, without importing ``hashlib``.

``import hashlib`` loads OpenSSL's ``_hashlib`` first, whatever hash is asked for: ~5 ms of a
0.2 s lint of one file, on every run. CPython builds BLAKE2 in (``_blake2``), and ``hashlib``'s
own ``blake2b`` is that same type. (SHA-256 through OpenSSL hashes faster, ~1.6x on this
package's 1.5 MB of code, but that is ~0.6 ms against the import's ~5.)
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

__all__ = ["blake2b"]
