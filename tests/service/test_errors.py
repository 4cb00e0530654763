"""Tests for service/errors.py: every engine error maps to its status code with its details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from dsl.errors import (
    ERROR,
    ConflictError,
    Diagnostic,
    EvaluationError,
    FieldViolation,
    InputError,
    LimitError,
    NotFoundError,
    RulesetError,
)
from dsl.nodes import Span
from service.errors import (
    INTERNAL,
    RequestLimitError,
    ServiceError,
    item_error,
    map_error,
    prefixed,
    to_grpc_status,
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (InputError([FieldViolation("members", "required")]), grpc.StatusCode.INVALID_ARGUMENT),
        (RulesetError([Diagnostic(ERROR, "bad", Span(1, 2, 1, 3, "f"))]), grpc.StatusCode.INVALID_ARGUMENT),
        (LimitError("max_cases", "too many"), grpc.StatusCode.INVALID_ARGUMENT),
        (RequestLimitError("max_list_length", "inputs.x", "too long"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFoundError("no ruleset named 'k'"), grpc.StatusCode.NOT_FOUND),
        (ConflictError("other content"), grpc.StatusCode.ALREADY_EXISTS),
        (
            EvaluationError("division by zero", where="criterion 'targets'"),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (ServiceError(grpc.StatusCode.UNIMPLEMENTED, "later"), grpc.StatusCode.UNIMPLEMENTED),
    ],
)
def test_each_error_class_has_its_status(exc: Exception, code: grpc.StatusCode) -> None:
    """The table of the module docstring holds."""
    mapped = map_error(exc)
    assert mapped is not None
    assert code == mapped.code


def test_a_bug_is_not_mapped() -> None:
    """An exception that is not ours is a server bug: no client-facing mapping."""
    assert None is map_error(KeyError("x"))


def test_input_error_carries_every_violation_in_bad_request() -> None:
    """INVALID_ARGUMENT details hold one BadRequest field violation per input problem."""
    exc = InputError([FieldViolation("inputs.a", "required"), FieldViolation("inputs.b", "not a number")])
    mapped = map_error(exc)
    assert mapped is not None
    status = to_grpc_status(mapped, "rid-1")
    metadata = dict(status.trailing_metadata)
    assert "rid-1" == metadata["x-request-id"]
    proto = status_pb2.Status.FromString(metadata["grpc-status-details-bin"])
    assert grpc.StatusCode.INVALID_ARGUMENT.value[0] == proto.code
    bad = error_details_pb2.BadRequest()
    assert proto.details[0].Unpack(bad)
    assert [("inputs.a", "required"), ("inputs.b", "not a number")] == [
        (v.field, v.description) for v in bad.field_violations
    ]


def test_ruleset_error_lists_each_diagnostic_with_its_position() -> None:
    """Every error diagnostic becomes a violation rendered as file:line:column: error: message; hint."""
    diags = [
        Diagnostic(
            ERROR, "unknown name 'x'", Span(3, 5, 3, 6, "r.rules"), "unknown-name", "did you mean 'y'?"
        ),
        Diagnostic(ERROR, "bad type", Span(7, 1, 7, 2, "r.rules")),
    ]
    mapped = map_error(RulesetError(diags))
    assert mapped is not None
    assert [
        "r.rules:3:5: error: unknown name 'x'; did you mean 'y'?",
        "r.rules:7:1: error: bad type",
    ] == [v.message for v in mapped.violations]


def test_evaluation_error_names_the_criterion() -> None:
    """FAILED_PRECONDITION's message and PreconditionFailure name the criterion."""
    mapped = map_error(EvaluationError("division by zero", where="criterion 'targets'"))
    assert mapped is not None
    assert "criterion 'targets'" in mapped.message
    assert (("evaluation", "criterion 'targets'", "division by zero"),) == mapped.precondition


def test_limit_error_names_the_limit_and_field() -> None:
    """A request limit's violation names the field and the limit."""
    mapped = map_error(RequestLimitError("max_list_length", "inputs.discipline", "20 items, more than 10"))
    assert mapped is not None
    assert "max_list_length" in mapped.message
    assert "inputs.discipline" == mapped.violations[0].field
    assert "max_list_length" in mapped.violations[0].message


def test_prefixed_moves_paths_under_the_request_field() -> None:
    """Engine paths become request paths (members → inputs.members)."""
    exc = prefixed(InputError([FieldViolation("members", "required")]), "inputs.")
    assert ["inputs.members"] == [v.field for v in exc.violations]


def test_item_error_for_a_bug_is_internal() -> None:
    """A stream item hit by a server bug says INTERNAL (and is logged), not UNKNOWN."""
    err = item_error(RuntimeError("boom"))
    assert (grpc.StatusCode.INTERNAL.value[0], "INTERNAL", INTERNAL.message) == (
        err.code,
        err.status,
        err.message,
    )


def test_item_error_keeps_violations() -> None:
    """A stream item's input error carries its code and violations."""
    err = item_error(InputError([FieldViolation("inputs.a", "required")]))
    assert ("INVALID_ARGUMENT", 3) == (err.status, err.code)
    assert [("inputs.a", "required")] == [(v.field, v.description) for v in err.violations]


class _EndedContext:
    """A servicer context whose client has gone: inactive, and aborting would be a bug."""

    def is_active(self) -> bool:
        return False

    def code(self) -> None:
        return None

    def abort_with_status(self, status: object) -> None:
        raise AssertionError("a call whose client is gone must not be aborted as a server error")


def test_a_stream_whose_client_is_gone_ends_quietly() -> None:
    """Reading the requests of a cancelled stream (a bare RpcError) ends the call without an INTERNAL status."""
    from service.errors import guarded

    class Servicer:
        @guarded
        def Stream(self, request_iterator: object, context: object) -> object:
            yield 1
            raise grpc.RpcError()

    replies = list(Servicer().Stream(iter(()), _EndedContext()))
    assert [1] == replies
