"""Errors that reach the user as a clear message and exit code 2, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class UserError(Exception):
    """Bad input, usage or configuration: printed as ``losscheck: <where>: <message>``, exit 2."""

    message: str
    where: str | None = None  # a file, a file:line, or a file plus a JSON path

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
