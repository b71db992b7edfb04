"""`losscheck gen` against hostile input: names that end in a newline, whole numbers written
as floats, numbers past any sensible size, symbolic links, read-only files and folders,
devices and FIFOs as the output or the layout, a stdout that cannot be written, and the
command `--check` suggests. Every case: a clear message naming the file and the JSON path,
exit 2, no traceback, nothing half-written, and never a module that does not compile.

Cases that would hang or eat memory if reading were unbounded run in a subprocess with a
timeout and an address-space limit.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from losscheck.cli import main
from losscheck.gen.cli import generate
from losscheck.layout.validate import schema

LAYOUT = {
    "version": 1,
    "outputs": [{"name": "seg", "tasks": [
        {"name": "mask", "type": "binary", "units": 1},
        {"name": "size", "type": "regression", "units": 2, "when": {"task": "mask", "equals": 1}},
    ]}],
}
TIMEOUT = 60
MEMORY_LIMIT = 2 << 30  # an unbounded read of /dev/zero hits this within a second


def _write(tmp_path: Path, data: dict[str, Any] | str, name: str = "layout.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _layout_text(task_fields: str = "", output_fields: str = "", task: str = "") -> str:
    """Raw JSON text, so that numbers stay exactly as written (3.0, 1e400, 400 digits)."""
    task = task or '{"name": "mask", "type": "binary", "units": 1' + task_fields + "}"
    return '{"version": 1, "outputs": [{"name": "seg"' + output_fields + ', "tasks": [' + task + "]}]}"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m losscheck ARGS`` with bounded time and memory."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    preexec = kwargs.pop("preexec", None)

    def setup() -> None:
        _limited()
        if preexec is not None:
            preexec()

    return subprocess.run([sys.executable, "-m", "losscheck", *args], stderr=subprocess.PIPE, text=True,
                          timeout=TIMEOUT, preexec_fn=setup, check=False, **kwargs)


def _one_clean_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    return lines[0]


# -- names: whole-string identifiers ---------------------------------------------------------
@pytest.mark.parametrize("where,path", [
    ("output", "$.outputs[0].name"),
    ("task", "$.outputs[0].tasks[1].name"),
])
def test_a_name_ending_in_a_newline_is_rejected_and_nothing_is_written(tmp_path, capsys, where, path):
    data = json.loads(json.dumps(LAYOUT))
    if where == "output":
        data["outputs"][0]["name"] = "seg\n"
    else:
        data["outputs"][0]["tasks"][1]["name"] = "size\n"
    layout = _write(tmp_path, data)
    out = tmp_path / "m.py"
    assert main(["gen", str(layout), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{layout}:1: {path}: " in err and "is not an ASCII Python identifier" in err
    assert not out.exists()
    assert main(["gen", str(layout), "-o", str(out), "--check"]) == 2
    assert main(["gen", str(layout), "-o", "-"]) == 2
    assert capsys.readouterr().out == ""


def test_every_pattern_in_the_schema_matches_whole_strings_only():
    """JSON Schema patterns are searched (jsonschema: ``re.search``), where ``$`` also matches
    before a final newline: each pattern must refuse a valid value with a newline added."""
    patterns: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema())
    assert patterns
    for pattern in patterns:
        check = jsonschema.Draft202012Validator({"type": "string", "pattern": pattern})
        samples = [s for s in ("a", "A_1", "name_2") if check.is_valid(s)]
        assert samples, pattern
        for sample in samples:
            for junk in ("\n", "\r\n", "\n\n", "\nx"):
                assert not check.is_valid(sample + junk), (pattern, sample + junk)


EMITTER_PLUGIN = '''
from losscheck.gen.emitter import header_lines


class NotPython:
    framework = "not_python_demo"

    def emit(self, plan):
        return "\\n".join(header_lines(plan)) + "\\ndef loss(:\\n    return 0\\n"


EMITTER = NotPython()
'''


@pytest.fixture()
def not_python_emitter(tmp_path, monkeypatch):
    """A real installed emitter plugin (a dist-info folder on sys.path) whose output is not Python."""
    site = tmp_path / "site"
    dist = site / "not_python_demo-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: not-python-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[losscheck.emitters]\nnot_python = not_python_demo:EMITTER\n")
    (site / "not_python_demo.py").write_text(EMITTER_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("not_python_demo", None)


def test_a_module_that_does_not_compile_is_an_internal_error_and_never_written(
        tmp_path, capsys, not_python_emitter):
    data = dict(LAYOUT, framework="not_python_demo")
    layout = _write(tmp_path, data)
    out = tmp_path / "m.py"
    assert main(["gen", str(layout), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"losscheck: error: {layout}: internal error: the generated module does not compile" in err
    assert "SyntaxError" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["gen", str(layout), "-o", "-"]) == 2
    assert capsys.readouterr().out == ""
    # --check never calls a module that does not compile up to date, even one identical to it
    from losscheck.gen.emitter import load_emitters
    from losscheck.gen.plan import build_plan
    from losscheck.layout.load import load
    from losscheck.layout.validate import validate

    emitter = load_emitters().emitters["not_python_demo"]
    out.write_text(emitter.emit(build_plan(validate(load(layout), frameworks=None))))
    assert main(["gen", str(layout), "-o", str(out), "--check"]) == 2


@pytest.mark.parametrize("text,compiles", [
    ('s = """one\n\n\nX at column 0 inside a string"""\n', True),  # cut inside a string: the whole decides
    ("x = [\n    1,\n\n\n]\n", True),  # cut inside brackets
    ("def f():\n    return 1\n\n\ndef g():\n    return f()\n", True),
    ("def f():\n    return 1\n\n\ndef g(:\n    return 2\n", False),
    ("x = 1\n\n\nglobal x\n", False),  # each piece compiles alone, the module does not
    ("x = 1\n\n\nfrom __future__ import annotations\n", False),
    ("x = 1\n\n\ny = '\0'\n", False),
])
def test_the_compile_check_judges_the_whole_module(tmp_path, text, compiles):
    from losscheck.errors import UserError
    from losscheck.gen.cli import ensure_compiles

    layout = tmp_path / "layout.json"
    if compiles:
        ensure_compiles(text, layout)
        return
    with pytest.raises(UserError) as info:
        ensure_compiles(text, layout)
    assert str(info.value).startswith(f"{layout}: internal error: the generated module does not compile")


# -- whole numbers written as floats --------------------------------------------------------
@pytest.mark.parametrize("text,path,also", [
    (_layout_text(task='{"name": "m", "type": "binary", "units": 3.0}'), "$.outputs[0].tasks[0].units",
     "a binary task has exactly 1 unit, got 3"),
    (_layout_text(task='{"name": "m", "type": "categorical", "units": 2.0}'), "$.outputs[0].tasks[0].units", None),
    (_layout_text(task='{"name": "m", "type": "regression", "units": 1e2}'), "$.outputs[0].tasks[0].units", None),
    (_layout_text(task='{"name": "c", "type": "categorical", "units": 3, "loss": {"name": '
                       '"categorical_crossentropy", "classes": [0.0, 5.0]}}'),
     "$.outputs[0].tasks[0].loss.classes[1]", "class index 5 is out of range for 3 units"),
    (_layout_text(output_fields=', "spatial": [64.0]'), "$.outputs[0].spatial[0]", None),
    (_layout_text(output_fields=', "channel_axis": 1.0'), "$.outputs[0].channel_axis", None),
    (_layout_text(task='{"name": "g", "type": "binary", "units": 1}, {"name": "r", "type": "regression", '
                       '"units": 1, "when": {"task": "g", "equals": 1.0}}'), "$.outputs[0].tasks[1].when.equals", None),
])
def test_a_whole_number_written_as_a_float_is_an_error_the_semantic_checks_also_see(
        tmp_path, capsys, text, path, also):
    layout = _write(tmp_path, text)
    out = tmp_path / "m.py"
    assert main(["gen", str(layout), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{layout}:1: {path}: expected an integer" in err, err
    assert "without a decimal point" in err
    if also:
        assert f"{path}: {also}" in err, err
    assert not out.exists()


# -- numbers too large ----------------------------------------------------------------------
BIG = "9" * 400
T0 = "$.outputs[0].tasks[0]"


@pytest.mark.parametrize("text,path,words", [
    (_layout_text(task='{"name": "r", "type": "regression", "units": 1e400}'), f"{T0}.units", "too large"),
    (_layout_text(task='{"name": "r", "type": "regression", "units": ' + BIG + "}"), f"{T0}.units", "too large"),
    (_layout_text(task='{"name": "r", "type": "regression", "units": ' + "9" * 5000 + "}"), f"{T0}.units",
     "too many digits"),
    (_layout_text(output_fields=', "weight": ' + BIG), "$.outputs[0].weight", "too large"),
    (_layout_text(', "weight": 1e300'), f"{T0}.weight", "must be <= 1000000"),
    (_layout_text(', "pos_weight": 1e300'), f"{T0}.pos_weight", "must be <= 1000000"),
    (_layout_text(', "ignore_value": -' + BIG), f"{T0}.ignore_value", "too large"),
    (_layout_text(', "ignore_value": 1e300'), f"{T0}.ignore_value", "must be <= 3.4028234663852886e+38"),
    (_layout_text(output_fields=', "spatial": [' + BIG + "]"), "$.outputs[0].spatial[0]", "too large"),
    (_layout_text(output_fields=', "spatial": [1000000000000]'), "$.outputs[0].spatial[0]", "must be <= 2147483647"),
    (_layout_text(task='{"name": "c", "type": "categorical", "units": 3, "loss": {"name": '
                       '"categorical_crossentropy", "classes": [0, ' + BIG + "]}}"),
     f"{T0}.loss.classes[1]", "too large"),
    (_layout_text(task='{"name": "r", "type": "regression", "units": 1, "loss": {"name": "huber", '
                       '"delta": 1e300}}'), f"{T0}.loss.delta", "must be <= 1000000"),
    (_layout_text(task='{"name": "a", "type": "regression", "units": 600000}, '
                       '{"name": "b", "type": "regression", "units": 600000}'),
     "$.outputs[0].tasks[1].units", "at most 1,000,000"),
])
def test_a_number_too_large_is_one_clear_error_at_its_path(tmp_path, capsys, text, path, words):
    layout = _write(tmp_path, text)
    out = tmp_path / "m.py"
    assert main(["gen", str(layout), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert path in err and words in err, err
    assert len([line for line in err.splitlines() if f"{path}:" in line or f"{path} " in line]) == 1, err
    assert not out.exists()


# -- writing through links, read-only files and folders -------------------------------------
def _module_for(layout: Path) -> str:
    return generate(layout)[0]


def _changed(layout: Path) -> None:
    data = json.loads(layout.read_text())
    data["outputs"][0]["tasks"][1]["units"] += 1
    layout.write_text(json.dumps(data))


def test_a_symbolic_link_is_written_through_and_its_target_keeps_its_mode(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    (tmp_path / "sub").mkdir()
    real = tmp_path / "sub" / "real_losses.py"
    link = tmp_path / "link_losses.py"
    assert main(["gen", str(layout), "-o", str(real), "-q"]) == 0
    real.chmod(0o640)
    link.symlink_to(Path("sub") / "real_losses.py")
    _changed(layout)
    assert main(["gen", str(layout), "-o", str(link), "-q"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(Path("sub") / "real_losses.py")
    assert real.read_text() == _module_for(layout)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert main(["gen", str(layout), "-o", str(link), "--check"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout.json", "link_losses.py", "sub"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["real_losses.py"]


def test_a_dangling_link_gets_its_target_created(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link_losses.py"
    link.symlink_to(Path("sub") / "new_losses.py")
    assert main(["gen", str(layout), "-o", str(link), "-q"]) == 0
    assert link.is_symlink()
    assert (tmp_path / "sub" / "new_losses.py").read_text() == _module_for(layout)


@pytest.mark.parametrize("through_link", [False, True])
@pytest.mark.parametrize("force", [False, True])
def test_a_read_only_module_is_never_replaced(tmp_path, capsys, through_link, force):
    layout = _write(tmp_path, LAYOUT)
    real = tmp_path / "real_losses.py"
    assert main(["gen", str(layout), "-o", str(real), "-q"]) == 0
    real.chmod(0o444)
    before = real.read_bytes()
    target = real
    if through_link:
        target = tmp_path / "link_losses.py"
        target.symlink_to(real.name)
    _changed(layout)
    assert main(["gen", str(layout), "-o", str(target)] + (["--force"] if force else [])) == 2
    line = _one_clean_line(capsys.readouterr().err)
    assert line.startswith(f"losscheck: error: {target}") and "read-only" in line
    assert str(real) in line
    assert real.read_bytes() == before and stat.S_IMODE(real.stat().st_mode) == 0o444
    assert target.is_symlink() == through_link
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _read_only_folder(base: Path) -> Path:
    """A folder this process cannot create files in. Root writes into any folder whatever its
    mode, so for root it is /sys, where the kernel lets nobody create a file."""
    if os.getuid() != 0:
        folder = base / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    folder = Path("/sys")
    try:
        os.close(os.open(folder / "losscheck_probe", os.O_CREAT | os.O_WRONLY, 0o644))
    except OSError:
        return folder
    os.unlink(folder / "losscheck_probe")
    pytest.skip("no folder here refuses new files to root")


def test_a_read_only_folder_is_a_clear_error_and_leaves_nothing_behind(tmp_path, capsys):
    layout = _write(tmp_path, LAYOUT)
    folder = _read_only_folder(tmp_path)
    before = sorted(os.listdir(folder))
    out = folder / "m_losses.py"
    assert main(["gen", str(layout), "-o", str(out)]) == 2
    line = _one_clean_line(capsys.readouterr().err)
    assert line.startswith(f"losscheck: error: {out}: cannot write: ") and line.endswith("; nothing written")
    assert sorted(os.listdir(folder)) == before


# -- devices and FIFOs as the output --------------------------------------------------------
def test_writing_to_dev_full_is_one_line_no_space_left(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    proc = _run(["gen", str(layout), "-o", "/dev/full"])
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == "losscheck: error: /dev/full: cannot write: No space left on device"


def test_writing_to_dev_null_writes_and_leaves_the_device_alone(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    proc = _run(["gen", str(layout), "-o", "/dev/null", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/full"])
def test_check_against_a_device_is_an_error_and_reads_nothing_endlessly(tmp_path, device):
    layout = _write(tmp_path, LAYOUT)
    proc = _run(["gen", str(layout), "-o", device, "--check"])
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == f"losscheck: error: {device}: is not a regular file; " \
                                           "--check compares a generated module file"


def test_a_fifo_nobody_reads_is_an_error_not_a_hang(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = _run(["gen", str(layout), "-o", str(fifo)])
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == f"losscheck: error: {fifo}: nothing is reading from it; not writing"
    proc = _run(["gen", str(layout), "-o", str(fifo), "--check"])
    assert proc.returncode == 2 and "is not a regular file" in _one_clean_line(proc.stderr)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_fifo_with_a_reader_gets_the_module(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = _run(["gen", str(layout), "-o", str(fifo), "-q"])  # the module fits in the pipe's buffer
        received = b""
        while chunk := os.read(reader, 1 << 16):
            received += chunk
    finally:
        os.close(reader)
    assert proc.returncode == 0, proc.stderr
    assert received.decode() == _module_for(layout)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# -- stdout that cannot be written ----------------------------------------------------------
def _closed_stdout() -> None:
    os.close(1)


def test_stdout_closed_is_one_line_and_exit_2(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    proc = _run(["gen", str(layout), "-o", "-"], stdout=None, preexec=_closed_stdout)
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == "losscheck: error: <stdout>: cannot write: standard output is closed"


def test_stdout_on_a_full_disk_is_one_line_and_exit_2(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    with open("/dev/full", "wb") as full:
        proc = _run(["gen", str(layout), "-o", "-"], stdout=full)
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == "losscheck: error: <stdout>: cannot write: No space left on device"


def test_stdout_with_its_reader_gone_is_one_line_and_exit_2(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = _run(["gen", str(layout), "-o", "-"], stdout=write_end)
    finally:
        os.close(write_end)
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == "losscheck: error: <stdout>: cannot write: Broken pipe"


# -- the command --check suggests -----------------------------------------------------------
def _suggested(stderr: str) -> str:
    found = re.search(r"`(losscheck gen [^`]*)`", stderr)
    assert found, stderr
    return found.group(1)


def _run_in_shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a suggested command as a user would paste it into a POSIX shell."""
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return subprocess.run(command, shell=True, cwd=cwd, env=dict(os.environ, PATH=path), capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


@pytest.mark.parametrize("case", ["user_file", "framework", "odd_names", "default_output"])
def test_the_command_check_suggests_brings_the_module_up_to_date(tmp_path, monkeypatch, capsys, case):
    monkeypatch.chdir(tmp_path)
    layout_name, out_name = ("-my layout.json", "-my out's.py") if case == "odd_names" else ("layout.json", "m.py")
    _write(tmp_path, LAYOUT, layout_name)
    args = ["gen", "./" + layout_name]
    if case != "default_output":
        args += ["-o", "./" + out_name]
    if case == "framework":
        args += ["--framework", "tf.keras"]
    if case == "user_file":
        (tmp_path / out_name).write_text("# my own losses\n")
    assert main(args + ["--check"]) == 1
    command = _suggested(capsys.readouterr().err)
    assert shlex.split(command)[0] == "losscheck"
    proc = _run_in_shell(command, tmp_path)
    assert proc.returncode == 0, (command, proc.stderr)
    assert main(args + ["--check"]) == 0, command


# -- reading the layout: bounded, never hanging ---------------------------------------------
def test_a_layout_over_50_mb_is_refused_without_reading_it(tmp_path, capsys):
    layout = tmp_path / "huge.json"
    with open(layout, "wb") as handle:
        handle.truncate(60 * 1024 * 1024)  # sparse: no disk used
    assert main(["gen", str(layout), "-o", str(tmp_path / "m.py")]) == 2
    assert _one_clean_line(capsys.readouterr().err) == \
        f"losscheck: error: {layout}: larger than 50 MB: not a layout file"


def test_dev_zero_as_the_layout_is_refused_with_bounded_memory(tmp_path):
    proc = _run(["gen", "/dev/zero", "-o", str(tmp_path / "m.py")])
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr) == "losscheck: error: /dev/zero: larger than 50 MB: not a layout file"


def test_a_fifo_layout_nobody_writes_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "layout.json"
    os.mkfifo(fifo)
    proc = _run(["gen", str(fifo), "-o", str(tmp_path / "m.py")])
    assert proc.returncode == 2
    assert _one_clean_line(proc.stderr).startswith(f"losscheck: error: {fifo}:1: invalid JSON")


def test_a_layout_from_a_pipe_still_works(tmp_path):
    layout = _write(tmp_path, LAYOUT)
    out = tmp_path / "m.py"
    script = f'"{sys.executable}" -m losscheck gen <(cat "{layout}") -o "{out}" -q'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    compile(out.read_text(), str(out), "exec")


@pytest.mark.parametrize("depth", [100_000, 120])
def test_deeply_nested_json_is_a_clear_error(tmp_path, capsys, depth):
    deep = "[" * depth + "]" * depth
    layout = _write(tmp_path, _layout_text(', "ignore_value": ' + deep))
    assert main(["gen", str(layout), "-o", str(tmp_path / "m.py")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    if depth > 128:
        assert _one_clean_line(err).startswith(f"losscheck: error: {layout}:1: invalid JSON: nested more than")
    else:
        assert f"{T0}.ignore_value: expected a number, got an array" in err
    assert not (tmp_path / "m.py").exists()


def test_the_layout_docs_link_only_to_files_in_the_repository():
    """A clone has only the repository: every relative link of docs/layout.md must resolve in it."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    root = docs.parent
    links = re.findall(r"\]\(([^)#\s]+)", (docs / "layout.md").read_text(encoding="utf-8"))
    relative = [link for link in links if "://" not in link]
    assert relative
    for link in relative:
        target = (docs / link).resolve()
        assert target.is_relative_to(root) and target.exists(), link
