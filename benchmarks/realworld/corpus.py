"""Shared helpers for the real-world loss corpus: the manifest, the cache folder, the file layout.

The manifest (``manifest.json`` next to this file) lists loss and metric functions in public
repositories, each pinned to a commit, with the classes of mistakes it contains (an empty list
for clean code). No third-party code is stored in this repository: ``fetch.py`` copies the
pinned files into a cache folder outside it, and ``score.py`` lints them there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"

#: Bug classes used in the manifest's ``labels``, and the losscheck codes that count as finding
#: each of them.
CLASS_CODES: dict[str, tuple[str, ...]] = {
    "batch-reduction": ("LCK101",),
    "wrong-axis": ("LCK102",),
    # integer indexing of y_true/y_pred on axis 0 is reported by LCK102, the other forms by LCK103
    "output-indexing": ("LCK103", "LCK102"),
    "masked-mean": ("LCK104",),
    "mask-from-prediction": ("LCK105",),
    "numpy-in-loss": ("LCK201",),
    "undefined-name": ("LCK301",),
    "shape-mismatch": ("LCK401",),
    "from-logits": ("LCK106",),
}

#: Codes that say the file could not be checked at all (not a finding about the code).
TOOL_CODES = ("LCK997", "LCK998", "LCK999")


def load_manifest(path: Path = MANIFEST) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    items = data["items"] if isinstance(data, dict) else data
    unknown = sorted({lab for it in items for lab in it["labels"]} - set(CLASS_CODES))
    if unknown:
        raise SystemExit(f"{path}: unknown labels {unknown}")
    return items


def default_cache_dir() -> Path:
    """``$LOSSCHECK_CORPUS_DIR``, else the per-user cache folder (platformdirs' rules)."""
    env = os.environ.get("LOSSCHECK_CORPUS_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs  # type: ignore[import-not-found]

        return Path(platformdirs.user_cache_dir("losscheck-corpus", appauthor=False))
    except ImportError:
        pass
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "losscheck-corpus"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "losscheck-corpus" / "Cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "losscheck-corpus"


def cached_file(cache: Path, item: dict) -> Path:
    """Where an item's source file lives in the cache: ``files/<owner>+<name>/<commit>/<path>``."""
    return cache / "files" / item["repo"].replace("/", "+") / item["commit"] / item["path"]


def check_cache_location(cache: Path) -> None:
    """Refuse a cache folder inside this git checkout: third-party code must stay out of it."""
    repo_root = HERE.parent.parent
    try:
        cache.resolve().relative_to(repo_root)
    except ValueError:
        return
    raise SystemExit(
        f"cache folder {cache} is inside the repository ({repo_root}); "
        "choose one outside it (--cache or $LOSSCHECK_CORPUS_DIR)"
    )
