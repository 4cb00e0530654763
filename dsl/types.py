"""Static types of the ruleset language, shared by the checker and the compiler.

A type is a small frozen value. Numbers are one type (``number``): ``int`` and
``decimal`` inputs differ only in validation, never in arithmetic (everything is
exact decimal, SPEC §1.4).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    """``kind`` is one of: number, bool, text, date, enum, list, level, unit or
    error. ``values`` lists an enum's (or level's) values;
    ``fields`` a list's record fields; ``integral`` marks int-declared inputs."""

    kind: str
    values: tuple[str, ...] = ()
    fields: tuple[tuple[str, Type], ...] = ()
    integral: bool = False

    def __str__(self) -> str:
        if self.kind == "enum":
            return "enum(" + ", ".join(self.values) + ")"
        if self.kind == "list":
            return "list of {" + ", ".join(f"{n}: {t}" for n, t in self.fields) + "}"
        if self.kind == "number" and self.integral:
            return "int"
        return self.kind


NUMBER = Type("number")
INT = Type("number", integral=True)
BOOL = Type("bool")
TEXT = Type("text")
DATE = Type("date")
UNIT = Type("unit")
#: The type of an expression that already produced an error; never reported twice.
ERROR = Type("error")


def enum(values: tuple[str, ...]) -> Type:
    return Type("enum", values=values)


def level(names: tuple[str, ...]) -> Type:
    """The type of ``level``: its values are the classification's level names."""
    return Type("level", values=names)


def list_of(fields: tuple[tuple[str, Type], ...]) -> Type:
    return Type("list", fields=fields)


def has_values(t: Type) -> bool:
    """True for types whose values may be written bare (enums and levels)."""
    return t.kind in ("enum", "level")
