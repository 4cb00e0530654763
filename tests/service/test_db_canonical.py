"""service.db.canonical: one text per content — key order, Unicode form and exact numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.errors import InputError
from service.db import canonical

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def test_key_order_does_not_change_the_text() -> None:
    """Mappings with the same items in another order have the same canonical text."""
    assert canonical.dumps({"b": 1, "a": [2, 3]}) == canonical.dumps({"a": [2, 3], "b": 1})


def test_decimals_keep_their_digits_and_dates_become_iso_text() -> None:
    """A Decimal is written with its own digits; a date as ISO text."""
    assert '{"d":"2023-02-28","r":0.550}' == canonical.dumps({"r": Decimal("0.550"), "d": date(2023, 2, 28)})


def test_floats_and_non_numbers_are_refused_with_their_paths() -> None:
    """Binary floats and NaN are reported by path in one InputError."""
    with pytest.raises(InputError) as caught:
        canonical.dumps({"a": 0.1, "b": [Decimal("NaN")], "c": object()})
    assert ["a", "b[0]", "c"] == [v.field for v in caught.value.violations]


@settings(max_examples=50)
@given(json_values)
def test_dumps_then_loads_round_trips(value: object) -> None:
    """Reading canonical text back and writing it again gives the same text."""
    text = canonical.dumps(value)
    assert text == canonical.dumps(canonical.loads(text))
