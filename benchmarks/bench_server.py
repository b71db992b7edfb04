"""Warm re-lint after an edit in ``losscheck server`` (not part of the test suite).

The 322-line loss module (``benchmarks/data/loss_module_300.py``) is opened in the server, then
edited ``--edits`` times (a comment line appended to one function, a different one each time, so
no result can come from a cache); each edit is one ``didChange``. Measured:

- ``server``: over stdio, the wall time from sending ``didChange`` to receiving the
  ``publishDiagnostics`` of that version (the server runs with ``--debounce-ms 0``): what an
  editor waits once its debounce has passed;
- ``in-process``: the server's own lint of the edited text (``documents.Linter.lint``), no I/O;
- ``ruff server`` (when ``ruff`` is on PATH), driven the same way over stdio, for scale;
- ``losscheck lint`` of the same file as a process (``--no-cache``): what an editor would pay
  running the CLI on each edit.

Prints median and p90 in milliseconds. ``python benchmarks/bench_server.py [--edits N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULE = HERE / "data" / "loss_module_300.py"


class StdioServer:
    def __init__(self, command: list[str], root: Path) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root)
        self.frames: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.send({"id": 0, "method": "initialize", "params": {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {
            "textDocument": {"publishDiagnostics": {"versionSupport": True}}}}})
        self.wait(lambda m: m.get("id") == 0)
        self.send({"method": "initialized", "params": {}})

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.frames.put(None)
                    return
                if line.strip() == b"" and length is not None:
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.frames.put(json.loads(stream.read(length)))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def wait(self, want, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.frames.get(timeout=max(0.01, deadline - time.monotonic()))
            if frame is None:
                raise RuntimeError("the server exited")
            if frame.get("method") in ("workspace/configuration", "client/registerCapability", "window/workDoneProgress/create"):
                self.send({"id": frame["id"], "result": [None] * len(frame["params"].get("items", [])) if frame["method"] == "workspace/configuration" else None})
                continue
            if want(frame):
                return frame

    def diagnostics_for(self, uri: str, version: int) -> dict:
        def wanted(m: dict) -> bool:
            if m.get("method") != "textDocument/publishDiagnostics" or m["params"]["uri"] != uri:
                return False
            return m["params"].get("version") in (None, version)

        return self.wait(wanted)

    def close(self) -> None:
        try:
            self.send({"id": 99, "method": "shutdown"})
            self.wait(lambda m: m.get("id") == 99, timeout=10)
            self.send({"method": "exit"})
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a benchmark: make sure the process goes
            self.process.kill()


def edited(text: str, i: int) -> str:
    """``text`` with a comment added at the end of the ``i``-th function (a real edit inside
    loss code, different each time)."""
    lines = text.split("\n")
    defs = [n for n, line in enumerate(lines) if line.startswith("def ")]
    at = defs[(i % (len(defs) - 1)) + 1] - 1 if len(defs) > 1 else len(lines)
    return "\n".join([*lines[:at], f"    # edit {i}", *lines[at:]])


def over_stdio(command: list[str], root: Path, path: Path, edits: int) -> list[float]:
    text = path.read_text(encoding="utf-8")
    uri = path.as_uri()
    server = StdioServer(command, root)
    try:
        server.send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}})
        server.diagnostics_for(uri, 1)
        times = []
        for i in range(edits + 2):
            version = i + 2
            change = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited(text, i)}]}
            started = time.perf_counter()
            server.send({"method": "textDocument/didChange", "params": change})
            server.diagnostics_for(uri, version)
            times.append(time.perf_counter() - started)
        return times[2:]  # the first edits warm what the first lint did not touch
    finally:
        server.close()


def in_process(path: Path, edits: int) -> list[float]:
    from losscheck.server.documents import Linter, Snapshot
    from losscheck.server.projects import Projects

    text = path.read_text(encoding="utf-8")
    linter = Linter(Projects())
    linter.lint(Snapshot(path.as_uri(), str(path), 1, text.encode()))
    times = []
    for i in range(edits + 2):
        snapshot = Snapshot(path.as_uri(), str(path), i + 2, edited(text, i).encode())
        started = time.perf_counter()
        linter.lint(snapshot)
        times.append(time.perf_counter() - started)
    return times[2:]


def cli(path: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "losscheck", "lint", "--no-cache", "-q", str(path)], check=False, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def summary(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"{name:<34} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   (n={len(ms)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-server-") as folder:
        root = Path(folder)
        path = root / MODULE.name
        shutil.copyfile(MODULE, path)
        lines = MODULE.read_text(encoding="utf-8").count("\n")
        print(f"{MODULE.relative_to(HERE.parent)}: {lines} lines; {args.edits} edits")
        print(summary("losscheck server (stdio)", over_stdio([sys.executable, "-m", "losscheck", "server", "--debounce-ms", "0"], root, path, args.edits)))
        print(summary("losscheck server lint (in-process)", in_process(path, args.edits)))
        ruff = shutil.which("ruff")
        if ruff is not None:
            try:
                print(summary("ruff server (stdio)", over_stdio([ruff, "server"], root, path, args.edits)))
            except Exception as exc:  # noqa: BLE001 - for scale only
                print(f"ruff server: not measured ({type(exc).__name__}: {exc})")
        print(summary("losscheck lint --no-cache (process)", cli(path, args.cli_runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
