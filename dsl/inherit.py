"""Ruleset inheritance: ``extends`` chains resolved into one flat ruleset (SPEC §1.8).

This module owns the merge rules and their errors, and nothing about where
files live: the caller passes a ``load_parent`` function (the registry's).

The rules, applied from the root of a chain down to the file asked for:

* ``extends`` copies the parent's declarations, in the parent's order.
* ``remove input|let|criterion|title|group NAME`` deletes one of them. Removes
  are applied before the child's declarations, so ``remove input x`` followed
  by ``let x = …`` changes what ``x`` is.
* A declaration with the same name and kind replaces the parent's, in the
  parent's position (title order matters, SPEC §1.6); new declarations are
  appended in the child's order.
* A ``group`` with a parent group's name merges into it: its label and max
  replace the parent's; its criteria replace same-named ones in place, new
  ones are appended. ``bonus`` and ``penalty`` merge the same way.
* A criterion declared in a different group than the parent's criterion of
  the same name moves there (the parent's copy is dropped).
* Unnamed blocks (``description``, ``effective``, ``rounding``, ``score``,
  ``classify``, ``ranking``, ``rotation``) replace the parent's whole.
* Test blocks belong to their file: the parent's are not inherited.

Errors (each a `Diagnostic` with the span of the child's text at fault, raised
together in one `RulesetError`): a missing parent, a cycle of ``extends``, a
declaration replacing one of another kind, removing what does not exist, and
``remove`` in a ruleset that extends nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches

from dsl import nodes as n
from dsl.errors import ERROR, Diagnostic, NotFoundError, RulesetError

#: Loads the parent named by ``extends``: ``(name, version, child_file) -> parsed file``.
#: Raises `NotFoundError` when there is none (its message becomes the diagnostic),
#: or `RulesetError` when the parent file itself is broken.
ParentLoader = Callable[[str, str, n.SourceFile], n.SourceFile]

_NAMED_KINDS: dict[type, str] = {
    n.Input: "input",
    n.Let: "let",
    n.Group: "group",
    n.Title: "title",
    n.Criterion: "criterion",
}
#: Blocks without a name: at most one each, replaced whole by a child.
_SINGLETONS: tuple[type, ...] = (
    n.Description,
    n.Effective,
    n.Rounding,
    n.ScoreDef,
    n.Classify,
    n.Ranking,
    n.Rotation,
)


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One ruleset of an ``extends`` chain and the file it came from."""

    name: str
    version: str
    path: str


@dataclass(frozen=True)
class ResolvedRuleset:
    """A flat ruleset (``parent`` is None, no ``remove``) and where its parts came from.

    ``chain`` starts with the ruleset asked for and ends with the root;
    ``sources`` maps each file of the chain to its text, so diagnostics about
    inherited declarations (whose spans name the parent's file) render with
    the right source line.
    """

    ruleset: n.Ruleset
    chain: tuple[ChainLink, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    #: the test blocks written after the ruleset in the file asked for (not the parents')
    tests: tuple[n.Test, ...] = ()

    @property
    def path(self) -> str:
        """The file of the ruleset asked for."""
        return self.chain[0].path if self.chain else "<resolved>"

    @property
    def text(self) -> str:
        """The source text of the file asked for."""
        return self.sources.get(self.path, "")

    @property
    def source(self) -> n.SourceFile:
        """The resolved ruleset as a `SourceFile` (no comments: it was never one text)."""
        return n.SourceFile(self.path, self.ruleset, self.tests)


def resolve(source: n.SourceFile, load_parent: ParentLoader | None = None) -> ResolvedRuleset:
    """Resolve ``source``'s ``extends`` chain into a flat ruleset.

    A ruleset without ``extends`` resolves to itself (minus nothing); one
    with ``extends`` needs ``load_parent``. Raises `RulesetError`.
    """
    if source.ruleset is None:
        raise RulesetError(
            [
                Diagnostic(
                    ERROR, "the file declares no ruleset", n.Span(1, 1, 1, 2, source.path), "no-ruleset"
                )
            ],
            source.source,
        )
    files = _load_chain(source, load_parent)
    root = files[-1]
    assert root.ruleset is not None
    errors: list[Diagnostic] = []
    for item in root.ruleset.items:
        if isinstance(item, n.Remove):
            errors.append(
                _diag(
                    item.span,
                    f"`remove {item.kind} {item.name}` needs a parent: ruleset "
                    f"'{root.ruleset.name}' does not extend another",
                    "remove-without-parent",
                    'add `extends NAME version "VERSION"` or delete this line',
                )
            )
    if errors:
        raise RulesetError(errors, root.source)
    keep_tests = root is source
    items = [i for i in root.ruleset.items if keep_tests or not isinstance(i, n.Test)]
    for child in reversed(files[:-1]):
        assert child.ruleset is not None
        merger = _Merger(items, child.ruleset, parent_label=_label_of(files[files.index(child) + 1]))
        items = merger.run(keep_tests=child is source)
        if merger.errors:
            raise RulesetError(merger.errors, child.source)
    top = source.ruleset
    flat = n.Ruleset(top.name, top.version, None, tuple(items), span=top.span)
    chain = tuple(
        ChainLink(f.ruleset.name, f.ruleset.version, f.path) for f in files if f.ruleset is not None
    )
    return ResolvedRuleset(flat, chain, {f.path: f.source for f in files}, source.tests)


def _label_of(sf: n.SourceFile) -> str:
    assert sf.ruleset is not None
    return f"{sf.ruleset.name} {sf.ruleset.version}"


def _diag(span: n.Span, message: str, code: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(ERROR, message, span, code, hint)


def _load_chain(source: n.SourceFile, load_parent: ParentLoader | None) -> list[n.SourceFile]:
    """The files of the chain, child first; missing parents and cycles are errors."""
    files = [source]
    cur = source
    assert cur.ruleset is not None
    seen = [(cur.ruleset.name, cur.ruleset.version)]
    while cur.ruleset is not None and cur.ruleset.parent is not None:
        ref = cur.ruleset.parent
        key = (ref.name, ref.version)
        if key in seen:
            loop = " → ".join(f"{a} {b}" for a, b in [*seen[seen.index(key) :], key])
            raise RulesetError(
                [_diag(ref.span, f"`extends` forms a cycle: {loop}", "extends-cycle")], cur.source
            )
        if load_parent is None:
            raise RulesetError(
                [
                    _diag(
                        ref.span,
                        f"cannot find parent ruleset {ref.name} {ref.version}: no registry to look in",
                        "missing-parent",
                    )
                ],
                cur.source,
            )
        try:
            parent = load_parent(ref.name, ref.version, cur)
        except NotFoundError as exc:
            raise RulesetError(
                [
                    _diag(
                        ref.span,
                        f"cannot find parent ruleset {ref.name} {ref.version}: {exc}",
                        "missing-parent",
                    )
                ],
                cur.source,
            ) from None
        if parent.ruleset is None:
            raise RulesetError(
                [_diag(ref.span, f"parent file {parent.path} declares no ruleset", "missing-parent")],
                cur.source,
            )
        files.append(parent)
        seen.append(key)
        cur = parent
    return files


@dataclass
class _Slot:
    """One top-level item of the ruleset being built; containers keep a mutable criteria list."""

    item: n.Item
    criteria: list[n.Criterion] | None = None
    from_child: bool = False
    removed: bool = False
    #: names of criteria the child put in this container (a second one is the child's duplicate)
    child_criteria: set[str] = field(default_factory=set)

    def build(self) -> n.Item:
        item = self.item
        if self.criteria is None or not isinstance(item, (n.Group, n.Bonus, n.Penalty)):
            return item
        return dataclasses.replace(item, criteria=tuple(self.criteria))


class _Merger:
    """Applies one child's removes and declarations onto its parent's flat items."""

    def __init__(self, parent_items: list[n.Item], child: n.Ruleset, parent_label: str) -> None:
        self.slots = [
            _Slot(i, list(i.criteria) if isinstance(i, (n.Group, n.Bonus, n.Penalty)) else None)
            for i in parent_items
        ]
        self.child = child
        self.parent_label = parent_label
        self.errors: list[Diagnostic] = []

    # ------------------------------------------------------------- lookups
    def _live(self) -> list[_Slot]:
        return [s for s in self.slots if not s.removed]

    def _find_top(self, name: str) -> _Slot | None:
        for s in self._live():
            if isinstance(s.item, (n.Input, n.Let, n.Group, n.Title)) and s.item.name == name:
                return s
        return None

    def _find_criterion(self, name: str) -> tuple[_Slot, int] | None:
        for s in self._live():
            if s.criteria is not None:
                for idx, c in enumerate(s.criteria):
                    if c.name == name:
                        return s, idx
        return None

    def _kind_and_span(self, name: str) -> tuple[str, n.Span, bool] | None:
        """What ``name`` is now: its kind, where it was declared, and whether the child declared it."""
        top = self._find_top(name)
        if top is not None:
            return _NAMED_KINDS[type(top.item)], top.item.span, top.from_child
        crit = self._find_criterion(name)
        if crit is not None:
            slot, idx = crit
            assert slot.criteria is not None
            return "criterion", slot.criteria[idx].span, name in slot.child_criteria
        return None

    def _names_of_kind(self, kind: str) -> list[str]:
        names: list[str] = []
        for s in self._live():
            if kind == "criterion" and s.criteria is not None:
                names.extend(c.name for c in s.criteria)
            elif _NAMED_KINDS.get(type(s.item)) == kind:
                names.append(s.item.name)  # type: ignore[union-attr]
        return names

    # ----------------------------------------------------------------- run
    def run(self, keep_tests: bool) -> list[n.Item]:
        for item in self.child.items:
            if isinstance(item, n.Remove):
                self._remove(item)
        for item in self.child.items:
            if isinstance(item, n.Remove):
                continue
            if isinstance(item, n.Test):
                if keep_tests:
                    self.slots.append(_Slot(item, from_child=True))
            elif isinstance(item, _SINGLETONS):
                self._replace_singleton(item)
            elif isinstance(item, (n.Input, n.Let, n.Title)):
                self._replace_named(item)
            elif isinstance(item, n.Group):
                self._merge_group(item)
            elif isinstance(item, (n.Bonus, n.Penalty)):
                self._merge_block(item)
        return [s.build() for s in self.slots if not s.removed]

    def _remove(self, rm: n.Remove) -> None:
        if rm.kind == "criterion":
            crit = self._find_criterion(rm.name)
            if crit is not None:
                slot, idx = crit
                assert slot.criteria is not None
                del slot.criteria[idx]
                return
        else:
            top = self._find_top(rm.name)
            if top is not None and _NAMED_KINDS[type(top.item)] == rm.kind:
                top.removed = True
                return
        found = self._kind_and_span(rm.name)
        if found is not None:
            kind, where, _ = found
            self.errors.append(
                _diag(
                    rm.span,
                    f"cannot remove {rm.kind} '{rm.name}': in {self.parent_label} '{rm.name}' is "
                    f"a {kind} (declared at {where}), not a {rm.kind}",
                    "remove-wrong-kind",
                    f"write `remove {kind} {rm.name}`",
                )
            )
            return
        close = get_close_matches(rm.name, self._names_of_kind(rm.kind), n=1)
        self.errors.append(
            _diag(
                rm.span,
                f"cannot remove {rm.kind} '{rm.name}': {self.parent_label} has no {rm.kind} of that name"
                " (or it is removed twice)",
                "remove-missing",
                f"did you mean '{close[0]}'?" if close else None,
            )
        )

    def _replace_singleton(self, item: n.Item) -> None:
        for s in self._live():
            if type(s.item) is type(item) and not s.from_child:
                s.item, s.from_child = item, True
                return
        # No parent block of this kind, or the child writes it twice (the checker reports that).
        self.slots.append(_Slot(item, from_child=True))

    def _kind_clash(self, item: n.Input | n.Let | n.Title | n.Group | n.Criterion) -> bool:
        """Report (and return True) when ``item`` would replace a parent declaration of another kind.

        A clash with the child's own declaration is a duplicate name, which the
        checker reports with the rest of the file's naming errors.
        """
        mine = _NAMED_KINDS[type(item)]
        found = self._kind_and_span(item.name)
        if found is None or found[0] == mine or found[2]:
            return False
        other, where, _ = found
        self.errors.append(
            _diag(
                item.span,
                f"{mine} '{item.name}' cannot replace {other} '{item.name}' of {self.parent_label} "
                f"(declared at {where}): a declaration replaces only one of the same kind",
                "replace-other-kind",
                f"write `remove {other} {item.name}` first to declare it anew as a {mine}",
            )
        )
        return True

    def _replace_named(self, item: n.Input | n.Let | n.Title) -> None:
        if self._kind_clash(item):
            return
        top = self._find_top(item.name)
        if top is not None and not top.from_child:
            top.item, top.from_child = item, True
        else:
            self.slots.append(_Slot(item, from_child=True))

    def _merge_group(self, group: n.Group) -> None:
        if self._kind_clash(group):
            return
        top = self._find_top(group.name)
        if top is None or top.from_child:
            slot = _Slot(group, [], from_child=True)
            self.slots.append(slot)
        else:
            slot = top
            slot.item, slot.from_child = group, True
        self._merge_criteria(slot, group.criteria)

    def _merge_block(self, block: n.Bonus | n.Penalty) -> None:
        for s in self._live():
            if type(s.item) is type(block) and not s.from_child:
                s.item, s.from_child = block, True
                self._merge_criteria(s, block.criteria)
                return
        slot = _Slot(block, [], from_child=True)
        self.slots.append(slot)
        self._merge_criteria(slot, block.criteria)

    def _merge_criteria(self, slot: _Slot, criteria: tuple[n.Criterion, ...]) -> None:
        assert slot.criteria is not None
        for crit in criteria:
            if self._kind_clash(crit):
                continue
            if crit.name in slot.child_criteria:
                slot.criteria.append(crit)  # the child's own duplicate: left for the checker
                continue
            slot.child_criteria.add(crit.name)
            here = next((i for i, c in enumerate(slot.criteria) if c.name == crit.name), None)
            if here is not None:
                slot.criteria[here] = crit
                continue
            elsewhere = self._find_criterion(crit.name)
            if elsewhere is not None and elsewhere[0] is not slot:
                other, idx = elsewhere
                assert other.criteria is not None
                if crit.name not in other.child_criteria:
                    del other.criteria[idx]  # moved from the parent's container into this one
            slot.criteria.append(crit)
