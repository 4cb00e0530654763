"""Request limits on ruleset sources: size and nesting depth, checked before any deep work.

The parser and the checker recurse over expressions, so a source nested
thousands deep could exhaust the interpreter's stack. Sources are refused
before parsing when their brackets nest deeper than the limit; the parsed
syntax tree is measured (without recursion) before it is checked and
compiled; and a `RecursionError` that still happens is reported as the same
limit, never as a crash.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypeVar

from dsl.errors import RulesetError
from service.config import Limits
from service.errors import RequestLimitError

T = TypeVar("T")

_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[(\[{]|[)\]}]')
_OPEN = frozenset("([{")
_CLOSE = frozenset(")]}")


def check_source(text: str, field: str, limits: Limits) -> None:
    """Refuse a source over the size limit, or whose brackets nest deeper than the depth limit."""
    size = len(text.encode("utf-8"))
    if size > limits.max_source_bytes:
        raise RequestLimitError(
            "max_source_bytes",
            field,
            f"the source is {size} bytes, more than the {limits.max_source_bytes} allowed",
        )
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif token in _CLOSE:
            depth = max(0, depth - 1)
    # The ruleset's own braces (ruleset { group { … } }) count too: allow for them.
    if deepest > limits.max_nesting_depth + 4:
        raise _depth_error(field, limits, f"brackets nest {deepest} deep")


def _depth_error(field: str, limits: Limits, what: str) -> RequestLimitError:
    return RequestLimitError(
        "max_nesting_depth",
        field,
        f"{what}, deeper than the {limits.max_nesting_depth} levels allowed",
    )


def tree_depth(root: Any) -> int:
    """The depth of a syntax tree of frozen dataclasses (lists and tuples count as one level), iteratively."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                if f.name == "span":
                    continue
                child = getattr(node, f.name)
                if dataclasses.is_dataclass(child) or isinstance(child, (list, tuple)):
                    stack.append((child, depth + 1))
        elif isinstance(node, (list, tuple)):
            stack.extend(
                (child, depth)
                for child in node
                if dataclasses.is_dataclass(child) or isinstance(child, (list, tuple))
            )
    return deepest


#: Declarations add a few levels above the expressions (ruleset → group → criterion → expression).
_DECLARATION_LEVELS = 8


def check_tree(root: Any, field: str, limits: Limits) -> None:
    """Refuse a parsed ruleset whose expressions nest deeper than the limit."""
    depth = tree_depth(root) - _DECLARATION_LEVELS
    if depth > limits.max_nesting_depth:
        raise _depth_error(field, limits, f"expressions nest about {depth} deep")


def depth_guarded(field: str, limits: Limits, work: Callable[[], T]) -> T:
    """Run ``work``; running out of stack on a deep source is the nesting limit, not a crash."""
    try:
        return work()
    except RecursionError:
        raise _depth_error(field, limits, "the source nests too deep to process") from None
    except RulesetError as exc:
        # The parser and checker report running out of stack as a diagnostic with code "limit".
        if any(d.code == "limit" or "recursion" in d.message for d in exc.diagnostics):
            raise _depth_error(field, limits, "the source nests too deep to parse") from None
        raise
