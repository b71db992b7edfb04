"""Score losscheck on the real-world loss corpus.

Runs ``losscheck lint --format json`` on the files that ``fetch.py`` put in the cache and maps
every finding to the manifest's items by line range (a finding belongs to the innermost item
whose ``lines`` contain it; findings outside every item are ignored):

- a buggy item's class is *hit* when a finding inside the item has one of the codes mapped to
  that class (``corpus.CLASS_CODES``); recall per class = hits / items with that class;
- an item-level hit is a buggy item with at least one of its classes hit;
- any finding inside a clean item is a false positive (the item counts once);
- findings on buggy items whose code matches none of its classes are counted as "other".

The Keras target comes from each repository's dependency pins, which ``fetch.py`` puts next to
the files (a user linting inside that repository sees the same); no other configuration is
read (``--config`` points at an empty ``[tool.losscheck]`` table written to the cache folder).
``--no-pins`` runs with ``--isolated`` instead: no pins, the target from each file's imports.

Usage::

    python benchmarks/realworld/score.py             # table
    python benchmarks/realworld/score.py --verbose   # plus one line per item
    python benchmarks/realworld/score.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import (
    CLASS_CODES,
    MANIFEST,
    TOOL_CODES,
    cached_file,
    default_cache_dir,
    load_manifest,
)


def losscheck_command(explicit: str | None) -> list[str]:
    if explicit:
        return explicit.split()
    exe = shutil.which("losscheck")
    if exe:
        return [exe]
    return [sys.executable, "-m", "losscheck"]


def settings_arguments(cache: Path, pins: bool) -> list[str]:
    """``--isolated`` (no project file at all), or an empty config in the cache folder so that
    the pins next to the files are read and nothing else is."""
    if not pins:
        return ["--isolated"]
    config = cache / "pyproject.toml"
    config.write_text("# written by score.py: losscheck's defaults\n[tool.losscheck]\n", encoding="utf-8")
    return ["--config", str(config)]


def run_losscheck(cmd: list[str], files: list[Path], jobs: int, settings: list[str]) -> list[dict]:
    """All findings for ``files`` (absolute paths), in losscheck's JSON format."""
    findings: list[dict] = []
    # a few hundred paths per call keeps the command line short on every platform
    for i in range(0, len(files), 200):
        chunk = files[i : i + 200]
        proc = subprocess.run(
            [*cmd, "lint", "--format", "json", *settings, "--no-cache", "--exit-zero",
             "--jobs", str(jobs), *map(str, chunk)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"losscheck exited with {proc.returncode}")
        out = proc.stdout.strip()
        findings.extend(json.loads(out) if out else [])
    return findings


def assign(items: list[dict], cache: Path, findings: list[dict]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Findings per item id (innermost item containing the line), and the tool-failure findings."""
    by_file: dict[Path, list[dict]] = defaultdict(list)
    for it in items:
        by_file[cached_file(cache, it).resolve()].append(it)
    per_item: dict[str, list[dict]] = defaultdict(list)
    tool_failures: list[dict] = []
    for f in findings:
        path = Path(f["path"])
        if not path.is_absolute():
            path = Path.cwd() / path
        its = by_file.get(path.resolve(), [])
        if f["code"] in TOOL_CODES:
            f = dict(f, items=[it["id"] for it in its])
            tool_failures.append(f)
            continue
        inside = [it for it in its if it["lines"][0] <= f["line"] <= it["lines"][1]]
        if inside:
            best = min(inside, key=lambda it: it["lines"][1] - it["lines"][0])
            per_item[best["id"]].append(f)
    return per_item, tool_failures


def score(items: list[dict], per_item: dict[str, list[dict]]) -> dict:
    classes = {c: {"items": 0, "hits": 0} for c in CLASS_CODES}
    rows = []
    buggy = buggy_hit = clean = clean_fp = other = 0
    for it in items:
        found = per_item.get(it["id"], [])
        codes = sorted({f["code"] for f in found})
        hit_classes = [lab for lab in it["labels"] if set(CLASS_CODES[lab]) & set(codes)]
        wanted = {c for lab in it["labels"] for c in CLASS_CODES[lab]}
        others = sorted(set(codes) - wanted)
        for lab in it["labels"]:
            classes[lab]["items"] += 1
            classes[lab]["hits"] += lab in hit_classes
        if it["labels"]:
            buggy += 1
            buggy_hit += bool(hit_classes)
            other += bool(others)
            status = "hit" if len(hit_classes) == len(it["labels"]) else ("partial" if hit_classes else "miss")
        else:
            clean += 1
            clean_fp += bool(found)
            status = "FP" if found else "ok"
        rows.append({
            "id": it["id"],
            "labels": it["labels"],
            "status": status,
            "hit": hit_classes,
            "findings": [f"{f['code']}@{f['line']}" for f in sorted(found, key=lambda f: (f["line"], f["code"]))],
            "other_codes": others if it["labels"] else codes,
        })
    fp_codes: dict[str, int] = defaultdict(int)
    for it in items:
        if not it["labels"]:
            for code in {f["code"] for f in per_item.get(it["id"], [])}:
                fp_codes[code] += 1
    label_total = sum(v["items"] for v in classes.values())
    label_hits = sum(v["hits"] for v in classes.values())
    return {
        "classes": classes,
        "labels": {"total": label_total, "hits": label_hits},
        "buggy": {"items": buggy, "hit": buggy_hit, "with_other_codes": other},
        "clean": {"items": clean, "false_positive": clean_fp, "by_code": dict(sorted(fp_codes.items()))},
        "rows": rows,
    }


def pct(num: int, den: int) -> str:
    return f"{100.0 * num / den:5.1f}%" if den else "   n/a"


def print_table(res: dict, tool_failures: list[dict], verbose: bool) -> None:
    print(f"{'class':<22} {'codes':<15} {'buggy':>5} {'hits':>5} {'recall':>7}")
    print("-" * 58)
    for cls, v in res["classes"].items():
        codes = ",".join(CLASS_CODES[cls]) or "(no rule)"
        print(f"{cls:<22} {codes:<15} {v['items']:>5} {v['hits']:>5} {pct(v['hits'], v['items']):>7}")
    print("-" * 58)
    lab = res["labels"]
    print(f"{'all labels':<22} {'':<15} {lab['total']:>5} {lab['hits']:>5} {pct(lab['hits'], lab['total']):>7}")
    b = res["buggy"]
    print(f"{'buggy items (any hit)':<22} {'':<15} {b['items']:>5} {b['hit']:>5} {pct(b['hit'], b['items']):>7}")
    c = res["clean"]
    print()
    print(f"clean items: {c['items']}, with a finding (false positives): {c['false_positive']} "
          f"({pct(c['false_positive'], c['items']).strip()})")
    if c["by_code"]:
        print("  clean items with a finding, by code: " + ", ".join(f"{k} {v}" for k, v in c["by_code"].items()))
    print(f"buggy items that also have findings of an unrelated code: {b['with_other_codes']}")
    if tool_failures:
        print(f"files losscheck could not check: {len(tool_failures)}")
        for f in tool_failures:
            print(f"  {f['code']} {f['path']}: {f.get('message', '')[:100]}")
    if verbose:
        print()
        width = max(len(r["id"]) for r in res["rows"])
        for r in res["rows"]:
            labels = ",".join(r["labels"]) or "clean"
            found = " ".join(r["findings"]) or "-"
            print(f"{r['status']:<7} {r['id']:<{width}}  [{labels}]  {found}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--cache", type=Path, default=None, help="cache folder used by fetch.py")
    ap.add_argument("--losscheck", default=os.environ.get("LOSSCHECK"), help="command to run losscheck (default: losscheck on PATH, else python -m losscheck)")
    ap.add_argument("--jobs", type=int, default=1, help="losscheck worker processes (default 1)")
    ap.add_argument("--no-pins", action="store_true", help="ignore the dependency pins (--isolated)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every item")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args(argv)

    cache = (args.cache or default_cache_dir()).expanduser()
    items = load_manifest(args.manifest)
    files = sorted({cached_file(cache, it).resolve() for it in items})
    missing = [f for f in files if not f.is_file()]
    if missing:
        print(f"{len(missing)} of {len(files)} files are not in {cache}; run fetch.py first", file=sys.stderr)
        return 2

    settings = settings_arguments(cache, pins=not args.no_pins)
    findings = run_losscheck(losscheck_command(args.losscheck), files, args.jobs, settings)
    per_item, tool_failures = assign(items, cache, findings)
    res = score(items, per_item)
    print(f"{len(items)} items ({res['buggy']['items']} buggy, {res['clean']['items']} clean) "
          f"from {len({it['repo'] for it in items})} repositories, {len(files)} files")
    print()
    print_table(res, tool_failures, args.verbose)
    if args.json:
        res["tool_failures"] = tool_failures
        args.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
