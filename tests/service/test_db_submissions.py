"""service.db.repository: submissions — stages kept side by side, revisions, idempotency keys."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from dsl.errors import ConflictError, InputError, NotFoundError
from service.db import NewSubmission, Store

MEMBERS = ["hau_can", "tham_muu", "ubkt"]


@pytest.fixture
def bloc_store(store: Store) -> Store:
    """A store holding bloc khoi3 with three members."""
    store.put_bloc("khoi3", MEMBERS, label="Khối thi đua số 3")
    return store


def test_inputs_round_trip_with_exact_decimals(bloc_store: Store) -> None:
    """Stored inputs come back equal, decimals as Decimal with their own digits."""
    inputs = {"members": 42, "rate": Decimal("0.550"), "ok": True, "discipline": [{"form": "warning"}]}
    written = bloc_store.store_submission("khoi3", "2023", "ubkt", inputs, author="ubkt-clerk")
    assert True is written.created
    stored = bloc_store.submissions("khoi3", "2023")[0]
    assert inputs == dict(stored.inputs)
    assert "0.550" == str(stored.inputs["rate"])
    assert ("ubkt", "2023", "self", 1, "ubkt-clerk") == (
        stored.unit,
        stored.period,
        stored.stage,
        stored.revision,
        stored.author,
    )


def test_latest_stage_wins_and_every_stage_is_kept(bloc_store: Store) -> None:
    """Evaluation input is each unit's latest stage; earlier stages stay stored untouched."""
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, stage="self")
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 2}, stage="reviewed")
    bloc_store.store_submission("khoi3", "2023", "tham_muu", {"x": 5}, stage="self")
    latest = bloc_store.submissions("khoi3", "2023")
    assert [("tham_muu", "self", 5), ("ubkt", "reviewed", 2)] == [
        (s.unit, s.stage, s.inputs["x"]) for s in latest
    ]
    history = bloc_store.submission_history("khoi3", "2023", "ubkt")
    assert [("self", 1), ("reviewed", 2)] == [(s.stage, s.inputs["x"]) for s in history]


def test_a_named_stage_selects_only_that_stage(bloc_store: Store) -> None:
    """Asking for stage 'self' gives self-assessments even where a reviewed score exists."""
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, stage="self")
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 2}, stage="reviewed")
    bloc_store.store_submission("khoi3", "2023", "tham_muu", {"x": 5}, stage="self")
    assert [("tham_muu", 5), ("ubkt", 1)] == [
        (s.unit, s.inputs["x"]) for s in bloc_store.submissions("khoi3", "2023", stage="self")
    ]
    assert [("ubkt", 2)] == [
        (s.unit, s.inputs["x"]) for s in bloc_store.submissions("khoi3", "2023", "reviewed")
    ]
    assert [] == bloc_store.submissions("khoi3", "2023", stage="approved")


def test_an_earlier_stage_written_later_does_not_win(bloc_store: Store) -> None:
    """Stage order, not write order, decides: approved beats a self-assessment stored after it."""
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 3}, stage="approved")
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, stage="self")
    assert [("approved", 3)] == [(s.stage, s.inputs["x"]) for s in bloc_store.submissions("khoi3", "2023")]


def test_a_corrected_stage_is_a_new_revision(bloc_store: Store) -> None:
    """Writing a stage again with other content adds revision 2; both revisions are kept."""
    first = bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1})
    second = bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 9})
    assert (1, 2) == (first.submission.revision, second.submission.revision)
    assert 9 == bloc_store.submissions("khoi3", "2023")[0].inputs["x"]
    assert [1, 2] == [s.revision for s in bloc_store.submission_history("khoi3", "2023", "ubkt")]


def test_retry_without_key_of_the_latest_content_is_a_no_op(bloc_store: Store) -> None:
    """The same content as the stage's latest revision, without a key, is not stored twice."""
    first = bloc_store.store_submission("khoi3", "2023", "ubkt", {"b": 1, "a": 2})
    again = bloc_store.store_submission("khoi3", "2023", "ubkt", {"a": 2, "b": 1})
    assert (False, first.submission.id) == (again.created, again.submission.id)
    assert 1 == len(bloc_store.submission_history("khoi3", "2023", "ubkt"))


def test_idempotency_key_makes_a_retry_a_no_op(bloc_store: Store) -> None:
    """Retrying a write with its idempotency key returns the first write's id, even after a newer revision."""
    first = bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="req-1")
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 2}, idempotency_key="req-2")
    retry = bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="req-1")
    assert (False, first.submission.id) == (retry.created, retry.submission.id)
    assert 2 == len(bloc_store.submission_history("khoi3", "2023", "ubkt"))


def test_idempotency_key_with_other_content_conflicts(bloc_store: Store) -> None:
    """The same idempotency key with different inputs raises ConflictError and stores nothing."""
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="req-1")
    with pytest.raises(ConflictError, match="idempotency key 'req-1' was used for another submission"):
        bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 2}, idempotency_key="req-1")
    with pytest.raises(ConflictError):
        bloc_store.store_submission("khoi3", "2023", "tham_muu", {"x": 1}, idempotency_key="req-1")
    assert 1 == len(bloc_store.submission_history("khoi3", "2023", "ubkt"))


def test_batch_is_all_or_nothing(bloc_store: Store) -> None:
    """A batch with one conflicting item stores none of its items."""
    bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="k-ubkt")
    batch = [
        NewSubmission("hau_can", {"x": 7}, idempotency_key="k-hau-can"),
        NewSubmission("ubkt", {"x": 99}, idempotency_key="k-ubkt"),
    ]
    with pytest.raises(ConflictError):
        bloc_store.store_submissions("khoi3", "2023", batch)
    assert [] == bloc_store.submission_history("khoi3", "2023", "hau_can")


def test_batch_reports_every_bad_item_at_once(bloc_store: Store) -> None:
    """Unknown stage, float value, empty unit and repeated keys are all listed in one InputError."""
    batch = [
        NewSubmission("ubkt", {"x": 1}, stage="draft"),
        NewSubmission("tham_muu", {"rate": 0.55}),
        NewSubmission("", {"x": 1}, idempotency_key="k"),
        NewSubmission("hau_can", {"x": 1}, idempotency_key="k"),
    ]
    with pytest.raises(InputError) as caught:
        bloc_store.store_submissions("khoi3", "2023", batch)
    assert [
        "submissions[0].stage",
        "submissions[1].inputs.rate",
        "submissions[2].unit",
        "submissions[3].idempotency_key",
    ] == [v.field for v in caught.value.violations]


def test_unit_outside_the_bloc_is_refused(bloc_store: Store) -> None:
    """A submission for a unit that is not a member of the bloc is an InputError naming it."""
    with pytest.raises(InputError, match="'thanh_tra' is not a member of bloc 'khoi3'"):
        bloc_store.store_submission("khoi3", "2023", "thanh_tra", {"x": 1})


def test_unknown_bloc_is_not_found(store: Store) -> None:
    """Storing or reading submissions of a bloc that is not stored raises NotFoundError."""
    with pytest.raises(NotFoundError, match="bloc 'khoi9' not found"):
        store.store_submission("khoi9", "2023", "ubkt", {"x": 1})
    with pytest.raises(NotFoundError):
        store.submissions("khoi9", "2023")


def test_text_is_normalized_so_composed_and_decomposed_are_the_same(bloc_store: Store) -> None:
    """A retry typed with decomposed diacritics is the same content (NFC), hence a no-op."""
    composed = {"ghi_chú": "Phòng Hậu cần"}
    decomposed = {"ghi_chu\u0301": "Pho\u0300ng Hâ\u0323u câ\u0300n"}
    bloc_store.store_submission("khoi3", "2023", "hau_can", composed)
    assert False is bloc_store.store_submission("khoi3", "2023", "hau_can", decomposed).created


def test_concurrent_retries_with_one_key_store_one_row(bloc_store: Store) -> None:
    """Six threads sending the same keyed write at once: one row, every caller gets its id."""
    barrier = threading.Barrier(6)

    def write(_: int) -> int:
        barrier.wait()
        return bloc_store.store_submission(
            "khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="same-request"
        ).submission.id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(write, range(6)))
    assert 1 == len(ids)
    assert 1 == len(bloc_store.submission_history("khoi3", "2023", "ubkt"))


def test_concurrent_different_writes_get_distinct_revisions(bloc_store: Store) -> None:
    """Five threads writing different content to one stage: five revisions numbered 1 to 5."""
    barrier = threading.Barrier(5)

    def write(i: int) -> int:
        barrier.wait()
        return bloc_store.store_submission("khoi3", "2023", "ubkt", {"x": i}).submission.revision

    with ThreadPoolExecutor(5) as pool:
        revisions = sorted(pool.map(write, range(5)))
    assert [1, 2, 3, 4, 5] == revisions
