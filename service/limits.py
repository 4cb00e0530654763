"""Request limits on ruleset sources: size and nesting depth, checked before any deep work.

The language itself refuses expressions nested deeper than 64 levels
(`dsl.parser.MAX_EXPRESSION_DEPTH`); a server's `max_nesting_depth` may set a
lower bound for requests. Sources are refused before parsing when their
brackets nest deeper than the limit; the parsed ruleset's expressions are
measured as the parser measures them before it is checked and compiled; and
a parser `limit` diagnostic or a `RecursionError` is reported as the same
limit, never as a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from dsl.errors import RulesetError
from dsl.parser import expression_depths
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


def check_tree(root: Any, field: str, limits: Limits) -> None:
    """Refuse a parsed ruleset whose expressions nest deeper than the limit.

    Depth is counted as the parser counts it for the language's own limit
    (`dsl.parser.expression_depths`, iteratively): `a + b` is 2 levels.
    """
    depth = max((d for _, d in expression_depths(root)), default=0)
    if depth > limits.max_nesting_depth:
        raise _depth_error(field, limits, f"expressions nest {depth} deep")


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
