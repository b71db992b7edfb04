"""Check ``losscheck migrate`` on the real Keras 2 loss functions of the corpus, by running them.

For every corpus item whose function calls Keras 2's backend (``K.mean``... through
``keras.backend`` or ``tf.keras.backend``), the materialized file (``fetch.py``) is migrated into
a scratch folder with ``losscheck.migrate``. Both versions are then imported and the function is
called on the same random float32 inputs (``y_true`` of zeros and ones, ``y_pred`` in (0.05,
0.95)), of shape (4, 8), else (4, 8, 8, 3): the original on tf-keras (``TF_USE_LEGACY_KERAS=1``,
``import keras`` served by ``tf_keras``), the migrated one on Keras 3 (TensorFlow backend), each
in its own subprocess. Values must agree to 1e-5 relative.

Only the file's imports, functions, classes and call-free assignments are executed (no training
scripts run at import); an import that fails is skipped, and a function that needs it fails
when called. Results: migrated and equal, migrated but different (why), not migratable (what
migrate left in the function, and why), and not run (why: another signature, a factory or class
that needs arguments, neither shape fits, the original fails on tf-keras). A method is called on
an instance made without arguments, a function nested in a factory on what the factory returns
when called without arguments.

Usage::

    python benchmarks/realworld/fetch.py --mirror /work/.mirror
    python benchmarks/realworld/migrate_check.py [--unsafe-fixes] [--verbose] [--json FILE]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from corpus import cached_file, check_cache_location, default_cache_dir, load_manifest

from losscheck.lint.imports import ImportMap
from losscheck.migrate.run import MigrateError, migrate_source

BACKENDS = ("keras.backend.", "tensorflow.keras.backend.", "tensorflow.python.keras.backend.")
SHAPES = ((4, 8), (4, 8, 8, 3))
RTOL = 1e-5
CALLS_ALLOWED_AT_TOP = ("K.", "np.", "tf.", "keras.", "backend.", "ops.")

_RUNNER = textwrap.dedent(
    '''
    import importlib.util, inspect, os, pickle, sys, warnings
    warnings.filterwarnings("ignore")
    mode, out_path, jobs_path = sys.argv[1:4]
    if mode == "tf_keras":
        from losscheck.testing_tf_keras import serve_keras_from_tf_keras

        serve_keras_from_tf_keras()
    import numpy as np
    import tensorflow as tf
    import keras

    def as_array(value):
        if hasattr(value, "numpy"):
            value = value.numpy()
        return np.asarray(value, dtype="float64")

    results = {"__keras__": keras.__version__}
    with open(jobs_path) as fh:
        jobs = [line.rstrip("\\n").split("\\t") for line in fh if line.strip()]
    for key, module_path, function, shapes in jobs:
        try:
            spec = importlib.util.spec_from_file_location("m_" + key.replace("-", "_"), module_path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except BaseException as exc:
            results[key] = ("import", f"{type(exc).__name__}: {str(exc)[:160]}")
            continue
        outer, _, inner = function.partition(".")
        fn = getattr(module, outer, None)
        if fn is not None and inner:
            # Class.method: an instance made with no arguments; factory.inner: what the factory returns
            try:
                if inspect.isclass(fn):
                    fn = getattr(fn(), inner, None)
                else:
                    made = fn()
                    fn = made if callable(made) and getattr(made, "__name__", inner) == inner else None
            except BaseException as exc:
                results[key] = ("factory", f"{outer}() with no arguments: {type(exc).__name__}")
                continue
        if fn is None or not callable(fn):
            results[key] = ("missing", f"no function {function} to call")
            continue
        try:
            params = [p for p in inspect.signature(fn).parameters.values()
                      if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        if len(params) != 2:
            results[key] = ("signature", f"takes {len(params)} required arguments, not (y_true, y_pred)")
            continue
        errors = []
        for shape in [tuple(int(n) for n in s.split("x")) for s in shapes.split(",")]:
            rng = np.random.default_rng(3)
            y_true = rng.integers(0, 2, size=shape).astype("float32")
            y_pred = rng.uniform(0.05, 0.95, size=shape).astype("float32")
            try:
                if mode == "tf_keras":
                    value = fn(tf.constant(y_true), tf.constant(y_pred))
                else:
                    value = fn(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
                results[key] = ("ok", "x".join(map(str, shape)), as_array(value))
                break
            except BaseException as exc:
                errors.append(f"{shape}: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}")
        else:
            results[key] = ("error", "; ".join(errors))
    with open(out_path, "wb") as fh:
        pickle.dump(results, fh)
    '''
)


def uses_backend(source: str, item: dict) -> bool:
    """Does the item's function (its line range) call Keras 2's backend?"""
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return False
    imports = ImportMap.from_module(module)
    first, last = item["lines"]
    body = "\n".join(source.splitlines()[first - 1 : last])
    modules = tuple(p.rstrip(".") for p in BACKENDS)
    for name, target in imports.names.items():
        if target in modules and re.search(rf"\b{re.escape(name)}\.\w", body):
            return True  # K.mean
        if target.startswith(BACKENDS) and re.search(rf"\b{re.escape(name)}\(", body):
            return True  # mean(...) from `from keras.backend import mean`
    return "tf.keras.backend." in body or "keras.backend." in body


def runnable_part(source: str) -> str:
    """The file's imports (each allowed to fail), defs, classes and call-free assignments."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    kept: list[str] = []
    for node in tree.body:
        text = "".join(lines[node.lineno - 1 : node.end_lineno])
        if getattr(node, "decorator_list", None):
            first = min(d.lineno for d in node.decorator_list)  # type: ignore[attr-defined]
            text = "".join(lines[first - 1 : node.end_lineno])
        text = text.rstrip("\r\n") + "\n"  # the file's last line may have no line break
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            kept.insert(0, text)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            kept.append("try:\n" + textwrap.indent(textwrap.dedent(text), "    ") + "except Exception:\n    pass\n")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(text)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
            if all(ast.unparse(c.func).startswith(CALLS_ALLOWED_AT_TOP) for c in calls):
                kept.append("try:\n" + textwrap.indent(textwrap.dedent(text), "    ") + "except Exception:\n    pass\n")
    return "".join(kept)


def run_side(mode: str, jobs: list[tuple[str, Path, str]], scratch: Path) -> dict:
    runner = scratch / "runner.py"
    runner.write_text(_RUNNER)
    jobs_file = scratch / f"jobs-{mode}.tsv"
    shapes = ",".join("x".join(map(str, s)) for s in SHAPES)
    jobs_file.write_text("".join(f"{key}\t{path}\t{fn}\t{shapes}\n" for key, path, fn in jobs))
    out = scratch / f"results-{mode}.pkl"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": "tensorflow"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    if mode == "tf_keras":
        env["TF_USE_LEGACY_KERAS"] = "1"
    proc = subprocess.run([sys.executable, str(runner), mode, str(out), str(jobs_file)], env=env,
                          capture_output=True, text=True, timeout=1800, cwd=scratch, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the {mode} run failed: {proc.stderr[-2000:]}")
    with open(out, "rb") as fh:
        return pickle.load(fh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="the corpus cache (default: as fetch.py)")
    parser.add_argument("--manifest", type=Path, default=None, help="another manifest (default: manifest.json)")
    parser.add_argument("--unsafe-fixes", action="store_true", help="migrate with --unsafe-fixes")
    parser.add_argument("--verbose", action="store_true", help="one line per function")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    cache = args.cache or default_cache_dir()
    check_cache_location(cache)
    import numpy as np

    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="losscheck-migrate-check-") as tmp:
        scratch = Path(tmp)
        (scratch / "original").mkdir()
        (scratch / "migrated").mkdir()
        before_jobs: list[tuple[str, Path, str]] = []
        after_jobs: list[tuple[str, Path, str]] = []
        migrations: dict[Path, object] = {}
        missing = 0
        for item in load_manifest(*([args.manifest] if args.manifest else [])):
            path = cached_file(cache, item)
            if not path.is_file():
                missing += 1
                continue
            source = path.read_text(encoding="utf-8", errors="replace")
            if not uses_backend(source, item):
                continue
            key = item["id"]
            row = rows[key] = {"id": key, "function": item["function"], "path": f"{item['repo']}/{item['path']}"}
            if item["function"].count(".") > 1:
                row.update(status="not run", why="nested more than one level")
                continue
            if path not in migrations:
                try:
                    migrations[path] = migrate_source(source, str(path), unsafe=args.unsafe_fixes)
                except MigrateError as exc:
                    migrations[path] = exc
            result = migrations[path]
            if isinstance(result, MigrateError):
                row.update(status="not migratable", why=str(result).split(": ", 1)[-1])
                continue
            first, last = item["lines"]
            shift = result.code.count("\n") - source.count("\n")  # imports added or removed above it
            left = [n.text for n in result.not_changed if first + shift <= n.line <= last + shift]
            if args.unsafe_fixes:  # the rewrites that only --unsafe-fixes applied here
                safe = migrate_source(source, str(path), unsafe=False)
                safe_shift = safe.code.count("\n") - source.count("\n")
                row["unsafe"] = sorted({n.text.split(":")[0] for n in safe.not_changed
                                        if first + safe_shift <= n.line <= last + safe_shift} - {
                                           t.split(":")[0] for t in left})
            try:
                original_part, migrated_part = runnable_part(source), runnable_part(result.code)
            except SyntaxError as exc:
                row.update(status="not run", why=f"syntax error: {exc.msg}")
                continue
            stem = key.replace("-", "_")
            (scratch / "original" / f"{stem}.py").write_text(original_part)
            (scratch / "migrated" / f"{stem}.py").write_text(migrated_part)
            row["left"] = left
            before_jobs.append((key, scratch / "original" / f"{stem}.py", item["function"]))
            after_jobs.append((key, scratch / "migrated" / f"{stem}.py", item["function"]))
        before = run_side("tf_keras", before_jobs, scratch)
        after = run_side("keras3", after_jobs, scratch)
        assert before["__keras__"].startswith("2.") and after["__keras__"].startswith("3.")
    if missing:
        print(f"{missing} items are not in the cache {cache}: run fetch.py first", file=sys.stderr)
    for key, _path, _fn in before_jobs:
        row, a, b = rows[key], before.get(key), after.get(key)
        if a is None or a[0] != "ok":
            kind, why = (a or ("error", "no result"))[:2]
            row.update(status="not run", why=f"the original on tf-keras: {why}" if kind in ("import", "error")
                       else why)
            continue
        if row["left"]:
            row.update(status="not migratable", why="; ".join(row["left"]))
            continue
        if b is None or b[0] != "ok":
            row.update(status="differ", why=f"the migrated code on Keras 3: {(b or ('', 'no result'))[1]}")
            continue
        if a[1] != b[1]:
            row.update(status="differ", why=f"ran on other shapes ({a[1]} vs {b[1]})")
            continue
        x, y = a[2], b[2]
        if x.shape != y.shape:
            row.update(status="differ", why=f"result shape {x.shape} vs {y.shape}")
        elif np.allclose(y, x, rtol=RTOL, atol=0.0, equal_nan=True):
            worst = float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-30))) if x.size else 0.0
            row.update(status="equal", why=f"shape {a[1]}, largest relative difference {worst:.2g}")
        else:
            worst = float(np.nanmax(np.abs(x - y) / np.maximum(np.abs(x), 1e-30)))
            unsafe = f" after the unsafe rewrite of {', '.join(row['unsafe'])}" if row.get("unsafe") else ""
            row.update(status="differ", why=f"values differ{unsafe} (largest relative difference {worst:.3g})")
    return report(rows, args)


def report(rows: dict[str, dict], args: argparse.Namespace) -> int:
    counts = Counter(r["status"] for r in rows.values())
    mode = "migrate --unsafe-fixes" if args.unsafe_fixes else "migrate (value-preserving rewrites only)"
    tried = len(rows)
    run = tried - counts["not run"]
    print(f"Keras 2 loss functions in the corpus that call the backend: {tried} ({mode})")
    print(f"  run on tf-keras (the rest: see 'not run'):  {run}")
    print(f"  migrated and equal (1e-5 relative):        {counts['equal']}")
    print(f"  migrated but different:                    {counts['differ']}")
    print(f"  not migratable:                            {counts['not migratable']}")
    print(f"  not run:                                   {counts['not run']}")
    for status in ("differ", "not migratable", "not run"):
        reasons = Counter(_short(r["why"]) for r in rows.values() if r["status"] == status)
        if reasons:
            print(f"{status}:")
            for why, n in reasons.most_common():
                print(f"  {n:3d}  {why}")
    if args.verbose:
        for row in sorted(rows.values(), key=lambda r: r["id"]):
            print(f"{row['status']:15s} {row['id']}: {row['why']}")
    if args.json:
        args.json.write_text(json.dumps(sorted(rows.values(), key=lambda r: r["id"]), indent=1))
    return 0


def _short(why: str) -> str:
    """Group reasons: the first clause, without the data that varies (shapes, names, values)."""
    if why.startswith(("the original on tf-keras", "the migrated code on Keras 3")):
        error = re.search(r"\b(\w+(?:Error|Exception))\b", why)
        return f"{why.split(':')[0]} fails: {error.group(1) if error else why.split(': ', 1)[-1][:60]}"
    if "with no arguments" in why:
        return "the factory or class needs arguments"
    return re.sub(r"\d+ required", "N required", why.split(" (")[0].split("; ")[0])[:110]


if __name__ == "__main__":
    raise SystemExit(main())
