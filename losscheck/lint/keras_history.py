"""What a project's version history says about its Keras, when its code says nothing.

Keras 3.0.0 was released on 2023-11-28. A repository whose newest commit is older than that was
written for Keras 2 (or tf.keras, which stayed Keras 2 until TensorFlow 2.16): no file in it can
target an API that did not exist yet. Old projects that pin nothing and use only backend calls
(``K.log``...) are common, and without this they would be judged against Keras 3.

The date is the committer date of ``HEAD``, read with ``git log`` (nothing is written; a missing
``git``, a folder that is no repository, a refusal such as git's ownership check, or a slow
answer all mean "no evidence"). A newer history says nothing: a project committed last year may
still be Keras 2 code, and the rest of the evidence (``keras_project.py``) decides that.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from functools import lru_cache
from typing import NamedTuple

KERAS3_RELEASE = dt.datetime(2023, 11, 28, tzinfo=dt.timezone.utc)
_TIMEOUT_S = 2.0


class History(NamedTuple):
    last_commit: dt.datetime  # HEAD's committer date

    @property
    def before_keras3(self) -> bool:
        return self.last_commit < KERAS3_RELEASE

    def reason(self) -> str:
        return (f"the repository's last commit ({self.last_commit:%Y-%m-%d}) is older than Keras 3 "
                f"({KERAS3_RELEASE:%Y-%m-%d})")


@lru_cache(maxsize=64)
def history(root: str) -> History | None:
    """The history of the git repository holding ``root``, or None when there is none to read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # the folder's own repository
    env["GIT_OPTIONAL_LOCKS"] = "0"  # a read never takes the index lock
    own = os.path.join(root, ".git")
    # the root's own `.git` (a folder, or a worktree's file) and nothing above it: an empty or
    # broken one is no history, not the history of some repository that happens to hold it
    where = [f"--git-dir={own}"] if os.path.lexists(own) else ["-C", root]
    try:
        done = subprocess.run(
            ["git", *where, "log", "-1", "--format=%ct", "HEAD"],
            capture_output=True, timeout=_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.strip()
    if done.returncode != 0 or not text.isdigit():
        return None
    return History(dt.datetime.fromtimestamp(int(text), dt.timezone.utc))


def clear() -> None:
    """Forget what was read (the repository may have new commits)."""
    history.cache_clear()
