"""service.db.repository: blocs and members, leader/deputy history, and CASE documents from stored data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dsl.errors import ConflictError, InputError, NotFoundError
from service.db import Store

MEMBERS = ["hau_can", "tham_muu", "ubkt", "tccb"]


def test_members_keep_their_rotation_order(store: Store) -> None:
    """A bloc's members come back in the order they were given, not sorted."""
    written = store.put_bloc("khoi3", MEMBERS, label="Khối thi đua số 3")
    assert True is written.created
    bloc = store.get_bloc("khoi3")
    assert (tuple(MEMBERS), "Khối thi đua số 3") == (bloc.members, bloc.label)


def test_put_bloc_again_is_a_no_op_and_a_change_replaces_members(store: Store) -> None:
    """The same members again change nothing; a new order or membership replaces the list."""
    first = store.put_bloc("khoi3", MEMBERS)
    again = store.put_bloc("khoi3", MEMBERS)
    assert (False, first.bloc.updated_at) == (again.created, again.bloc.updated_at)
    changed = store.put_bloc("khoi3", ["tccb", "ubkt", "hau_can"])
    assert (True, ("tccb", "ubkt", "hau_can")) == (changed.created, store.get_bloc("khoi3").members)


def test_bloc_listing_is_by_name(store: Store) -> None:
    """list_blocs returns every bloc ordered by name."""
    store.put_bloc("khoi5", ["a"])
    store.put_bloc("khoi3", ["b", "c"])
    assert ["khoi3", "khoi5"] == [b.name for b in store.list_blocs()]


def test_bad_member_lists_are_refused(store: Store) -> None:
    """An empty bloc name, no members or a unit listed twice are reported together."""
    with pytest.raises(InputError) as caught:
        store.put_bloc("", ["ubkt", "ubkt"])
    assert ["bloc", "members[1]"] == [v.field for v in caught.value.violations]
    with pytest.raises(InputError, match="at least one member"):
        store.put_bloc("khoi3", [])


def test_unknown_bloc_is_not_found(store: Store) -> None:
    """get_bloc of a name never stored raises NotFoundError."""
    with pytest.raises(NotFoundError, match="bloc 'khoi3' not found"):
        store.get_bloc("khoi3")


def test_committing_holders_is_idempotent(store: Store) -> None:
    """Committing the same leader and deputy for a period twice keeps one record."""
    store.put_bloc("khoi3", MEMBERS)
    first = store.commit_holders("khoi3", "2024", "hau_can", "tham_muu")
    again = store.commit_holders("khoi3", "2024", "hau_can", "tham_muu")
    assert (True, False) == (first.created, again.created)
    assert first.holders == again.holders
    assert 1 == len(store.history("khoi3"))


def test_committed_holders_are_not_rewritten(store: Store) -> None:
    """Other units for an already committed period raise ConflictError; the record stays."""
    store.put_bloc("khoi3", MEMBERS)
    store.commit_holders("khoi3", "2024", "hau_can", "tham_muu")
    with pytest.raises(ConflictError, match="already has leader 'hau_can'"):
        store.commit_holders("khoi3", "2024", "ubkt", "tham_muu")
    holders = store.holders("khoi3", "2024")
    assert holders is not None
    assert ("hau_can", "tham_muu") == (holders.leader, holders.deputy)


def test_holders_must_be_members_and_distinct(store: Store) -> None:
    """A leader outside the bloc, or the same unit as leader and deputy, is an InputError."""
    store.put_bloc("khoi3", MEMBERS)
    with pytest.raises(InputError, match="'thanh_tra' is not a member"):
        store.commit_holders("khoi3", "2024", "thanh_tra", None)
    with pytest.raises(InputError, match="deputy cannot also be the leader"):
        store.commit_holders("khoi3", "2024", "ubkt", "ubkt")


def test_history_is_newest_first_by_period_order(store: Store) -> None:
    """History lists periods newest first, comparing periods as numbers."""
    store.put_bloc("khoi3", MEMBERS)
    for period, leader in (("2022", "tccb"), ("2024", "hau_can"), ("2023", "ubkt")):
        store.commit_holders("khoi3", period, leader, None)
    assert ["2024", "2023", "2022"] == [h.period for h in store.history("khoi3")]
    assert None is store.holders("khoi3", "2021")


def test_bloc_case_assembles_the_case_shape(store: Store) -> None:
    """A stored bloc, holders and latest-stage submissions give the CASE document of SPEC §2."""
    store.put_bloc("khoi3", MEMBERS)
    store.commit_holders("khoi3", "2022", "tccb", "ubkt")
    store.commit_holders("khoi3", "2023", "ubkt", "hau_can")
    store.commit_holders("khoi3", "2024", "hau_can", "tham_muu")
    store.store_submission("khoi3", "2023", "ubkt", {"members": 20}, stage="self")
    store.store_submission("khoi3", "2023", "ubkt", {"members": 21}, stage="reviewed")
    store.store_submission("khoi3", "2023", "tham_muu", {"rate": Decimal("0.5")}, stage="self")
    store.store_submission("khoi3", "2022", "tham_muu", {"members": 1}, stage="approved")
    stored = store.bloc_case("khoi3", "2023", "khoi3@2023.1")
    assert {
        "ruleset": "khoi3@2023.1",
        "bloc": "khoi3",
        "period": "2023",
        "members": MEMBERS,
        "current": {"leader": "ubkt", "deputy": "hau_can"},
        "history": [{"period": "2022", "leader": "tccb", "deputy": "ubkt"}],
        "submissions": [
            {"unit": "tham_muu", "inputs": {"rate": Decimal("0.5")}, "stage": "self"},
            {"unit": "ubkt", "inputs": {"members": 21}, "stage": "reviewed"},
        ],
    } == stored.case
    assert [("tham_muu", "self", 1), ("ubkt", "reviewed", 1)] == [
        (s.unit, s.stage, s.revision) for s in stored.submissions
    ]


def test_bloc_case_for_a_named_stage_and_no_holders(store: Store) -> None:
    """Without committed holders 'current' is empty; a named stage picks that stage's inputs."""
    store.put_bloc("khoi3", MEMBERS)
    store.store_submission("khoi3", "2023", "ubkt", {"members": 20}, stage="self")
    store.store_submission("khoi3", "2023", "ubkt", {"members": 21}, stage="reviewed")
    case = store.bloc_case("khoi3", "2023", "khoi3@2023.1", stage="self").case
    assert ({}, [], [{"unit": "ubkt", "inputs": {"members": 20}, "stage": "self"}]) == (
        case["current"],
        case["history"],
        case["submissions"],
    )


def test_values_the_database_refuses_are_input_errors(store: Store) -> None:
    """A NUL character or an over-long label is an InputError naming the problem, never a crash."""
    with pytest.raises(InputError, match="at most 500 allowed"):
        store.put_bloc("khoi3", MEMBERS, label="x" * 501)
    store.put_bloc("khoi3", MEMBERS)
    # SQLite stores NUL; PostgreSQL refuses it: either way no exception other than InputError escapes.
    try:
        store.store_submission("khoi3", "2023", "ubkt", {"note": "a\x00b"})
    except InputError as exc:
        assert "cannot be stored" in exc.message
