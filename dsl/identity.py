"""A ruleset's identity: the SHA-256 of its canonical, resolved text (SPEC §1.8).

This module owns what counts as "the same ruleset". The hash is taken over
the flat ruleset (``extends`` resolved, `dsl.inherit`) printed in the
formatter's canonical layout (`dsl.format`) without comments and without test
blocks, NFC-normalized, encoded as UTF-8. So two files that differ only in
layout, comments or tests have the same identity, and a version written with
``extends`` has the same identity as the same rules written out flat; any
change of meaning — or of name or version — changes it.
"""

from __future__ import annotations

import hashlib
import unicodedata

from dsl import nodes as n
from dsl.format import format_source


def canonical_text(ruleset: n.Ruleset) -> str:
    """The text the identity is computed over: the flat ruleset, canonical layout, no comments or tests."""
    flat = n.Ruleset(
        ruleset.name,
        ruleset.version,
        ruleset.parent,
        tuple(i for i in ruleset.items if not isinstance(i, n.Test)),
        span=ruleset.span,
    )
    text = format_source(n.SourceFile("<identity>", flat, ()))
    return unicodedata.normalize("NFC", text)


def ruleset_sha256(resolved_ruleset: n.Ruleset) -> str:
    """Hex SHA-256 of `canonical_text` — the identity every result carries.

    Pass the *resolved* ruleset (``parent`` None); the hash of an unresolved
    child would not cover what it inherits.
    """
    return hashlib.sha256(canonical_text(resolved_ruleset).encode("utf-8")).hexdigest()
