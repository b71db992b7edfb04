"""libcst's parser without node validation: the one way losscheck turns source into a tree.

Every libcst node checks its fields when it is built (``CSTNode.__post_init__`` calls
``_validate``): a guard against trees put together by hand, such as an ``If`` without a body.
The parser only builds valid trees, and for it those checks are pure cost: about a sixth of
parsing (measured on the 64 files of the installed Keras that the pre-filter passes, 2 MB:
4.6 s with, 3.8 s without), and parsing is most of a cold run; libcst's own comment there
says as much. So while the parser runs the checks are off. Trees built by hand (fixes) are still checked: the switch is back on when the
parser returns, and a thread that builds nodes meanwhile only skips checks that a correct
program never fails.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

_lock = threading.Lock()
_parsing = 0  # parsers running now, in every thread
_checked: object = None  # libcst's own CSTNode.__post_init__, while it is switched off


def parse_module(source: str) -> cst.Module:
    """``libcst.parse_module(source)``, with node validation off while it runs."""
    import libcst as cst
    from libcst._nodes.base import CSTNode

    global _parsing, _checked
    with _lock:
        _parsing += 1
        if _parsing == 1:
            _checked = CSTNode.__dict__["__post_init__"]
            CSTNode.__post_init__ = _unchecked  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        with _lock:
            _parsing -= 1
            if _parsing == 0:
                CSTNode.__post_init__ = _checked  # type: ignore[method-assign]


def _unchecked(self: object) -> None:
    return None
