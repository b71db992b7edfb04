"""Large inputs: a ~10 MB Python file through `losscheck lint`, a 5,000-task layout through `losscheck gen`.

Issue 6: "a 10 MB Python file and a 5,000-task layout complete with bounded memory". Each run is a
real CLI subprocess under ``/usr/bin/time`` (max RSS of the largest process) with wall time from
``time.perf_counter``. The inputs are generated deterministically here (nothing large is committed):

- the Python file repeats a block of loss code (functions, a Loss subclass, a compile call, a few
  deliberate mistakes so the rules do real work) with unique names until it reaches the size;
- the layout has ``tasks // 50`` outputs of 50 tasks each, cycling through every task type, loss,
  target kind, mask (``when``) and ``ignore_value`` the spec allows (only valid combinations).

Usage::

    python benchmarks/large_inputs.py              # 10 MB file, 5,000 tasks
    python benchmarks/large_inputs.py --mb 1 --tasks 1000

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


# Valid (type, extra fields) combinations from shared/spec/layout-v1.md, cycled over the tasks.
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


def measure(what: str, command: list[str], timeout: float = 900) -> Run:
    """Run ``command`` under /usr/bin/time; wall time from perf_counter, RSS of its largest process."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile(suffix=".time", delete=False) as tf:
        time_file = tf.name
    try:
        start = time.perf_counter()
        proc = subprocess.run([time_bin, "-f", "%M", "-o", time_file, *command],
                              capture_output=True, timeout=timeout)
        wall = time.perf_counter() - start
        rss_text = Path(time_file).read_text().strip().splitlines()
        rss_kb = int(rss_text[-1]) if rss_text and rss_text[-1].isdigit() else -1
    finally:
        os.unlink(time_file)
    try:
        findings = len(json.loads(proc.stdout)) if proc.stdout.strip().startswith(b"[") else None
    except ValueError:
        findings = None
    return Run(what, command, proc.returncode, wall, rss_kb / 1024, len(proc.stdout),
               proc.stderr.decode(errors="replace")[-2000:], findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of the Python file (MB)")
    parser.add_argument("--tasks", type=int, default=5000, help="tasks in the layout")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "large_inputs.json")
    args = parser.parse_args(argv)
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
        print(f"{key:5s} rc={r['returncode']} wall={r['wall_s']:.2f}s maxRSS={r['max_rss_mb']:.0f} MB"
              + (f"  stderr: {r['stderr_tail'][-300:]}" if r["returncode"] not in (0, 1) else ""))
    print(json.dumps({k: results[k] for k in ("python_file", "layout")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
