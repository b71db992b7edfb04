"""Large inputs: a ~10 MB Python file through `losscheck lint`, a 5,000-task layout through `losscheck gen`.

The goal: "a 10 MB Python file and a 5,000-task layout complete with bounded memory". Each run is a
real CLI subprocess under ``/usr/bin/time`` (max RSS of the largest process) with wall time from
``time.perf_counter``. The inputs are generated deterministically here (nothing large is committed):

- the Python file repeats a block of loss code (functions, a Loss subclass, a compile call, a few
  deliberate mistakes so the rules do real work) with unique names until it reaches the size;
- the layout has ``tasks // 50`` outputs of 50 tasks each, cycling through every task type, loss,
  target kind, mask (``when``) and ``ignore_value`` the spec allows (only valid combinations).

Usage::

    python benchmarks/large_inputs.py              # 10 MB file, 5,000 tasks
    python benchmarks/large_inputs.py --mb 1 --tasks 1000
    python benchmarks/large_inputs.py --scaling    # lint cost per KB from 10 KB to 1 MB

``--scaling`` lints files of 10 KB to 1 MB (the same block repeated): the CLI's wall time, CPU
time and peak RSS, and the CPU milliseconds per KB of ``lint_source`` itself (in a child
process, without the interpreter's start-up, which dominates a 10 KB file): the cost per KB
should stay flat as files grow. CPU time is reported next to wall time because the machines this
runs on are shared: wall time moves with the load, CPU time much less.

The test suite (tests/robust/test_large_inputs.py) imports ``make_python_file``, ``make_layout`` and
``measure`` from this file by path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BLOCK = '''
def seg_loss_{n}(y_true, y_pred):
    """Per-example crossentropy on channel 0 plus dice."""
    bce = keras.losses.binary_crossentropy(y_true[..., 0:1], y_pred[..., 0:1])
    inter = ops.sum(y_true[..., 0] * y_pred[..., 0], axis=[1, 2])
    union = ops.sum(y_true[..., 0], axis=[1, 2]) + ops.sum(y_pred[..., 0], axis=[1, 2])
    return ops.mean(bce, axis=[1, 2]) + 1.0 - (2.0 * inter + 1.0) / (union + 1.0)


def masked_mse_{n}(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, -1.0), "float32")
    err = ops.square(y_true - y_pred) * mask
    return ops.sum(err, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


def batch_mean_{n}(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))


def first_sample_{n}(y_true, y_pred):
    return ops.mean(ops.square(y_true[0] - y_pred[0]), axis=-1)


class Focal{n}(keras.losses.Loss):
    def __init__(self, gamma=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma

    def call(self, y_true, y_pred):
        y_pred = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
        return ops.mean(-ops.power(1.0 - p_t, self.gamma) * ops.log(p_t), axis=-1)


def factory_{n}(alpha=0.25):
    def loss(y_true, y_pred):
        return alpha * ops.sum(ops.abs(y_true - y_pred), axis=-1)
    return loss


def compile_{n}(model):
    model.compile(
        optimizer="adam",
        loss={{"seg": seg_loss_{n}, "reg": masked_mse_{n}, "cls": Focal{n}()}},
        loss_weights={{"seg": 1.0, "reg": 0.5, "cls": 2.0}},
    )
'''

HEADER = '"""Generated benchmark input: many loss functions in one file."""\n\nimport keras\nimport tensorflow as tf\nfrom keras import ops\n'


def make_python_file(path: Path, megabytes: float) -> dict:
    """Write a syntactically valid Python file of about ``megabytes`` MB; return its size and line count."""
    target = int(megabytes * 1_000_000)
    parts = [HEADER]
    size = len(HEADER)
    n = 0
    while size < target:
        block = BLOCK.format(n=n)
        parts.append(block)
        size += len(block)
        n += 1
    text = "".join(parts)
    path.write_text(text, encoding="utf-8")
    return {"bytes": len(text.encode()), "lines": text.count("\n"), "blocks": n}


# Valid (type, extra fields) combinations of the layout format (docs/layout.md), cycled over the tasks.
TASK_KINDS: list[dict] = [
    {"type": "binary", "units": 1},
    {"type": "binary", "units": 1, "loss": ["binary_crossentropy", {"name": "dice", "weight": 0.5}]},
    {"type": "binary", "units": 1, "from_logits": True, "pos_weight": 3.0},
    {"type": "multilabel", "units": 4, "loss": {"name": "binary_focal_crossentropy", "alpha": 0.25, "gamma": 2.0}},
    {"type": "categorical", "units": 3, "targets": "sparse", "from_logits": True, "ignore_value": -1},
    {"type": "categorical", "units": 5, "loss": {"name": "categorical_crossentropy", "classes": [0, 2, 4]}},
    {"type": "categorical", "units": 4, "loss": "categorical_focal_crossentropy"},
    {"type": "regression", "units": 2, "loss": {"name": "huber", "delta": 0.5}, "when": "gate"},
    {"type": "regression", "units": 1, "loss": "mae", "ignore_value": -999},
    {"type": "regression", "units": 3, "loss": ["mse", {"name": "log_cosh", "weight": 0.1}]},
]
TASKS_PER_OUTPUT = 50


def make_layout(path: Path, tasks: int, framework: str = "keras") -> dict:
    """Write a valid layout with ``tasks`` tasks in outputs of 50; return its shape."""
    outputs = []
    made = 0
    while made < tasks:
        count = min(TASKS_PER_OUTPUT, tasks - made)
        o = len(outputs)
        task_list = [{"name": "gate", "type": "binary", "units": 1}]  # the `when` target of this output
        for t in range(1, count):
            kind = dict(TASK_KINDS[(o + t) % len(TASK_KINDS)])
            if kind.get("when"):
                kind["when"] = {"task": "gate", "equals": 1}
            task_list.append({"name": f"t{t:02d}", **kind, "weight": round(0.1 + (t % 7) * 0.15, 2)})
        outputs.append({
            "name": f"out_{o:03d}",
            "spatial": [[], [8], [16, 16]][o % 3],
            "channel_axis": -1 if o % 4 else 1,
            "weight": 1.0,
            "tasks": task_list,
        })
        made += count
    layout = {"version": 1, "framework": framework, "outputs": outputs}
    path.write_text(json.dumps(layout, indent=1), encoding="utf-8")
    return {"tasks": made, "outputs": len(outputs), "bytes": path.stat().st_size}


@dataclass
class Run:
    what: str
    command: list[str]
    returncode: int
    wall_s: float
    max_rss_mb: float
    stdout_bytes: int
    stderr_tail: str
    findings: int | None = None  # records in the JSON output, when the command printed JSON
    cpu_s: float = -1.0  # user + system time of the command (its children included)


def measure(what: str, command: list[str], timeout: float = 900) -> Run:
    """Run ``command`` under /usr/bin/time; wall time from perf_counter, RSS of its largest process."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile(suffix=".time", delete=False) as tf:
        time_file = tf.name
    try:
        start = time.perf_counter()
        proc = subprocess.run([time_bin, "-f", "%M %U %S", "-o", time_file, *command],
                              capture_output=True, timeout=timeout)
        wall = time.perf_counter() - start
        lines = Path(time_file).read_text().strip().splitlines()
        fields = lines[-1].split() if lines else []
        rss_kb = int(fields[0]) if len(fields) == 3 and fields[0].isdigit() else -1
        cpu = float(fields[1]) + float(fields[2]) if len(fields) == 3 else -1.0
    finally:
        os.unlink(time_file)
    try:
        findings = len(json.loads(proc.stdout)) if proc.stdout.strip().startswith(b"[") else None
    except ValueError:
        findings = None
    return Run(what, command, proc.returncode, wall, rss_kb / 1024, len(proc.stdout),
               proc.stderr.decode(errors="replace")[-2000:], findings, cpu)


SCALING_SIZES_MB = (0.01, 0.03, 0.1, 0.3, 1.0)

# In a child process: lint the file `repeat` times in-process and print the least CPU time.
_LINT_CPU = """
import sys, time
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry
rules = [r for r in load_registry(plugins=False).rules if getattr(r, "default_enabled", True)]
source = open(sys.argv[1], encoding="utf-8").read()
lint_source(source[:2000], "warm.py", rules=rules)  # imports and first-use caches, not the file's cost
best = None
for _ in range(int(sys.argv[2])):
    start = time.process_time()
    found = lint_source(source, sys.argv[1], rules=rules)
    spent = time.process_time() - start
    best = spent if best is None else min(best, spent)
print(best, len(found))
"""


def lint_cpu(path: Path, repeat: int) -> tuple[float, int]:
    """The least CPU time ``lint_source`` takes on the file over ``repeat`` runs, and its findings."""
    proc = subprocess.run([sys.executable, "-c", _LINT_CPU, str(path), str(repeat)], capture_output=True,
                          text=True, timeout=3600, check=True)
    spent, found = proc.stdout.split()
    return float(spent), int(found)


def scaling(sizes: tuple[float, ...] = SCALING_SIZES_MB, repeat: int = 3) -> list[dict]:
    """For files of ``sizes`` MB: the CLI's wall time, CPU time and peak RSS, and the CPU time of
    linting the file in-process (no interpreter start-up), each the best of ``repeat`` runs (the
    load of a shared machine only ever adds time)."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mb in sizes:
            py = Path(tmp) / f"losses_{mb}.py"
            shape = make_python_file(py, mb)
            runs = [measure("lint", [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json",
                                     str(py)]) for _ in range(repeat)]
            run = min(runs, key=lambda r: r.cpu_s)
            spent, found = lint_cpu(py, repeat)
            kb = shape["bytes"] / 1000
            rows.append({
                "mb": mb, "bytes": shape["bytes"], "returncode": run.returncode, "findings": run.findings,
                "wall_s": round(run.wall_s, 2), "cpu_s": round(run.cpu_s, 2), "max_rss_mb": round(run.max_rss_mb),
                "lint_cpu_s": round(spent, 3), "lint_cpu_ms_per_kb": round(1000 * spent / kb, 1),
                "lint_findings": found,
            })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of the Python file (MB)")
    parser.add_argument("--tasks", type=int, default=5000, help="tasks in the layout")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "large_inputs.json")
    parser.add_argument("--scaling", action="store_true", help="lint cost per KB from 10 KB to 1 MB, then stop")
    args = parser.parse_args(argv)
    if args.scaling:
        rows = scaling()
        for row in rows:
            print(f"{row['mb']:>5} MB  rc={row['returncode']} findings={row['findings']}  CLI: wall={row['wall_s']:.2f}s "
                  f"cpu={row['cpu_s']:.2f}s maxRSS={row['max_rss_mb']} MB  lint_source: {row['lint_cpu_s']:.2f}s cpu, "
                  f"{row['lint_cpu_ms_per_kb']:.1f} ms/KB")
        out = args.out.with_name("large_inputs_scaling.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        return 0
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        py = tmpdir / "big_losses.py"
        results["python_file"] = make_python_file(py, args.mb)
        lint = measure("lint", [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json", str(py)])
        results["lint"] = asdict(lint)
        results["lint"]["findings"] = lint.findings
        layout = tmpdir / "big_layout.json"
        results["layout"] = make_layout(layout, args.tasks)
        gen_out = tmpdir / "big_losses_gen.py"
        gen = measure("gen", [sys.executable, "-m", "losscheck", "gen", str(layout), "-o", str(gen_out)])
        results["gen"] = asdict(gen)
        if gen_out.exists():
            text = gen_out.read_text(encoding="utf-8")
            results["gen"]["generated_bytes"] = len(text.encode())
            results["gen"]["generated_lines"] = text.count("\n")
    for key in ("lint", "gen"):
        r = results[key]
        print(f"{key:5s} rc={r['returncode']} wall={r['wall_s']:.2f}s cpu={r['cpu_s']:.2f}s maxRSS={r['max_rss_mb']:.0f} MB"
              + (f"  stderr: {r['stderr_tail'][-300:]}" if r["returncode"] not in (0, 1) else ""))
    print(json.dumps({k: results[k] for k in ("python_file", "layout")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
