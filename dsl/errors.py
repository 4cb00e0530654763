"""Errors are data: diagnostics with a span, a message and a hint.

This module owns every error type the language raises and the one place
where diagnostics are rendered for people (text with a caret) and machines
(JSON-ready dicts). The gRPC status mapping lives in ``service/`` and works
from these same objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dsl.nodes import Span

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error or warning: where, what, and (optionally) what to do about it.

    ``code`` is a short stable identifier (``unknown-name``, ``syntax``, …) for
    tests and tools; ``hint`` is the "did you mean" or other suggestion.
    """

    severity: str
    message: str
    span: Span
    code: str = ""
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple[str, int, int]:
        return (self.span.file, self.span.line, self.span.column)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the same facts as the text form."""
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def source_lines(text: str) -> list[str]:
    """A source's lines numbered as Lark numbers them for spans: split at "\n" only.

    `str.splitlines` also breaks at \f, \v, \x1c–\x1e, \x85, U+2028 and U+2029, which
    may stand inside a string or comment, and every later line would be off by one.
    A final line break ends the last line (as with splitlines); a "\r" before it goes.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def render(diag: Diagnostic, source: str | None) -> str:
    """Render one diagnostic as SPEC §1.10 shows: header, source line, caret.

    The message and hint form one line (``…; did you mean 'x'?``); the caret
    runs under the span on its first line (at least one ``^``).
    """
    s = diag.span
    message = diag.message if not diag.hint else f"{diag.message}; {diag.hint}"
    out = [f"{s.file}:{s.line}:{s.column}: {diag.severity}: {message}"]
    if source is not None and s.line >= 1:
        lines = source_lines(source)
        if s.line <= len(lines):
            text = lines[s.line - 1].expandtabs(1)
            end = s.end_column if s.end_line == s.line else len(text) + 1
            width = max(1, end - s.column)
            out.append("    " + text)
            out.append("    " + " " * (s.column - 1) + "^" * width)
    return "\n".join(out)


def render_all(diags: Iterable[Diagnostic], source: str | None) -> str:
    return "\n".join(render(d, source) for d in diags)


class ThiduaError(Exception):
    """Base of every error the engine raises on purpose (never a bare traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RulesetError(ThiduaError):
    """A ruleset that does not parse or check: carries every diagnostic of the file."""

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.source = source
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else (self.diagnostics[0] if self.diagnostics else None)
        head = f"{first.span}: {first.message}" if first else "invalid ruleset"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(head + more)

    def render(self) -> str:
        return render_all(self.diagnostics, self.source)


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One problem with one field of a submission or case (``field`` is a dotted path)."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InputError(ThiduaError):
    """A submission or case that does not fit the ruleset: every violation at once."""

    def __init__(self, violations: list[FieldViolation], what: str = "submission") -> None:
        self.violations = list(violations)
        self.what = what
        lines = "; ".join(f"{v.field}: {v.message}" for v in self.violations)
        super().__init__(f"invalid {what}: {lines}")


@dataclass
class EvaluationError(ThiduaError):
    """Evaluation failed (division by zero, an exhausted rotation chain, …).

    ``where`` names the criterion, let, level, title or rotation role; ``span``
    points at its source line.
    """

    message: str
    where: str = ""
    span: Span | None = None
    unit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        parts = []
        if self.unit:
            parts.append(f"unit {self.unit}")
        if self.where:
            parts.append(self.where)
        if self.span is not None and self.span.line:
            parts.append(f"at {self.span}")
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class NotFoundError(ThiduaError):
    """A ruleset (or other named thing) that does not exist."""


class ConflictError(ThiduaError):
    """Publishing an existing version with other content."""


class LimitError(ThiduaError):
    """A configured limit was exceeded (``limit`` names it)."""

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)
