"""Errors raised for bad input: a scenario, an override, a trace or a CLI argument.

Every error names where the problem is (file, field path or line) and what was expected, so that
the CLI can print it as one line and exit with code 2 instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class InputError(Exception):
    """Bad user input; ``str(error)`` is the one-line message the CLI prints."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``file:line: field: message``, leaving out the parts that are unknown."""
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        elif self.line is not None:
            where = f"line {self.line}"
        parts = [part for part in (where, self.field) if part]
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split())  # one line, whatever the message held


class ScenarioError(InputError):
    """A scenario file or dict that does not satisfy the schema."""


class TraceError(InputError):
    """A traffic trace that is missing, empty or has a malformed line."""


@contextmanager
def trace_context(field: str = "traffic.replay.path") -> Iterator[None]:
    """Name the scenario field that led to a bad trace in the error it raises."""
    try:
        yield
    except TraceError as error:
        if error.field is not None:
            raise
        raise TraceError(error.message, file=error.file, line=error.line, field=field) from None
