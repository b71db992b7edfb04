"""Deferred package init (losscheck/deferred_init.py): libcst.metadata's __init__ runs on first use.

Each check runs in a fresh interpreter: the test process has imported libcst already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest


def _python(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


EAGER = """
    import json, sys
    import libcst, libcst.metadata as m
    print(json.dumps({"names": sorted(vars(m)), "all": sorted(m.__all__)}))
"""

DEFERRED = """
    import json, sys
    from losscheck.deferred_init import deferred_package_init
    with deferred_package_init():
        import libcst
        import libcst.metadata.position_provider  # a submodule imports as usual
    m = sys.modules["libcst.metadata"]
    before = {"pending": type(m).__name__, "providers": "libcst.metadata.scope_provider" in sys.modules,
              "subprocess": "subprocess" in sys.modules}
    from libcst.metadata import ScopeProvider  # the first read of a name runs the __init__
    print(json.dumps({**before, "after": type(m).__name__, "names": sorted(vars(m)), "all": sorted(m.__all__),
                      "scope": ScopeProvider.__module__, "loader": type(m.__loader__).__name__}))
"""


def test_the_package_init_runs_on_first_use_and_leaves_what_an_import_leaves() -> None:
    eager = _python(EAGER)
    deferred = _python(DEFERRED)
    assert deferred["pending"] == "_PendingPackage"
    assert not deferred["providers"] and not deferred["subprocess"]
    assert deferred["after"] == "module" and deferred["scope"] == "libcst.metadata.scope_provider"
    assert deferred["loader"] == "SourceFileLoader"
    assert deferred["all"] == eager["all"]
    assert set(deferred["names"]) - {"_pending_init"} == set(eager["names"])


def test_a_missing_name_is_still_an_attribute_error() -> None:
    out = _python("""
        import json
        from losscheck.deferred_init import deferred_package_init
        with deferred_package_init():
            import libcst
        import libcst.metadata as m
        try:
            m.NoSuchProvider
        except AttributeError as exc:
            print(json.dumps({"error": str(exc), "has": hasattr(m, "MetadataWrapper")}))
    """)
    assert out == {"error": "module 'libcst.metadata' has no attribute 'NoSuchProvider'", "has": True}


def test_a_package_imported_before_the_block_is_left_alone() -> None:
    out = _python("""
        import json, sys
        import libcst
        from losscheck.deferred_init import deferred_package_init
        with deferred_package_init():
            import libcst.metadata
        print(json.dumps({"type": type(sys.modules["libcst.metadata"]).__name__,
                          "finders": sum(type(f).__name__ == "_DeferringFinder" for f in sys.meta_path)}))
    """)
    assert out == {"type": "module", "finders": 0}


@pytest.mark.parametrize("command", [["lint", "--no-cache", "--isolated"], ["lint", "--no-cache", "--isolated", "--fix", "--diff"]])
def test_a_lint_run_never_imports_the_metadata_providers(tmp_path, command) -> None:
    # a Keras 2 backend call with a safe fix: --fix --diff computes positions and the fixed text
    (tmp_path / "loss.py").write_text("from keras import backend as K\n\ndef loss(y_true, y_pred):\n"
                                      "    return K.mean(K.square(y_true - y_pred), axis=-1)\n")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "losscheck", *command, "loss.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 1) and ("LCK302" in proc.stdout or "ops.mean" in proc.stdout), proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "libcst" in imported and "libcst.metadata.position_provider" in imported
    assert "libcst.metadata.type_inference_provider" not in imported and "subprocess" not in imported
