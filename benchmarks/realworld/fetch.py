"""Materialize the source files of the real-world loss corpus into a cache folder.

Every manifest item names a repository, a commit and a path. This script copies each such file
once into ``<cache>/files/<owner>+<name>/<commit>/<path>``, outside this repository:

- by default from ``https://raw.githubusercontent.com/<repo>/<commit>/<path>``;
- with ``--mirror DIR``, from local git mirrors instead (``git --git-dir=... show COMMIT:PATH``),
  looked up as ``DIR/<owner>+<name>`` (a bare repository, or one holding ``repo/`` or ``.git/``)
  or ``DIR/<owner>/<name>``.

It then checks that each item's ``lines`` range fits in the file and starts at the named
function. Files already in the cache are not fetched again (``--force`` refetches).

Next to the items' files it also puts the repository's dependency-pin files (the ones
``losscheck/lint/keras_pins.py`` reads: ``requirements*.txt``, ``requirements/*.txt`` and the
files they include with ``-r``/``-c``, ``setup.py``, ``setup.cfg``, ``pyproject.toml``,
``environment.yml``/``.yaml``, ``Pipfile``) found in each item file's folder and every folder
above it up to the repository root, at the same relative paths, and an empty ``.git`` folder
at the root so that the upward search for pins stops there as it does in a checkout, and the
repository's other ``.py`` and ``.ipynb`` files, which losscheck reads for the project's Keras
evidence when the pins do not decide. The ``.git`` folder is a git repository with one empty
commit dated like the pinned commit (committer date), which is what losscheck reads of a
checkout's history (``losscheck/lint/keras_history.py``). Linting the cache then sees the Keras
target a user of that repository would see. ``--no-pins`` skips this step, ``--no-project``
the other sources, ``--no-history`` the dated commit. From GitHub the repository's file list comes from the git trees API (when that is
refused, the fixed file names are tried in each folder).

Usage::

    python benchmarks/realworld/fetch.py --mirror /work/.mirror
    python benchmarks/realworld/fetch.py                      # from GitHub
    python benchmarks/realworld/fetch.py --cache /tmp/corpus  # or set $LOSSCHECK_CORPUS_DIR
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import (
    MANIFEST,
    cached_file,
    check_cache_location,
    default_cache_dir,
    load_manifest,
)

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
TREE_URL = "https://api.github.com/repos/{repo}/git/trees/{commit}?recursive=1"

#: Dependency files read by losscheck's Keras-target detection, besides ``requirements*.txt``
#: (and ``*.txt`` inside a ``requirements/`` folder).
PIN_FILE_NAMES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "environment.yml", "environment.yaml")
#: Records, in a repository's cached root, which pin files were fetched (also marks it done).
PIN_RECORD = ".git/losscheck-pin-files"
#: Records which project sources were fetched (also marks it done).
PROJECT_RECORD = ".git/losscheck-project-files"
TARBALL_URL = "https://codeload.github.com/{repo}/tar.gz/{commit}"
_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", re.MULTILINE)


def write_file(dest: Path, data: bytes) -> None:
    """Write ``dest`` whole or not at all (a ``.part`` file renamed over it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(dest)


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
    return _get(RAW_URL.format(repo=repo, commit=commit, path=urllib.request.quote(path)), retries)


def _get(url: str, retries: int = 3) -> bytes:
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


def ancestor_folders(path: str) -> list[str]:
    """The folders from the repository root ("") down to the one holding ``path``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts) + 1)]


def is_pin_file(path: str) -> bool:
    folder, name = posixpath.split(path)
    if name in PIN_FILE_NAMES:
        return True
    return name.endswith(".txt") and (name.startswith("requirements") or posixpath.basename(folder) == "requirements")


def pin_files(tree: set[str], item_paths: set[str]) -> set[str]:
    """The pin files in ``tree`` that losscheck reads for any of ``item_paths``: those in an item's
    folder or a folder above it (``requirements/*.txt`` in such a folder included)."""
    folders = {f for p in item_paths for f in ancestor_folders(p)}
    chosen = set()
    for path in tree:
        if not is_pin_file(path):
            continue
        folder = posixpath.dirname(path)
        if folder in folders or (posixpath.basename(folder) == "requirements" and posixpath.dirname(folder) in folders):
            chosen.add(path)
    return chosen


def included_files(path: str, data: bytes) -> list[str]:
    """Repository paths a requirements file includes with ``-r``/``-c`` (relative to its folder)."""
    if not path.endswith(".txt"):
        return []
    found = []
    for target in _INCLUDE.findall(data.decode("utf-8", "replace")):
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if not joined.startswith("../") and joined != "..":
            found.append(joined)
    return found


def mirror_tree(mirror: Path, repo: str, commit: str) -> set[str]:
    """Paths of the regular files at ``commit`` (symlinks and submodules left out)."""
    git_dir = mirror_git_dir(mirror, repo)
    if git_dir is None:
        raise LookupError(f"no git mirror of {repo} under {mirror}")
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise LookupError(f"git ls-tree {commit} in {git_dir}: {proc.stderr.decode('utf-8', 'replace').strip()}")
    paths = set()
    for entry in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        if meta.split()[0] in ("100644", "100755"):
            paths.add(path)
    return paths


def github_tree(repo: str, commit: str, item_paths: set[str]) -> set[str]:
    """Paths at ``commit`` from the git trees API; where that is refused (rate limit), the fixed
    pin file names in every folder above the items, which are then tried one by one."""
    try:
        data = json.loads(_get(TREE_URL.format(repo=repo, commit=commit), retries=1))
        if not data.get("truncated"):
            return {e["path"] for e in data.get("tree", []) if e.get("type") == "blob" and e.get("mode") in ("100644", "100755")}
    except (LookupError, ValueError):
        pass
    names = (*PIN_FILE_NAMES, "requirements.txt")
    return {posixpath.join(f, n) for p in item_paths for f in ancestor_folders(p) for n in names}


def fetch_pins(cache_root: Path, repo: str, commit: str, item_paths: set[str], mirror: Path | None, force: bool) -> int:
    """Put the repository's pin files for ``item_paths`` under ``cache_root`` (the cached
    repository root at ``commit``); the number of files written."""
    record = cache_root / PIN_RECORD
    if record.is_file() and not force:
        return 0
    tree = mirror_tree(mirror, repo, commit) if mirror is not None else github_tree(repo, commit, item_paths)
    todo = sorted(pin_files(tree, item_paths))
    done: dict[str, bytes] = {}
    while todo:
        path = todo.pop()
        if path in done or path in item_paths:
            continue
        try:
            data = from_mirror(mirror, repo, commit, path) if mirror is not None else from_github(repo, commit, path)
        except LookupError:
            if mirror is not None:
                raise
            continue  # a guessed name that the repository does not have
        done[path] = data
        todo += [p for p in included_files(path, data) if p not in done and (mirror is None or p in tree)]
    for path, data in done.items():
        write_file(cache_root / path, data)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("".join(f"{p}\n" for p in sorted(done)), encoding="utf-8")
    return len(done)


COMMIT_URL = "https://api.github.com/repos/{repo}/commits/{commit}"


def commit_date(repo: str, commit: str, mirror: Path | None) -> str:
    """The pinned commit's committer date (ISO 8601)."""
    if mirror is not None:
        git_dir = mirror_git_dir(mirror, repo)
        if git_dir is None:
            raise LookupError(f"no mirror of {repo} in {mirror}")
        proc = subprocess.run(["git", f"--git-dir={git_dir}", "log", "-1", "--no-walk", "--format=%cI", commit],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise LookupError(f"git log {commit} in {git_dir}: {proc.stderr.strip()}")
        return proc.stdout.strip()
    data = json.loads(_get(COMMIT_URL.format(repo=repo, commit=commit)))
    return data["commit"]["committer"]["date"]


def date_history(cache_root: Path, repo: str, commit: str, mirror: Path | None) -> bool:
    """Make ``cache_root/.git`` a repository whose one (empty) commit has the pinned commit's
    committer date, unless it is one already; True when it was made."""
    if (cache_root / ".git" / "HEAD").is_file():
        return False
    when = commit_date(repo, commit, mirror)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when, GIT_AUTHOR_NAME="corpus",
               GIT_AUTHOR_EMAIL="corpus@localhost", GIT_COMMITTER_NAME="corpus", GIT_COMMITTER_EMAIL="corpus@localhost")
    git = ["git", "-C", str(cache_root), "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", f"{repo}@{commit}"]):
        proc = subprocess.run([*git, *command], capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise LookupError(f"git {command[0]} in {cache_root}: {proc.stderr.strip()}")
    return True


def is_project_source(path: str) -> bool:
    """A file losscheck reads for a project's Keras evidence (``losscheck/lint/keras_project.py``)."""
    return path.endswith((".py", ".ipynb")) and not any(part.startswith(".") for part in path.split("/"))


def fetch_project_sources(cache_root: Path, repo: str, commit: str, mirror: Path | None, force: bool) -> int:
    """Put every ``.py``/``.ipynb`` file of the repository at ``commit`` under ``cache_root``, as
    in the user's checkout (losscheck reads the rest of a project to decide its Keras target);
    the number of files written. From a mirror with one ``git cat-file --batch``; from GitHub with
    the commit's tarball."""
    record = cache_root / PROJECT_RECORD
    if record.is_file() and not force:
        return 0
    if mirror is not None:
        contents = _mirror_sources(mirror, repo, commit)
    else:
        contents = _github_sources(repo, commit)
    written = 0
    for path, data in contents.items():
        dest = cache_root / path
        if dest.is_file() and not force:
            continue
        write_file(dest, data)
        written += 1
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("".join(f"{p}\n" for p in sorted(contents)), encoding="utf-8")
    return written


def _mirror_sources(mirror: Path, repo: str, commit: str) -> dict[str, bytes]:
    git_dir = mirror_git_dir(mirror, repo)
    paths = sorted(p for p in mirror_tree(mirror, repo, commit) if is_project_source(p))
    request = "".join(f"{commit}:{p}\n" for p in paths).encode("utf-8", "surrogateescape")
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"], input=request, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise LookupError(f"git cat-file in {git_dir}: {proc.stderr.decode('utf-8', 'replace').strip()}")
    out, pos, contents = proc.stdout, 0, {}
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3:  # "<object> missing"
            continue
        size = int(header[2])
        contents[path] = out[pos : pos + size]
        pos += size + 1
    return contents


def _github_sources(repo: str, commit: str) -> dict[str, bytes]:
    import io
    import tarfile

    data = _get(TARBALL_URL.format(repo=repo, commit=commit))
    contents = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            path = member.name.split("/", 1)[-1]  # the archive's top folder is <name>-<commit>
            if is_project_source(path):
                extracted = tar.extractfile(member)
                if extracted is not None:
                    contents[path] = extracted.read()
    return contents


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
    ap.add_argument("--no-pins", action="store_true", help="do not fetch the repositories' dependency-pin files")
    ap.add_argument("--no-project", action="store_true", help="do not fetch the repositories' other .py/.ipynb files")
    ap.add_argument("--no-history", action="store_true", help="do not date the cached repositories like their commits")
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
            write_file(dest, data)
            fetched += 1
        else:
            cached += 1
        text = dest.read_bytes().decode("utf-8", "replace")
        for it in its:
            problem = check_item(it, text)
            if problem:
                failures.append(f"{it['id']}: {problem}")

    pin_count = project_count = dated = 0
    if not args.no_pins:
        by_repo: dict[tuple[str, str], set[str]] = {}
        for it in items:
            by_repo.setdefault((it["repo"], it["commit"]), set()).add(it["path"])
        for (repo, commit), paths in sorted(by_repo.items()):
            root = cache / "files" / repo.replace("/", "+") / commit
            try:
                pin_count += fetch_pins(root, repo, commit, paths, args.mirror, args.force)
            except LookupError as exc:
                failures.append(f"{repo}@{commit[:10]} dependency files: {exc}")
            if not args.no_project:
                try:
                    project_count += fetch_project_sources(root, repo, commit, args.mirror, args.force)
                except LookupError as exc:
                    failures.append(f"{repo}@{commit[:10]} project sources: {exc}")
            if not args.no_history:
                try:
                    dated += date_history(root, repo, commit, args.mirror)
                except (LookupError, OSError, ValueError, KeyError) as exc:
                    failures.append(f"{repo}@{commit[:10]} history: {exc}")

    if not args.quiet:
        print(f"{len(items)} items in {len(by_file)} files: {fetched} fetched, {cached} already cached, in {cache}")
        if not args.no_pins:
            print(f"dependency-pin files: {pin_count} fetched")
        if not args.no_pins and not args.no_project:
            print(f"other project sources (.py, .ipynb): {project_count} fetched")
        if not args.no_pins and not args.no_history:
            print(f"repositories dated like their commits: {dated} made")
    for line in failures:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
