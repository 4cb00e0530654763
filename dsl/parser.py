"""Ruleset text → AST (`dsl.nodes`). The only module that touches Lark.

The grammar (``grammar/thidua.lark``) is loaded once per process, from the
installed package data, with Lark's cache. Lark's exceptions are converted here,
and only here, into `RulesetError` diagnostics worded for ruleset authors:
what was expected, in words, after which token, with the span of the offending
token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import re
import threading
import typing
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from typing import Any

import lark
from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive

from dsl import nodes as n
from dsl.check_scope import did_you_mean
from dsl.errors import ERROR, Diagnostic, RulesetError, source_lines

_lock = threading.Lock()
_parser: lark.Lark | None = None

SIMPLE_TYPES = ("int", "decimal", "bool", "text", "date")
ROUNDING_MODES = ("half_up", "half_even", "down")
REMOVABLE = ("input", "let", "criterion", "title", "group")
ROLES = ("leader", "deputy")
PICK_SCOPES = ("current", "elected")
PICK_SOURCES = ("ranking", "members")
#: Words that can never be declared names: they start or glue constructs.
RESERVED = frozenset(
    [
        "ruleset",
        "version",
        "extends",
        "description",
        "effective",
        "to",
        "rounding",
        "input",
        "let",
        "group",
        "bonus",
        "penalty",
        "criterion",
        "max",
        "classify",
        "when",
        "unless",
        "otherwise",
        "ranking",
        "by",
        "title",
        "require",
        "quota",
        "rotation",
        "remove",
        "test",
        "for",
        "given",
        "expect",
        "if",
        "then",
        "else",
        "and",
        "or",
        "not",
        "in",
        "where",
        "of",
        "table",
        "true",
        "false",
        "default",
        "enum",
        "list",
        "next",
        "after",
        "first",
        "asc",
        "desc",
    ]
)


def grammar_text() -> str:
    """The grammar source, read from the installed ``grammar`` package."""
    return (resources.files("grammar") / "thidua.lark").read_text(encoding="utf-8")


def _get_parser() -> lark.Lark:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                _parser = lark.Lark(
                    grammar_text(),
                    parser="lalr",
                    lexer="contextual",
                    propagate_positions=True,
                    maybe_placeholders=False,
                    cache=True,
                )
    return _parser


def normalize(text: str) -> str:
    """NFC-normalize source text (SPEC §1.1) and drop a leading byte-order mark."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return unicodedata.normalize("NFC", text)


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is parsed.

    Parsing allocates a great many objects and frees none that form cycles
    (tokens, Lark trees, frozen nodes), yet every allocation counts towards a
    collection that walks the whole growing heap: on 5,000 criteria this made
    parse time grow 18× for 10× the input instead of 9.5×. Reference counting
    still frees everything as usual. Concurrent parses share one pause: the
    collector is resumed when the last one ends, and only if it was on before.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def parse(text: str, path: str = "<string>") -> n.SourceFile:
    """Parse a whole ruleset file. Raises `RulesetError` with syntax diagnostics."""
    with _gc_paused():
        return _parse(normalize(text), path)


def _parse(text: str, path: str) -> n.SourceFile:
    try:
        tree = _get_parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise RulesetError([_syntax_diagnostic(exc, text, path)], text) from None
    builder = _Builder(path)
    try:
        # Transformer_NonRecursive: any depth is read into nodes; the depth limit below then
        # names the expression that is too deep instead of running out of stack.
        result = builder.transform(tree)
    except lark.exceptions.VisitError as exc:
        orig = exc.orig_exc
        if isinstance(orig, _BuildError):
            builder.errors.append(orig.diagnostic)
        else:  # pragma: no cover - a bug in the builder, still reported as our own error
            builder.errors.append(
                Diagnostic(ERROR, f"internal parser error: {orig}", n.Span(1, 1, 1, 2, path), "internal")
            )
        raise RulesetError(builder.errors, text) from None
    if _tree_height(tree) > MAX_EXPRESSION_DEPTH:
        # Rare: only then are the expressions measured one by one (the tree's height also
        # counts the few levels of declarations around them).
        builder.errors.extend(_too_deep(result, path))
    if builder.errors:
        raise RulesetError(builder.errors, text)
    ruleset, tests = result
    return n.SourceFile(path, ruleset, tuple(tests), tuple(scan_comments(text)), text)


#: The deepest expression the language accepts: far beyond any real criterion, and shallow
#: enough for every later stage to stay inside Python's limits — the checker's, interpreter's,
#: formatter's and diff's walks are recursive, and the compiler nests an `if` (or `and`/`or`)
#: whose branches need statements one indentation level deeper (Python allows 100).
#: Split a deeper expression with `let`s. (The service's `max_nesting_depth` defaults to the same.)
MAX_EXPRESSION_DEPTH = 64

_EXPR_TYPES: tuple[type, ...] = typing.get_args(n.Expr)


def _tree_height(tree: lark.Tree[Token]) -> int:
    """The height of Lark's parse tree, iteratively (a bound on every expression's depth)."""
    highest = 0
    stack = [(tree, 1)]
    while stack:
        node, height = stack.pop()
        if height > highest:
            highest = height
        height += 1
        stack.extend((child, height) for child in node.children if isinstance(child, lark.Tree))
    return highest


def expression_depths(root: Any) -> list[tuple[Any, int]]:
    """Every outermost expression under ``root`` (nodes, lists, tuples) with its depth, iteratively.

    An expression's depth counts the expression nodes on its longest path: `a` is 1,
    `a + b` is 2, `-(a + b)` is 3. Returned in source order.
    """
    deepest: dict[int, tuple[Any, int]] = {}
    stack: list[tuple[Any, int, Any]] = [(root, 0, None)]
    while stack:
        node, depth, top = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend((child, depth, top) for child in node)
            continue
        if not dataclasses.is_dataclass(node) or isinstance(node, type):
            continue
        if isinstance(node, _EXPR_TYPES):
            depth += 1
            if top is None:
                top = node
            seen = deepest.get(id(top))
            if seen is None or seen[1] < depth:
                deepest[id(top)] = (top, depth)
        for f in dataclasses.fields(node):
            if f.name != "span":
                stack.append((getattr(node, f.name), depth, top))
    found = list(deepest.values())
    found.sort(key=lambda item: (item[0].span.line, item[0].span.column))
    return found


def _too_deep(result: Any, path: str) -> list[Diagnostic]:
    """A diagnostic for every expression nested deeper than `MAX_EXPRESSION_DEPTH`, at the expression."""
    return [
        Diagnostic(
            ERROR,
            f"this expression nests {depth} levels deep, more than the {MAX_EXPRESSION_DEPTH} allowed",
            n.Span(expr.span.line, expr.span.column, expr.span.line, expr.span.column + 1, path),
            "limit",
            "split the expression with `let` declarations",
        )
        for expr, depth in expression_depths(result)
        if depth > MAX_EXPRESSION_DEPTH
    ]


def parse_expr(text: str, path: str = "<expr>") -> n.Expr:
    """Parse a single expression (used by tools and tests): wraps it in a `let`."""
    wrapped = f'ruleset _ version "0" {{ let _ =\n{text}\n}}'
    sf = parse(wrapped, path)
    assert sf.ruleset is not None
    let = sf.ruleset.items[0]
    assert isinstance(let, n.Let)
    return let.expr


def scan_comments(text: str) -> list[n.Comment]:
    """Every ``#`` comment outside string literals, with its position."""
    out: list[n.Comment] = []
    # Numbered as Lark numbers lines for spans (see `source_lines`).
    for lineno, line in enumerate(source_lines(text), start=1):
        in_string = False
        i = 0
        while i < len(line):
            c = line[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "#":
                out.append(n.Comment(line[i:].rstrip(), lineno, i + 1))
                break
            i += 1
    return out


# ------------------------------------------------------------ syntax errors

_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": 'a quoted text ("…")',
    "INT": "a whole number",
    "DECIMAL": "a number",
    "PERCENT": "a percentage",
    "DATE": "a date (YYYY-MM-DD)",
    "CMP_OP": "a comparison (==, !=, <, <=, >, >=)",
    "$END": "the end of the file",
    "ASC": "`asc`",
    "DESC": "`desc`",
}


#: The terminals that can start any operand (a literal, a name, `(`, unary `-`, a table).
_OPERAND_STARTS = frozenset(
    {"DATE", "DECIMAL", "FALSE", "INT", "LPAR", "MINUS", "NAME", "PERCENT", "STRING", "TABLE", "TRUE"}
)


def _describe_terminals(names: set[str]) -> list[str]:
    parser = _get_parser()
    by_name = {t.name: t for t in parser.terminals}
    words: list[str] = []
    numbers = {"INT", "DECIMAL", "PERCENT"}
    if _OPERAND_STARTS <= names:
        # Listing a dozen ways an operand can start (and cutting the list at "…") hid
        # the point; authors think "an expression was expected here".
        words.append("an expression")
        names = names - _OPERAND_STARTS - {"IF", "NOT"}
    if numbers <= names:
        words.append("a number")
        names = names - numbers
    for name in sorted(names):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
            continue
        term = by_name.get(name)
        if term is not None and isinstance(term.pattern, lark.lexer.PatternStr):
            words.append(f"`{term.pattern.value}`")
        else:
            words.append(name.lower())
    # Keywords first, then the generic classes: reads better ("`}` or a name").
    words = sorted(set(words), key=lambda w: (not w.startswith("`"), w))
    return words


def _join_words(words: list[str]) -> str:
    if len(words) > 8:
        words = [*words[:7], "…"]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _previous_token(text: str, line: int, column: int) -> str | None:
    lines = source_lines(text)
    current = lines[line - 1][: column - 1] if line - 1 < len(lines) else ""
    before = "\n".join([*lines[: line - 1], current])
    before = re.sub(r"#[^\n]*", "", before).rstrip()
    m = re.search(r'("(?:[^"\\\n]|\\.)*"|[\w%.-]+|==|!=|<=|>=|\.\.|\S)$', before)
    return m.group(1) if m else None


def _token_width(tok: Token) -> int:
    if tok.end_column is not None and tok.end_line == tok.line and tok.column is not None:
        return max(1, tok.end_column - tok.column)
    return max(1, len(str(tok)))


def _syntax_diagnostic(exc: lark.exceptions.UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    if line < 1:  # Lark reports -1 at end of input
        lines = source_lines(text) or [""]
        line, column = len(lines), len(lines[-1]) + 1
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            msg = 'unterminated text: a `"` without its closing `"` on the same line'
        else:
            msg = f"unexpected character `{ch}`"
        span = n.Span(line, column, line, column + 1, path)
        return Diagnostic(ERROR, msg, span, "syntax")
    expected: set[str] = set(getattr(exc, "expected", None) or ())
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        tok = exc.token
        expected = set(exc.accepts or exc.expected)
        if tok.type == "$END":
            found = "the end of the file"
            width = 1
        else:
            found = f"`{tok}`"
            width = _token_width(tok)
            line, column = tok.line or line, tok.column or column
    else:
        found = "the end of the file"
        width = 1
    words = _join_words(_describe_terminals(expected)) if expected else "something else"
    prev = _previous_token(text, line, column)
    after = f" after `{prev}`" if prev else ""
    msg = f"expected {words}{after}, found {found}"
    hint = _syntax_hint(expected, found)
    return Diagnostic(ERROR, msg, n.Span(line, column, line, column + width, path), "syntax", hint)


def _syntax_hint(expected: set[str], found: str) -> str | None:
    if found.startswith("`") and found.strip("`") in RESERVED and "NAME" in expected:
        return f"{found} is a reserved word and cannot be used as a name"
    if "ELSE" in expected and len(expected) <= 3:
        return "`if … then …` needs an `else` branch"
    return None


# ------------------------------------------------------------------ builder


class _BuildError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):  # type: ignore[type-arg]
    """Turns Lark's tree into `dsl.nodes`; collects validation errors."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.errors: list[Diagnostic] = []

    # ---- helpers
    def _span(self, meta: Any) -> n.Span:
        if getattr(meta, "empty", True):
            return n.NO_SPAN
        return n.Span(meta.line, meta.column, meta.end_line, meta.end_column, self.path)

    def _tspan(self, tok: Token) -> n.Span:
        return n.Span(tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0, self.path)

    def _error(self, tok_or_span: Token | n.Span, message: str, hint: str | None = None) -> None:
        span = tok_or_span if isinstance(tok_or_span, n.Span) else self._tspan(tok_or_span)
        self.errors.append(Diagnostic(ERROR, message, span, "syntax", hint))

    def _name(self, tok: Token) -> str:
        if str(tok) in RESERVED:
            self._error(tok, f"`{tok}` is a reserved word and cannot be used as a name")
        return str(tok)

    def _string(self, tok: Token) -> str:
        raw = str(tok)[1:-1]
        out: list[str] = []
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == "\\":
                nxt = raw[i + 1] if i + 1 < len(raw) else ""
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    col = (tok.column or 0) + 1 + i
                    self._error(
                        n.Span(tok.line or 0, col, tok.line or 0, col + 2, self.path),
                        f"unknown escape `\\{nxt}` in text",
                        'the escapes are \\" \\\\ and \\n',
                    )
                i += 2
                continue
            out.append(c)
            i += 1
        return unicodedata.normalize("NFC", "".join(out))

    def _choice(self, tok: Token, allowed: tuple[str, ...], what: str) -> str:
        value = str(tok)
        if value not in allowed:
            hint = did_you_mean(value, allowed)
            self._error(tok, f"unknown {what} '{value}'; expected one of: {', '.join(allowed)}", hint)
        return value

    # ---- file
    def start(self, meta: Any, children: list[Any]) -> tuple[n.Ruleset | None, list[n.Test]]:
        ruleset = children[0] if children and isinstance(children[0], n.Ruleset) else None
        tests = [c for c in children if isinstance(c, n.Test)]
        return ruleset, tests

    def ruleset(self, meta: Any, c: list[Any]) -> n.Ruleset:
        name, version = self._name(c[0]), self._string(c[1])
        rest = c[2:]
        parent = rest.pop(0) if rest and isinstance(rest[0], n.ParentRef) else None
        return n.Ruleset(name, version, parent, tuple(rest), span=self._span(meta))

    def parent(self, meta: Any, c: list[Any]) -> n.ParentRef:
        return n.ParentRef(self._name(c[0]), self._string(c[1]), span=self._span(meta))

    def description(self, meta: Any, c: list[Any]) -> n.Description:
        return n.Description(self._string(c[0]), span=self._span(meta))

    def _date(self, tok: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(tok))
        except ValueError:
            self._error(tok, f"'{tok}' is not a valid date", "dates are written YYYY-MM-DD")
            return dt.date(1970, 1, 1)

    def effective(self, meta: Any, c: list[Any]) -> n.Effective:
        start, end = self._date(c[0]), self._date(c[1])
        if end < start:
            self._error(self._span(meta), f"the effective period ends ({end}) before it starts ({start})")
        return n.Effective(start, end, span=self._span(meta))

    def rounding(self, meta: Any, c: list[Any]) -> n.Rounding:
        places = int(c[0])
        if places > 10:
            self._error(c[0], f"rounding to {places} places is more than the 10 places allowed")
        mode = c[1] if len(c) > 1 else "half_up"
        return n.Rounding(places, mode, span=self._span(meta))

    def rounding_mode(self, meta: Any, c: list[Any]) -> str:
        return self._choice(c[0], ROUNDING_MODES, "rounding mode")

    # ---- inputs
    def input(self, meta: Any, c: list[Any]) -> n.Input:
        name = self._name(c[0])
        typ = c[1]
        constraint = default = label = better = None
        for part in c[2:]:
            if isinstance(part, n.Constraint):
                constraint = part
            elif isinstance(part, tuple) and part and part[0] == "default":
                default = part[1]
            elif isinstance(part, tuple) and part and part[0] == "label":
                label = part[1]
            elif isinstance(part, tuple) and part and part[0] == "better":
                better = part[1]
        return n.Input(name, typ, constraint, default, label, better, span=self._span(meta))

    def better(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("better", str(c[0]))

    def label(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("label", self._string(c[0]))

    def default(self, meta: Any, c: list[Any]) -> tuple[str, n.Expr]:
        return ("default", c[0])

    def simple_type(self, meta: Any, c: list[Any]) -> n.SimpleType:
        return n.SimpleType(self._choice(c[0], SIMPLE_TYPES, "type"), span=self._span(meta))

    def enum_type(self, meta: Any, c: list[Any]) -> n.EnumType:
        values = tuple(self._name(t) for t in c)
        seen: set[str] = set()
        for t in c:
            if str(t) in seen:
                self._error(t, f"enum value '{t}' is listed twice")
            seen.add(str(t))
        return n.EnumType(values, span=self._span(meta))

    def list_type(self, meta: Any, c: list[Any]) -> n.ListType:
        return n.ListType(tuple(c), span=self._span(meta))

    def record_field(self, meta: Any, c: list[Any]) -> n.RecordField:
        return n.RecordField(self._name(c[0]), c[1], span=self._span(meta))

    def constraint_cmp(self, meta: Any, c: list[Any]) -> n.Constraint:
        op = str(c[0])
        if op in ("==", "!="):
            self._error(c[0], f"`{op}` is not an input constraint", "use >=, <=, >, < or `in LO..HI`")
        return n.Constraint(op, c[1], None, span=self._span(meta))

    def constraint_range(self, meta: Any, c: list[Any]) -> n.Constraint:
        return n.Constraint("in", c[0], c[1], span=self._span(meta))

    # ---- scoring
    def let(self, meta: Any, c: list[Any]) -> n.Let:
        return n.Let(self._name(c[0]), c[1], span=self._span(meta))

    def max_clause(self, meta: Any, c: list[Any]) -> n.Number:
        num: n.Number = c[0]
        return num

    def criterion(self, meta: Any, c: list[Any]) -> n.Criterion:
        name, label = self._name(c[0]), self._string(c[1])
        mx = c[2] if len(c) == 4 else None
        return n.Criterion(name, label, mx, c[-1], span=self._span(meta))

    def group(self, meta: Any, c: list[Any]) -> n.Group:
        return n.Group(self._name(c[0]), self._string(c[1]), c[2], tuple(c[3:]), span=self._span(meta))

    def bonus(self, meta: Any, c: list[Any]) -> n.Bonus:
        return n.Bonus(self._string(c[0]), c[1], tuple(c[2:]), span=self._span(meta))

    def penalty(self, meta: Any, c: list[Any]) -> n.Penalty:
        label = self._string(c[0])
        rest = c[1:]
        mx = rest.pop(0) if rest and isinstance(rest[0], n.Number) else None
        return n.Penalty(label, mx, tuple(rest), span=self._span(meta))

    def score_def(self, meta: Any, c: list[Any]) -> n.ScoreDef:
        return n.ScoreDef(c[0], span=self._span(meta))

    def classify(self, meta: Any, c: list[Any]) -> n.Classify:
        return n.Classify(tuple(c), span=self._span(meta))

    def level_when(self, meta: Any, c: list[Any]) -> n.Level:
        unless = c[3] if len(c) > 3 else None
        return n.Level(self._name(c[0]), self._string(c[1]), c[2], unless, span=self._span(meta))

    def level_otherwise(self, meta: Any, c: list[Any]) -> n.Level:
        return n.Level(self._name(c[0]), self._string(c[1]), None, None, span=self._span(meta))

    def unless(self, meta: Any, c: list[Any]) -> n.Expr:
        expr: n.Expr = c[0]
        return expr

    def ranking(self, meta: Any, c: list[Any]) -> n.Ranking:
        return n.Ranking(c[0], span=self._span(meta))

    def sort_keys(self, meta: Any, c: list[Any]) -> tuple[n.SortKey, ...]:
        return tuple(c)

    def sort_key(self, meta: Any, c: list[Any]) -> n.SortKey:
        descending = c[1] != "asc" if len(c) > 1 else True
        return n.SortKey(c[0], descending, span=self._span(meta))

    def direction(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def title(self, meta: Any, c: list[Any]) -> n.Title:
        name, label = self._name(c[0]), self._string(c[1])
        requires: list[n.Require] = []
        quota: n.Quota | None = None
        rank_by: tuple[n.SortKey, ...] | None = None
        for part in c[2:]:
            if isinstance(part, n.Require):
                requires.append(part)
            elif isinstance(part, n.Quota):
                if quota is not None:
                    self._error(part.span, f"title '{name}' has more than one quota")
                quota = part
            else:
                if rank_by is not None:
                    self._error(self._span(meta), f"title '{name}' has more than one `rank by`")
                rank_by = part
        return n.Title(name, label, tuple(requires), quota, rank_by, span=self._span(meta))

    def require(self, meta: Any, c: list[Any]) -> n.Require:
        reason = c[1][1] if len(c) > 1 else None
        return n.Require(c[0], reason, span=self._span(meta))

    def quota(self, meta: Any, c: list[Any]) -> n.Quota:
        tok = c[0]
        span = self._span(meta)
        if tok.type == "PERCENT":
            pct = Decimal(str(tok)[:-1]) / 100
            if not (0 < pct <= 1):
                self._error(tok, f"quota {tok} must be more than 0% and at most 100%")
            return n.Quota(None, pct, str(tok), span=span)
        count = int(tok)
        if count < 1:
            self._error(tok, "a quota must award at least 1 unit")
        return n.Quota(count, None, str(tok), span=span)

    def rank_by(self, meta: Any, c: list[Any]) -> tuple[n.SortKey, ...]:
        keys: tuple[n.SortKey, ...] = c[0]
        return keys

    def rotation(self, meta: Any, c: list[Any]) -> n.Rotation:
        seen: set[str] = set()
        for rule in c:
            if rule.role in seen:
                self._error(rule.span, f"the rotation defines `{rule.role}` twice")
            seen.add(rule.role)
        return n.Rotation(tuple(c), span=self._span(meta))

    def rotation_rule(self, meta: Any, c: list[Any]) -> n.RotationRule:
        role = self._choice(c[0], ROLES, "rotation role")
        return n.RotationRule(role, tuple(c[1:]), span=self._span(meta))

    def ref_pick(self, meta: Any, c: list[Any]) -> n.RefPick:
        scope = self._choice(c[0], PICK_SCOPES, "pick")
        role = self._choice(c[1], ROLES, "role")
        return n.RefPick(scope, role, span=self._span(meta))

    def next_pick(self, meta: Any, c: list[Any]) -> n.NextAfterPick:
        where = c[1] if len(c) > 1 else None
        return n.NextAfterPick(c[0], where, span=self._span(meta))

    def first_pick(self, meta: Any, c: list[Any]) -> n.FirstOfPick:
        source = self._choice(c[0], PICK_SOURCES, "pick source")
        where = c[1] if len(c) > 1 else None
        return n.FirstOfPick(source, where, span=self._span(meta))

    def where_clause(self, meta: Any, c: list[Any]) -> n.Expr:
        expr: n.Expr = c[0]
        return expr

    def remove(self, meta: Any, c: list[Any]) -> n.Remove:
        kind = self._choice(c[0], REMOVABLE, "kind to remove")
        return n.Remove(kind, self._name(c[1]), span=self._span(meta))

    # ---- tests
    def test(self, meta: Any, c: list[Any]) -> n.Test:
        label = self._string(c[0])
        target = None
        given: tuple[n.Given, ...] = ()
        expects: list[n.Expect] = []
        for part in c[1:]:
            if isinstance(part, n.Expect):
                expects.append(part)
            elif isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], str):
                target = part
            else:
                given = part
        return n.Test(label, target, given, tuple(expects), span=self._span(meta))

    def test_target(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return (self._name(c[0]), self._string(c[1]))

    def given(self, meta: Any, c: list[Any]) -> tuple[n.Given, ...]:
        seen: set[str] = set()
        for g in c:
            if g.name in seen:
                self._error(g.span, f"'{g.name}' is given twice")
            seen.add(g.name)
        return tuple(c)

    def given_pair(self, meta: Any, c: list[Any]) -> n.Given:
        return n.Given(str(c[0]), c[1], span=self._span(meta))

    def given_name(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def negative(self, meta: Any, c: list[Any]) -> n.Number:
        num: n.Number = c[0]
        return n.Number(-num.value, num.kind, "-" + num.text, span=self._span(meta))

    def bare_value(self, meta: Any, c: list[Any]) -> n.Name:
        return n.Name(str(c[0]), span=self._span(meta))

    def list_value(self, meta: Any, c: list[Any]) -> n.ListValue:
        return n.ListValue(tuple(c), span=self._span(meta))

    def record_value(self, meta: Any, c: list[Any]) -> n.RecordValue:
        seen: set[str] = set()
        for name, _v in c:
            if name in seen:
                self._error(self._span(meta), f"field '{name}' is given twice in one record")
            seen.add(name)
        return n.RecordValue(tuple(c), span=self._span(meta))

    def record_pair(self, meta: Any, c: list[Any]) -> tuple[str, n.Expr]:
        return (str(c[0]), c[1])

    def expect(self, meta: Any, c: list[Any]) -> n.Expect:
        return n.Expect(c[0], span=self._span(meta))

    # ---- expressions
    def if_expr(self, meta: Any, c: list[Any]) -> n.IfExpr:
        return n.IfExpr(c[0], c[1], c[2], span=self._span(meta))

    def _bin(self, op: str, meta: Any, c: list[Any]) -> n.Binary:
        return n.Binary(op, c[0], c[1], span=self._span(meta))

    def or_op(self, meta: Any, c: list[Any]) -> n.Binary:
        return self._bin("or", meta, c)

    def and_op(self, meta: Any, c: list[Any]) -> n.Binary:
        return self._bin("and", meta, c)

    def not_op(self, meta: Any, c: list[Any]) -> n.Unary:
        return n.Unary("not", c[0], span=self._span(meta))

    def compare(self, meta: Any, c: list[Any]) -> n.Binary:
        return n.Binary(str(c[1]), c[0], c[2], span=self._span(meta))

    def in_list(self, meta: Any, c: list[Any]) -> n.InList:
        return n.InList(c[0], tuple(c[1:]), span=self._span(meta))

    def add(self, meta: Any, c: list[Any]) -> n.Binary:
        return self._bin("+", meta, c)

    def sub(self, meta: Any, c: list[Any]) -> n.Binary:
        return self._bin("-", meta, c)

    def mul(self, meta: Any, c: list[Any]) -> n.Binary:
        return self._bin("*", meta, c)

    def div(self, meta: Any, c: list[Any]) -> n.Binary:
        return self._bin("/", meta, c)

    def neg(self, meta: Any, c: list[Any]) -> n.Unary:
        return n.Unary("-", c[0], span=self._span(meta))

    def name(self, meta: Any, c: list[Any]) -> n.Name:
        return n.Name(str(c[0]), span=self._span(meta))

    def attribute(self, meta: Any, c: list[Any]) -> n.Attribute:
        return n.Attribute(str(c[0]), str(c[1]), span=self._span(meta))

    def call(self, meta: Any, c: list[Any]) -> n.Call | n.ListAgg:
        func = str(c[0])
        args = tuple(c[1:])
        if func in ("count", "any", "all") and len(args) == 1:
            return n.ListAgg(func, args[0], None, None, span=self._span(meta))
        return n.Call(func, args, span=self._span(meta))

    def agg_where(self, meta: Any, c: list[Any]) -> n.ListAgg:
        return n.ListAgg(str(c[0]), c[1], None, c[2], span=self._span(meta))

    def agg_of(self, meta: Any, c: list[Any]) -> n.ListAgg:
        where = c[3] if len(c) > 3 else None
        return n.ListAgg(str(c[0]), c[1], c[2], where, span=self._span(meta))

    def table(self, meta: Any, c: list[Any]) -> n.Table:
        subject = c[0]
        rows = tuple(r for r in c[1:] if isinstance(r, n.TableRow))
        default = next((r[1] for r in c[1:] if isinstance(r, tuple)), None)
        return n.Table(subject, rows, default, span=self._span(meta))

    def table_else(self, meta: Any, c: list[Any]) -> tuple[str, n.Expr]:
        return ("else", c[0])

    def row_cmp(self, meta: Any, c: list[Any]) -> n.TableRow:
        return n.TableRow(str(c[0]), (c[1],), c[2], span=self._span(meta))

    def row_in(self, meta: Any, c: list[Any]) -> n.TableRow:
        return n.TableRow("in", tuple(c[:-1]), c[-1], span=self._span(meta))

    def row_eq(self, meta: Any, c: list[Any]) -> n.TableRow:
        return n.TableRow("==", (c[0],), c[1], span=self._span(meta))

    # ---- literals
    def int_number(self, meta: Any, c: list[Any]) -> n.Number:
        return n.Number(Decimal(str(c[0])), "int", str(c[0]), span=self._span(meta))

    def decimal_number(self, meta: Any, c: list[Any]) -> n.Number:
        return n.Number(Decimal(str(c[0])), "decimal", str(c[0]), span=self._span(meta))

    def percent_number(self, meta: Any, c: list[Any]) -> n.Number:
        text = str(c[0])
        return n.Number(Decimal(text[:-1]) / 100, "percent", text, span=self._span(meta))

    def date(self, meta: Any, c: list[Any]) -> n.DateLit:
        return n.DateLit(self._date(c[0]), span=self._span(meta))

    def string(self, meta: Any, c: list[Any]) -> n.StringLit:
        return n.StringLit(self._string(c[0]), span=self._span(meta))

    def true(self, meta: Any, c: list[Any]) -> n.BoolLit:
        return n.BoolLit(True, span=self._span(meta))

    def false(self, meta: Any, c: list[Any]) -> n.BoolLit:
        return n.BoolLit(False, span=self._span(meta))
