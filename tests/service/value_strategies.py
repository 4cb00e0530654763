"""Hypothesis strategies for thidua.v1 `Value` messages, shared by the property tests of tests/service."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from service.gen.thidua.v1 import values_pb2 as vals


def nested_values(
    scalars: st.SearchStrategy[vals.Value], field_names: Sequence[str], *, max_fields: int, max_leaves: int
) -> st.SearchStrategy[vals.Value]:
    """``scalars``, and lists (up to 4 items) and records (fields named from ``field_names``) of them, nested."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.builds(lambda xs: vals.Value(list=vals.ValueList(values=xs)), st.lists(inner, max_size=4)),
            st.builds(
                lambda fields: vals.Value(record=vals.Record(fields=fields)),
                st.dictionaries(st.sampled_from(list(field_names)), inner, max_size=max_fields),
            ),
        ),
        max_leaves=max_leaves,
    )
