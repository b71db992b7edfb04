"""Materialize the source files of the real-world loss corpus into a cache folder.

Every manifest item names a repository, a commit and a path. This script copies each such file
once into ``<cache>/files/<owner>+<name>/<commit>/<path>``, outside this repository:

- by default from ``https://raw.githubusercontent.com/<repo>/<commit>/<path>``;
- with ``--mirror DIR``, from local git mirrors instead (``git --git-dir=... show COMMIT:PATH``),
  looked up as ``DIR/<owner>+<name>`` (a bare repository, or one holding ``repo/`` or ``.git/``)
  or ``DIR/<owner>/<name>``.

It then checks that each item's ``lines`` range fits in the file and starts at the named
function. Files already in the cache are not fetched again (``--force`` refetches).

Usage::

    python benchmarks/realworld/fetch.py --mirror /work/.mirror
    python benchmarks/realworld/fetch.py                      # from GitHub
    python benchmarks/realworld/fetch.py --cache /tmp/corpus  # or set $LOSSCHECK_CORPUS_DIR
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import MANIFEST, cached_file, check_cache_location, default_cache_dir, load_manifest  # noqa: E402

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def mirror_git_dir(mirror: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    for base in (mirror / f"{owner}+{name}", mirror / owner / name):
        for cand in (base / "repo" / ".git", base / "repo", base / ".git", base):
            if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
                return cand
    return None


def from_mirror(mirror: Path, repo: str, commit: str, path: str) -> bytes:
    git_dir = mirror_git_dir(mirror, repo)
    if git_dir is None:
        raise LookupError(f"no git mirror of {repo} under {mirror}")
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LookupError(f"git show {commit}:{path} in {git_dir}: {msg[-1] if msg else proc.returncode}")
    return proc.stdout


def from_github(repo: str, commit: str, path: str, retries: int = 3) -> bytes:
    url = RAW_URL.format(repo=repo, commit=commit, path=urllib.request.quote(path))
    last: Exception | None = None
    for attempt in range(retries):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "losscheck-corpus-fetch"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise LookupError(f"{url}: 404") from exc
            last = exc
        except (urllib.error.URLError, TimeoutError) as exc:
            last = exc
        time.sleep(1 + 2 * attempt)
    raise LookupError(f"{url}: {last}")


def check_item(item: dict, text: str) -> str | None:
    """None if the item's lines fit the file and start at its function, else the problem."""
    lines = text.splitlines()
    start, end = item["lines"]
    if not 1 <= start <= end <= len(lines):
        return f"lines {start}-{end} outside the file ({len(lines)} lines)"
    name = item["function"].rsplit(".", 1)[-1]
    head = "\n".join(lines[start - 1 : min(end, start + 20)])
    if not re.search(rf"\bdef\s+{re.escape(name)}\s*\(", head):
        return f"line {start} does not start `def {name}(` (nor do its decorators)"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--cache", type=Path, default=None, help="cache folder (default: $LOSSCHECK_CORPUS_DIR or the user cache dir)")
    ap.add_argument("--mirror", type=Path, default=None, help="read from local git mirrors in DIR instead of GitHub")
    ap.add_argument("--force", action="store_true", help="fetch files again even if cached")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)

    cache = (args.cache or default_cache_dir()).expanduser()
    check_cache_location(cache)
    items = load_manifest(args.manifest)

    by_file: dict[Path, list[dict]] = {}
    for it in items:
        by_file.setdefault(cached_file(cache, it), []).append(it)

    fetched = cached = 0
    failures: list[str] = []
    for dest, its in sorted(by_file.items()):
        it0 = its[0]
        if args.force or not dest.is_file():
            try:
                if args.mirror is not None:
                    data = from_mirror(args.mirror, it0["repo"], it0["commit"], it0["path"])
                else:
                    data = from_github(it0["repo"], it0["commit"], it0["path"])
            except LookupError as exc:
                failures.append(f"{it0['repo']}@{it0['commit'][:10]}:{it0['path']}: {exc}")
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(dest)
            fetched += 1
        else:
            cached += 1
        text = dest.read_bytes().decode("utf-8", "replace")
        for it in its:
            problem = check_item(it, text)
            if problem:
                failures.append(f"{it['id']}: {problem}")

    if not args.quiet:
        print(f"{len(items)} items in {len(by_file)} files: {fetched} fetched, {cached} already cached, in {cache}")
    for line in failures:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
