"""Benchmark `losscheck lint` against ruff, flake8, pylint and fixit, same files, same run.

What it measures (method and recorded numbers in docs/benchmarks.md):

1. Whole-tree lint of the installed Keras source (site-packages/keras) and TensorFlow's Python
   sources (site-packages/tensorflow, *.py only), each copied to a scratch folder first so every
   tool sees the same files and none of them skips a path because it lies under site-packages.
   - losscheck cold: ``--no-cache``; cold+write: an empty cache dir (the first run of a user);
     both median of ``--cold-repeat`` runs; cached: the same command again on the unchanged tree
     (median of ``--repeat`` runs).
   - ruff: ``--no-cache`` cold, and with its cache warm (it has one too); flake8 (stock plugins:
     benchmarks/flake8_stock.py hides the flake8-losscheck plugin), pylint
     (``--jobs=2``) and fixit cold (they have no content cache).
2. Single-file latency (median of ``--repeat`` fresh processes): a file with no loss code
   (keras/src/layers/core/dense.py) and a 322-line loss module (benchmarks/data/loss_module_300.py),
   ``cold`` (no cache) and ``edited`` (the tool's cache warm, the file's content new on every run:
   what an editor save or a pre-commit hook sees).
   losscheck's bytecode is compiled first (:func:`compile_bytecode`), as an installed copy has it.
3. Peak memory: ``/usr/bin/time -f %M`` (max RSS of the largest single process of the run).
4. The ``-j`` curve (section ``jobs``): cold runs of the Keras tree with ``-j 1`` to ``-j N``
   and ruff, in alternating rounds (one run of each per round, the order rotated every round,
   like hyperfine's alternation), medians of ``--rounds`` rounds; speed-ups are against
   ``-j 1`` and ratios against ruff from the same rounds. The load average is recorded per round.

Ratios are ``peer time / losscheck time`` for the same files in the same run (> 1: losscheck faster).

``--quick`` (the default) runs the slow peers (pylint, fixit) only on a fixed subset of the Keras
tree: every k-th file of the sorted list of its .py files, k = files // N (N = ``--subset``, 100),
the first N of those; losscheck, ruff and flake8 run on that subset too, so the subset has its own
ratios. ``--full`` also runs pylint and fixit on the whole Keras tree (~8 and ~5 minutes), and
``--full-tf`` on the whole TensorFlow tree as well (longer still).

Writes benchmarks/out/report.json, report.md and report.png; ``--docs`` also copies the table
into docs/benchmarks.md (between the ``bench:begin``/``bench:end`` markers) and the plot to
docs/benchmarks.png. matplotlib is a benchmark-only dependency (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
LOSS_MODULE = HERE / "data" / "loss_module_300.py"
TOOLS = ("losscheck", "ruff", "flake8", "pylint", "fixit")
SLOW_TOOLS = ("pylint", "fixit")


def site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


@dataclass
class Measurement:
    target: str  # "keras", "tensorflow", "keras-subset", "file:no-loss", "file:loss-module"
    mode: str  # "cold", "cold+write", "cached"
    tool: str
    wall_s: float  # median over the runs
    runs: list[float]
    cpu_s: float  # user + sys of the process and its children (median): robust to other load
    max_rss_mb: float
    returncode: int
    files: int
    lines: int
    note: str = ""


@dataclass
class JobsPoint:
    """One configuration of the ``-j`` curve: ``jobs`` 0 is ruff."""

    jobs: int
    wall_s: float  # median over the rounds
    cpu_s: float
    runs: list[float]
    loads: list[float]  # 1-minute load average before each of its runs


@dataclass
class Report:
    quick: bool
    machine: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    subset_rule: str = ""
    jobs: list[JobsPoint] = field(default_factory=list)

    def get(self, target: str, mode: str, tool: str) -> Measurement | None:
        for m in self.measurements:
            if (m.target, m.mode, m.tool) == (target, mode, tool):
                return m
        return None


# -------------------------------------------------------------------------------------------
# running things
# -------------------------------------------------------------------------------------------
def timed(command: list[str], cwd: Path, timeout: float, env: dict | None = None
          ) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s (user+sys, children included), max RSS MB, return code, stderr tail) of one
    run under /usr/bin/time."""
    with tempfile.NamedTemporaryFile(suffix=".rss", delete=False) as tf:
        rss_file = Path(tf.name)
    try:
        start = time.perf_counter()
        try:
            proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *command], cwd=cwd,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                                  env={**os.environ, **(env or {})})
            code, err = proc.returncode, proc.stderr.decode(errors="replace")[-600:]
        except subprocess.TimeoutExpired:
            code, err = 124, f"timed out after {timeout:.0f} s"
        wall = time.perf_counter() - start
        fields = (rss_file.read_text().strip().splitlines() or [""])[-1].split()
        try:
            rss, cpu = int(fields[0]) / 1024, float(fields[1]) + float(fields[2])
        except (IndexError, ValueError):  # killed by the timeout: time wrote no figures
            rss, cpu = float("nan"), float("nan")
    finally:
        rss_file.unlink(missing_ok=True)
    return wall, cpu, rss, code, err


def command_for(tool: str, paths: list[str], *, cache_dir: Path | None) -> tuple[list[str], dict]:
    """The command line (and environment) each tool is measured with: default rules, no config
    files, parallel where the tool offers it."""
    if tool == "losscheck":  # the cache folder comes from LOSSCHECK_CACHE_DIR
        if cache_dir:
            return ["losscheck", "lint", "--isolated", "--format", "concise", *paths], {
                "LOSSCHECK_CACHE_DIR": str(cache_dir)}
        return ["losscheck", "lint", "--isolated", "--format", "concise", "--no-cache", *paths], {}
    if tool == "ruff":
        cache = ["--cache-dir", str(cache_dir)] if cache_dir else ["--no-cache"]
        return ["ruff", "check", "--isolated", "--output-format", "concise", *cache, *paths], {}
    if tool == "flake8":  # --jobs defaults to the CPU count (2); stock plugins only (see flake8_stock.py)
        return [sys.executable, str(HERE / "flake8_stock.py"), "--isolated", *paths], {}
    if tool == "pylint":
        return ["pylint", "--jobs=2", "--score=n", "--persistent=n", "--rcfile=/dev/null", *paths], {}
    if tool == "fixit":  # fixit 2 lints in a process pool by default
        return ["fixit", "lint", *paths], {}
    raise ValueError(tool)


OK_CODES = {"losscheck": {0, 1}, "ruff": {0, 1}, "flake8": {0, 1}, "pylint": set(range(64)), "fixit": {0, 1}}


def measure(report: Report, target: str, mode: str, tool: str, paths: list[str], cwd: Path, *,
            repeat: int, files: int, lines: int, timeout: float, cache_dir: Path | None = None,
            warm_first: bool = False, before_each=None) -> Measurement:
    command, env = command_for(tool, paths, cache_dir=cache_dir)
    if warm_first:  # fill the cache (losscheck, ruff) before timing the cached runs
        timed(command, cwd, timeout, env)
    runs, cpus, rss, codes, err = [], [], [], [], ""
    for n in range(repeat):
        if before_each is not None:
            before_each(n)
        wall, cpu, mb, code, err = timed(command, cwd, timeout, env)
        runs.append(wall)
        cpus.append(cpu)
        rss.append(mb)
        codes.append(code)
        if code == 124:
            break
    bad = [c for c in codes if c not in OK_CODES[tool]]
    m = Measurement(target, mode, tool, statistics.median(runs), [round(r, 3) for r in runs],
                    statistics.median(cpus), max(rss), bad[0] if bad else codes[0], files, lines,
                    note=(f"exit {bad[0]}: {err.strip()[-200:]}" if bad else ""))
    report.measurements = [o for o in report.measurements if (o.target, o.mode, o.tool) != (target, mode, tool)]
    report.measurements.append(m)
    print(f"  {target:14s} {mode:10s} {tool:9s} {m.wall_s:8.3f} s  cpu {m.cpu_s:8.2f} s  {m.max_rss_mb:7.0f} MB  rc={m.returncode}"
          + (f"  !! {m.note}" if m.note else ""), flush=True)
    return m


def jobs_curve(report: Report, root: Path, cwd: Path, *, rounds: int, max_jobs: int, timeout: float) -> None:
    """Cold runs of ``root`` at ``-j 1..max_jobs`` and ruff, alternating: every round runs each
    configuration once, starting one further along each time, so that a burst of load from
    elsewhere hits all of them alike. Medians of the rounds."""
    configs = [0, *range(1, max_jobs + 1)]  # 0: ruff
    runs: dict[int, list[tuple[float, float]]] = {c: [] for c in configs}
    loads: dict[int, list[float]] = {c: [] for c in configs}
    for r in range(rounds):
        for c in configs[r % len(configs):] + configs[: r % len(configs)]:
            command, env = command_for("ruff" if c == 0 else "losscheck", [str(root)], cache_dir=None)
            if c:
                command = [*command, "--jobs", str(c)]
            loads[c].append(round(os.getloadavg()[0], 2))
            wall, cpu, _rss, code, err = timed(command, cwd, timeout, env)
            if code not in (0, 1):
                raise SystemExit(f"{command}: exit {code}: {err[-300:]}")
            runs[c].append((wall, cpu))
        print(f"  jobs round {r + 1}/{rounds}: " + ", ".join(
            f"{'ruff' if c == 0 else f'-j {c}'} {runs[c][-1][0]:.2f} s" for c in configs), flush=True)
    report.jobs = [
        JobsPoint(c, statistics.median(w for w, _ in runs[c]), statistics.median(u for _, u in runs[c]),
                  [round(w, 3) for w, _ in runs[c]], loads[c])
        for c in configs
    ]


# -------------------------------------------------------------------------------------------
# inputs
# -------------------------------------------------------------------------------------------
def copy_tree(src: Path, dst: Path) -> list[Path]:
    """Copy the .py files of ``src`` to ``dst`` (no caches, binaries or data); return them sorted."""
    files = []
    for path in sorted(src.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        files.append(target)
    return files


def count_lines(files: list[Path]) -> int:
    return sum(p.read_bytes().count(b"\n") for p in files)


def subset(files: list[Path], n: int) -> list[Path]:
    step = max(len(files) // n, 1)
    return files[::step][:n]


def versions() -> dict:
    found = {"python": platform.python_version()}
    for tool, cmd in {"ruff": ["ruff", "--version"], "flake8": [sys.executable, str(HERE / "flake8_stock.py"), "--version"],
                      "pylint": ["pylint", "--version"], "fixit": ["fixit", "--version"],
                      "losscheck": ["losscheck", "--version"]}.items():
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()
            found[tool] = out[0] if out else "?"
        except (OSError, subprocess.TimeoutExpired):
            found[tool] = "missing"
    from importlib import metadata

    for dist in ("keras", "tensorflow", "libcst"):
        try:  # from the package metadata: importing keras would load TensorFlow (seconds)
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


# -------------------------------------------------------------------------------------------
# output
# -------------------------------------------------------------------------------------------
def fmt_time(m: Measurement | None, metric: str = "wall_s") -> str:
    if m is None:
        return "–"
    if m.returncode == 124:
        return f"> {m.wall_s:.0f} s (timeout)"
    v = getattr(m, metric)
    value = f"{v:.3f} s" if v < 1 else f"{v:.2f} s" if v < 100 else f"{v:.0f} s"
    return value + (" ⚠" if m.note else "")


def ratio(peer: Measurement | None, ours: Measurement | None, metric: str = "wall_s") -> str:
    if peer is None or ours is None or peer.returncode == 124 or getattr(ours, metric) <= 0:
        return ""
    r = getattr(peer, metric) / getattr(ours, metric)
    return f" ({r:.1f}x)" if r >= 0.95 else f" (1/{1 / r:.0f})" if r > 0 else " (1/∞)"


TARGET_ORDER = ("keras", "tensorflow", "keras-subset", "file:no-loss", "file:loss-module")
MODE_ORDER = ("cold", "cold+write", "cached", "edited")


def _targets(report: Report) -> list[tuple[str, str]]:
    """(input, mode) rows in a fixed order, however the measurements were appended."""
    def rank(row: tuple[str, str]) -> tuple[int, int]:
        target, mode = row
        return (TARGET_ORDER.index(target) if target in TARGET_ORDER else len(TARGET_ORDER),
                MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER))

    return sorted({(m.target, m.mode) for m in report.measurements}, key=rank)


def _peer(report: Report, target: str, mode: str, tool: str) -> Measurement | None:
    peer = report.get(target, mode, tool)
    if peer is None and mode in ("cached", "cold+write", "edited") and tool not in ("losscheck", "ruff"):
        peer = report.get(target, "cold", tool)  # no content cache: their only run is the comparison
    return peer


def table(report: Report, metric: str) -> list[str]:
    rows = ["| input | files | lines | mode | " + " | ".join(TOOLS) + " |", "|" + "---|" * (4 + len(TOOLS))]
    for target, mode in _targets(report):
        ours = report.get(target, mode, "losscheck")
        ref = next(m for m in report.measurements if (m.target, m.mode) == (target, mode))
        cells = []
        for tool in TOOLS:
            peer = _peer(report, target, mode, tool)
            cells.append(fmt_time(peer, metric) + ("" if tool == "losscheck" else ratio(peer, ours, metric)))
        rows.append(f"| {target} | {ref.files:,} | {ref.lines:,} | {mode} | " + " | ".join(cells) + " |")
    return rows


def markdown(report: Report) -> str:
    mem = ["| input | mode | " + " | ".join(TOOLS) + " |", "|" + "---|" * (2 + len(TOOLS))]
    for target, mode in _targets(report):
        cells = []
        for tool in TOOLS:
            m = report.get(target, mode, tool)
            cells.append("–" if m is None else f"{m.max_rss_mb:.0f} MB")
        mem.append(f"| {target} | {mode} | " + " | ".join(cells) + " |")
    notes = [f"- {m.tool} on {m.target} ({m.mode}): {m.note}" for m in report.measurements if m.note]
    return "\n".join([
        f"Measured {report.machine.get('date', '')} on {report.machine.get('cpus')} CPUs "
        f"({'quick' if report.quick else 'full'} mode); highest 1-minute load average at the start of a "
        f"run {report.machine.get('load_start')}, {report.machine.get('load_end')} at the end. In parentheses: peer / losscheck on the "
        "same files in the same run (> 1 means losscheck is faster). A tool with no content cache is "
        "compared with its cold run in the `cold+write` and `cached` rows.",
        "", "**Wall-clock time** (median of the runs):", "", *table(report, "wall_s"), "",
        "**CPU time** (user + sys, all processes of the run; the fair comparison when the machine is shared):",
        "", *table(report, "cpu_s"), "",
        "**Peak memory** (max RSS of the largest single process of the run, `/usr/bin/time -f %M`):", "", *mem, "",
        *jobs_table(report),
        "**Goals**:", "", *goal_lines(report), "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()) + ".",
        *(["", "Runs that did not finish cleanly:", *notes] if notes else []),
        "", f"Subset rule: {report.subset_rule}",
    ]) + "\n"


def _jobs_point(report: Report, jobs: int) -> JobsPoint | None:
    return next((p for p in report.jobs if p.jobs == jobs), None)


def jobs_table(report: Report) -> list[str]:
    if not report.jobs:
        return []
    ruff, one = _jobs_point(report, 0), _jobs_point(report, 1)
    rows = ["| command | wall (median) | CPU | speed-up vs -j 1 | losscheck / ruff | runs (s) | load before each run |",
            "|---|---|---|---|---|---|---|"]
    for p in report.jobs:
        name = "ruff check --no-cache" if p.jobs == 0 else f"losscheck lint --no-cache -j {p.jobs}"
        speedup = f"{one.wall_s / p.wall_s:.2f}x" if one and p.jobs else ""
        versus = f"{p.wall_s / ruff.wall_s:.1f}x" if ruff and p.jobs else ""
        rows.append(f"| `{name}` | {p.wall_s:.2f} s | {p.cpu_s:.2f} s | {speedup} | {versus} | "
                    f"{', '.join(f'{r:.2f}' for r in p.runs)} | {', '.join(f'{x:.1f}' for x in p.loads)} |")
    rounds = len(report.jobs[0].runs)
    return [f"**The -j curve** (Keras tree, cold; {rounds} alternating rounds, one run of each command per round, "
            "medians):", "", *rows, ""]


def goal_lines(report: Report) -> list[str]:
    def within(label: str, m: Measurement | None, limit: float) -> str:
        if m is None:
            return f"- {label}: not measured"
        ok = m.wall_s <= limit and m.returncode in (0, 1)
        return f"- {label}: {m.wall_s:.3f} s wall, {m.cpu_s:.3f} s CPU (goal <= {limit} s) {'met' if ok else 'NOT met'}"

    def times(label: str, slow: float | None, fast: float | None, goal: float, what: str) -> str:
        if not slow or not fast:
            return f"- {label}: not measured"
        r = slow / fast
        return f"- {label}: {r:.2f}x ({what}; goal >= {goal}x) {'met' if r >= goal else 'NOT met'}"

    keras = report.get("keras", "cold", "losscheck")
    ruff = report.get("keras", "cold", "ruff")
    lines = [
        within("Keras tree cold (--no-cache)", keras, 4.0),
        (f"- Keras tree cold vs ruff cold: {keras.wall_s / ruff.wall_s:.1f}x ruff's wall time "
         f"(goal <= 8x) {'met' if keras.wall_s <= 8 * ruff.wall_s else 'NOT met'}") if keras and ruff
        else "- Keras tree cold vs ruff: not measured",
    ]
    one, two, ruff_j = _jobs_point(report, 1), _jobs_point(report, 2), _jobs_point(report, 0)
    if two and ruff_j:
        lines.append(f"- Keras tree cold, -j 2, alternating rounds: {two.wall_s:.2f} s, {two.wall_s / ruff_j.wall_s:.1f}x "
                     f"ruff (goal <= 4 s and <= 8x) {'met' if two.wall_s <= 4 and two.wall_s <= 8 * ruff_j.wall_s else 'NOT met'}")
    lines += [
        times("-j 2 vs -j 1 (Keras tree cold, alternating rounds)", one.wall_s if one else None,
              two.wall_s if two else None, 1.6, "wall time of -j 1 / -j 2"),
        within("Keras tree cached", report.get("keras", "cached", "losscheck"), 0.15),
        within("single file, 322-line loss module (--no-cache)", report.get("file:loss-module", "cold", "losscheck"), 0.2),
        within("single file, 322-line loss module (cache warm, file edited)",
               report.get("file:loss-module", "edited", "losscheck"), 0.2),
        within("single file, no loss code (--no-cache)", report.get("file:no-loss", "cold", "losscheck"), 0.15),
    ]
    keras_fixit = report.get("keras", "cold", "fixit")
    target = "keras" if keras_fixit else "keras-subset"
    ours, fixit = report.get(target, "cold", "losscheck"), report.get(target, "cold", "fixit")
    lines.append(times(f"vs fixit ({target}, cold)", fixit.wall_s if fixit else None, ours.wall_s if ours else None,
                       20, "fixit's wall time / losscheck's"))
    return lines


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [("keras", "cold"), ("keras", "cached"), ("keras-subset", "cold"), ("tensorflow", "cold"),
              ("file:no-loss", "cold"), ("file:no-loss", "edited"), ("file:loss-module", "cold")]
    groups = [g for g in groups if report.get(*g, "losscheck")]
    colors = {"losscheck": "#d62728", "ruff": "#7f7f7f", "flake8": "#1f77b4", "pylint": "#2ca02c",
              "fixit": "#9467bd"}
    fig, ax = plt.subplots(figsize=(10, 4.8))
    tools = [tool for tool in TOOLS if any(report.get(target, mode, tool) for target, mode in groups)]
    width = 0.8 / len(tools)  # the tools measured in this report only: no empty legend entries
    for t, tool in enumerate(tools):
        xs, ys = [], []
        for g, (target, mode) in enumerate(groups):
            m = report.get(target, mode, tool)
            if m is None and mode == "cached" and tool not in ("losscheck", "ruff"):
                continue
            if m is not None and m.returncode != 124:
                xs.append(g + (t - (len(tools) - 1) / 2) * width)
                ys.append(m.wall_s)
        ax.bar(xs, ys, width, label=tool, color=colors[tool])
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)))
    labels = []
    for target, mode in groups:
        m = report.get(target, mode, "losscheck")
        labels.append(f"{target}\n{mode}\n({m.files:,} files)" if m else target)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("wall time, seconds (log scale)")
    ax.set_title(f"losscheck lint vs peers, {report.machine.get('cpus')} CPUs, same files, same run")
    ax.set_ylim(top=ax.get_ylim()[1] * 30)  # room for the legend above the bars
    ax.legend(fontsize=8, ncol=len(tools), loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(report_md: str, png: Path) -> None:
    docs = REPO / "docs" / "benchmarks.md"
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = docs.read_text(encoding="utf-8") if docs.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    docs.write_text(f"{head}{begin}\n{report_md}{end}{tail}", encoding="utf-8")
    shutil.copyfile(png, REPO / "docs" / "benchmarks.png")


# -------------------------------------------------------------------------------------------
def compile_bytecode() -> None:
    """Compile losscheck's modules (and the bundled plugins) to bytecode before measuring, as
    ``pip install`` does for a regular install. An editable install run where
    ``PYTHONDONTWRITEBYTECODE`` is set (as in many CI images) would otherwise compile every module
    changed since its last ``.pyc`` from source on every run: 0.13 s of a 0.5 s single-file run,
    which no installed copy pays."""
    import compileall

    for folder in (REPO / "losscheck", REPO / "plugins"):
        if folder.is_dir():
            compileall.compile_dir(str(folder), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark losscheck lint against ruff, flake8, pylint, fixit.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="slow peers on a fixed subset only (default)")
    mode.add_argument("--full", action="store_true", help="also pylint and fixit on the whole Keras tree")
    parser.add_argument("--full-tf", action="store_true", help="with --full: slow peers on TensorFlow too")
    parser.add_argument("--subset", type=int, default=100, help="files in the Keras subset (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per single-file/cached measurement")
    parser.add_argument("--cold-repeat", type=int, default=3,
                        help="cold runs of a whole tree for losscheck and ruff (median; default 3)")
    parser.add_argument("--no-tf", action="store_true", help="skip the TensorFlow tree")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated tools to run")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds before one run is abandoned")
    parser.add_argument("--docs", action="store_true", help="copy the table and plot into docs/")
    parser.add_argument("--sections", default="trees,subset,singles,jobs",
                        help="comma-separated: trees, subset, singles, jobs (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the -j curve (default 5)")
    parser.add_argument("--max-jobs", type=int, default=max(4, os.cpu_count() or 1),
                        help="the -j curve goes from 1 to this (default: 4 or the CPU count)")
    parser.add_argument("--append", action="store_true",
                        help="add to benchmarks/out/report.json (same input, mode and tool: replaced)")
    parser.add_argument("--render", action="store_true", help="only rebuild report.md/png from report.json")
    args = parser.parse_args(argv)
    if not args.render:
        compile_bytecode()
    tools = [t for t in args.tools.split(",") if t]
    sections = set(args.sections.split(","))
    full = args.full
    sp = site_packages()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.render or args.append:
        report = load_report(OUT / "report.json")
        if args.render:
            return render(report, args.docs)
        report.machine["load_start"] = max(report.machine.get("load_start", 0), round(os.getloadavg()[0], 2))
        first = str(report.machine.get("date", "")).split(" to ")[0]
        report.machine["date"] = f"{first} to {time.strftime('%H:%M UTC', time.gmtime())}"
        report.quick = report.quick and not full
    else:
        report = Report(quick=not full, machine={
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_start": round(os.getloadavg()[0], 2)}, versions=versions())
    with tempfile.TemporaryDirectory(prefix="losscheck-bench-") as tmp:
        work = Path(tmp)
        cwd = work / "cwd"  # no config files of any tool here or above
        cwd.mkdir()
        keras_files = copy_tree(sp / "keras", work / "keras")
        trees = [("keras", work / "keras", keras_files)]
        if not args.no_tf and "trees" in sections:
            trees.append(("tensorflow", work / "tensorflow", copy_tree(sp / "tensorflow", work / "tensorflow")))
        sub = subset(keras_files, args.subset)
        report.subset_rule = (f"every {max(len(keras_files) // args.subset, 1)}th file of the {len(keras_files)} "
                              f"sorted .py files of keras {report.versions.get('keras', '')}, first {len(sub)}: "
                              "benchmarks/out/subset.txt lists them.")
        (OUT / "subset.txt").write_text("\n".join(str(p.relative_to(work)) for p in sub) + "\n")

        for name, root, files in trees if "trees" in sections else []:
            lines = count_lines(files)
            print(f"{name}: {len(files)} files, {lines:,} lines", flush=True)
            for tool in tools:
                if tool in SLOW_TOOLS and not (full and (name == "keras" or args.full_tf)):
                    continue
                common = dict(repeat=1, files=len(files), lines=lines, timeout=args.timeout)
                # the fast tools' cold runs are repeated too (median): one run is at the mercy of the load
                cold_runs = args.cold_repeat if tool in ("losscheck", "ruff") else 1
                measure(report, name, "cold", tool, [str(root)], cwd, **{**common, "repeat": cold_runs})
                if tool in ("losscheck", "ruff"):
                    cache = work / f"cache-{tool}-{name}"

                    def empty(n: int, cache: Path = cache) -> None:
                        shutil.rmtree(cache, ignore_errors=True)  # every cold+write run starts empty

                    measure(report, name, "cold+write", tool, [str(root)], cwd, cache_dir=cache,
                            **{**common, "repeat": cold_runs}, before_each=empty)
                    measure(report, name, "cached", tool, [str(root)], cwd, cache_dir=cache,
                            **{**common, "repeat": args.repeat})

        if "jobs" in sections:
            print(f"keras: the -j curve, {args.rounds} alternating rounds", flush=True)
            jobs_curve(report, work / "keras", cwd, rounds=args.rounds, max_jobs=args.max_jobs, timeout=args.timeout)

        lines = count_lines(sub)
        print(f"keras-subset: {len(sub)} files, {lines:,} lines", flush=True)
        for tool in tools if "subset" in sections else []:
            measure(report, "keras-subset", "cold", tool, [str(p) for p in sub], cwd, repeat=1, files=len(sub),
                    lines=lines, timeout=args.timeout)

        # the loss module is linted from the scratch folder, as a file of its own: in place it would
        # be a file of this repository's project, whose other modules losscheck also reads
        loss_module = work / LOSS_MODULE.name
        shutil.copyfile(LOSS_MODULE, loss_module)
        singles = [("file:no-loss", work / "keras" / "src" / "layers" / "core" / "dense.py"),
                   ("file:loss-module", loss_module)]
        for name, path in singles if "singles" in sections else []:
            edited = work / "edited" / name.split(":")[1] / path.name
            edited.parent.mkdir(parents=True, exist_ok=True)
            original = path.read_text(encoding="utf-8")

            def edit(n: int, edited: Path = edited, original: str = original) -> None:
                # the editor-save / pre-commit case: the tool's cache is warm, this file's content is new
                edited.write_text(original + f"# edit {n} {time.time_ns()}\n", encoding="utf-8")

            for tool in tools:
                lines = count_lines([path])
                measure(report, name, "cold", tool, [str(path)], cwd, repeat=args.repeat, files=1,
                        lines=lines, timeout=args.timeout)
                if tool in ("losscheck", "ruff"):
                    edit(-1)
                    measure(report, name, "edited", tool, [str(edited)], cwd, repeat=args.repeat, files=1,
                            lines=lines, timeout=args.timeout, cache_dir=work / f"cache-{tool}-{name}",
                            warm_first=True, before_each=edit)
    report.machine["load_end"] = round(os.getloadavg()[0], 2)
    (OUT / "report.json").write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return render(report, args.docs)


def render(report: Report, docs: bool) -> int:
    md = markdown(report)
    (OUT / "report.md").write_text(md, encoding="utf-8")
    plot(report, OUT / "report.png")
    print(md)
    if docs:
        write_docs(md, OUT / "report.png")
    return 0


def load_report(path: Path) -> Report:
    data = json.loads(path.read_text(encoding="utf-8"))
    measurements = [Measurement(**m) for m in data.pop("measurements")]
    jobs = [JobsPoint(**p) for p in data.pop("jobs", [])]
    return Report(**data, measurements=measurements, jobs=jobs)


if __name__ == "__main__":
    sys.exit(main())
