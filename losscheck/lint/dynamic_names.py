"""Does a file create module names that no static reader can see?

Read from the text alone (no libcst), so the chunked path can ask it of a whole file before
any piece is parsed, and ``undefined-name`` asks it of the file it checks: both then agree.
"""

from __future__ import annotations

import re

# Code that creates or rebinds module names in ways a static reader cannot follow; where a file
# holds any, no name can be called undefined.
_DYNAMIC_NAMES = re.compile(
    r"\b(?:globals|exec|execfile|get_ipython)\s*\("
    r"|__builtins__|\bimport\s+builtins\b|\bfrom\s+builtins\s+import\b|sys\.modules\s*\[\s*__name__\s*\]"
    r"|\b__getattr__\b"
)


# Every match of the pattern holds one of these: most files hold none, and ``in`` finds that at
# memchr speed (the pattern, which starts with no literal, takes 80 ms per MB).
_LITERALS = ("globals", "exec", "get_ipython", "builtins", "sys", "__getattr__")


def creates_names_dynamically(source: str) -> bool:
    """Whether ``source`` (a whole file) may create names the scope index cannot see."""
    return any(literal in source for literal in _LITERALS) and _DYNAMIC_NAMES.search(source) is not None
