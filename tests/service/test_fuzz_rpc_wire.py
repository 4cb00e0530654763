"""Wire-level fuzzing of every RPC: messages built from the descriptors, and mutated request bytes.

`test_fuzz_rpcs` draws meaningful values for the evaluation RPCs; this file
covers the rest of the surface: every method of every thidua.v1 service gets
messages whose fields (scalars, enums including unknown numbers, repeated,
maps, oneofs, nested messages) are drawn from the descriptor alone, and
valid serialized requests with bytes flipped, inserted, deleted or cut, sent
through a raw channel call. No answer may be UNKNOWN or INTERNAL, and the
server still answers health checks and a real Score afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.config import Limits, ServerConfig
from service.convert import value_from_json
from service.db import Store
from service.gen.thidua.v1 import blocs_pb2, evaluation_pb2, evaluation_pb2_grpc, rulesets_pb2
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import build_server
from tests.service.grpc_helpers import CASE_FILE, make_rulesets

FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
SERVICES = [
    f.services_by_name[name]
    for f, name in (
        (evaluation_pb2.DESCRIPTOR, "EvaluationService"),
        (rulesets_pb2.DESCRIPTOR, "RulesetService"),
        (blocs_pb2.DESCRIPTOR, "BlocService"),
    )
]
METHODS = [m for s in SERVICES for m in s.methods]
WORDS = ["khoi3", "2023.1", "2023", "tham_muu", "hau_can", "members", "excellent", "", "..", "x" * 300]
TEXT = st.one_of(st.sampled_from(WORDS), st.text(max_size=16))
_F = d.FieldDescriptor
INTS = {
    _F.TYPE_INT32: (-(2**31), 2**31 - 1),
    _F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _F.TYPE_UINT32: (0, 2**32 - 1),
    _F.TYPE_FIXED32: (0, 2**32 - 1),
    _F.TYPE_INT64: (-(2**63), 2**63 - 1),
    _F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _F.TYPE_UINT64: (0, 2**64 - 1),
    _F.TYPE_FIXED64: (0, 2**64 - 1),
}


def _scalar(field: d.FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type in INTS:
        low, high = INTS[field.type]
        return st.one_of(st.integers(-3, 5), st.integers(low, high))
    if field.type == _F.TYPE_BOOL:
        return st.booleans()
    if field.type == _F.TYPE_STRING:
        return TEXT
    if field.type == _F.TYPE_BYTES:
        return st.binary(max_size=16)
    if field.type == _F.TYPE_ENUM:
        # Proto3 enums are open: numbers the schema does not name must be handled too.
        enum = field.enum_type
        assert enum is not None
        return st.one_of(st.sampled_from([v.number for v in enum.values]), st.integers(-5, 99))
    return st.floats(allow_nan=True)  # double/float: thidua.v1 has none, kept for completeness


def _cls(descriptor: d.Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


@st.composite
def messages(draw: st.DrawFn, descriptor: d.Descriptor, depth: int = 0) -> Message:
    """A message of ``descriptor`` with a random subset of fields set to random values."""
    msg = _cls(descriptor)()
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if field.containing_oneof is not None and msg.WhichOneof(field.containing_oneof.name) is not None:
            continue
        nested = field.message_type
        if nested is not None and depth >= 3:
            continue
        if nested is not None and nested.GetOptions().map_entry:
            key_f, value_f = nested.fields_by_name["key"], nested.fields_by_name["value"]
            for _ in range(draw(st.integers(0, 3))):
                key = draw(_scalar(key_f))
                if value_f.message_type is not None:
                    getattr(msg, field.name)[key].CopyFrom(draw(messages(value_f.message_type, depth + 1)))
                else:
                    getattr(msg, field.name)[key] = draw(_scalar(value_f))
        elif field.is_repeated:
            count = draw(st.integers(0, 3))
            if nested is not None:
                getattr(msg, field.name).extend(draw(messages(nested, depth + 1)) for _ in range(count))
            else:
                getattr(msg, field.name).extend(draw(_scalar(field)) for _ in range(count))
        elif nested is not None:
            getattr(msg, field.name).CopyFrom(draw(messages(nested, depth + 1)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))
    return msg


def _path(method: d.MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _call(channel: grpc.Channel, method: d.MethodDescriptor, payloads: list[bytes]) -> grpc.StatusCode:
    """Send raw request bytes to ``method``; the status code it ends with (per item for streams)."""
    path = _path(method)
    try:
        if method.client_streaming and method.server_streaming:
            answers = list(channel.stream_stream(path, None, None)(iter(payloads), timeout=30))
            for raw in answers:
                # ScoreStream reports item errors inside the response (ScoreResponse.error).
                item: Any = _cls(method.output_type).FromString(raw)
                if item.HasField("error") and item.error.status in {"UNKNOWN", "INTERNAL"}:
                    return grpc.StatusCode.INTERNAL
        elif method.server_streaming:
            list(channel.unary_stream(path, None, None)(payloads[0], timeout=30))
        elif method.client_streaming:
            channel.stream_unary(path, None, None)(iter(payloads), timeout=30)
        else:
            channel.unary_unary(path, None, None)(payloads[0], timeout=30)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return grpc.StatusCode.OK


def _valid_requests() -> list[tuple[d.MethodDescriptor, bytes]]:
    """One realistic serialized request per evaluation RPC and a few others, to mutate."""
    case = json.loads(CASE_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    ref = vals.RulesetRef(name="khoi3", version="2023.1")
    sub = case["submissions"][0]
    inputs = {k: value_from_json(v) for k, v in sub["inputs"].items()}
    bloc_case = ev.BlocCase(
        bloc=case["bloc"],
        period=case["period"],
        members=case["members"],
        submissions=[
            ev.Submission(unit=s["unit"], inputs={k: value_from_json(v) for k, v in s["inputs"].items()})
            for s in case["submissions"]
        ],
    )
    by_name = {m.name: m for m in METHODS}
    return [
        (by_name["Score"], ev.ScoreRequest(ruleset=ref, unit=sub["unit"], inputs=inputs).SerializeToString()),
        (
            by_name["CheckEligibility"],
            ev.CheckEligibilityRequest(ruleset=ref, bloc_case=bloc_case).SerializeToString(),
        ),
        (
            by_name["ComputeRotation"],
            ev.ComputeRotationRequest(ruleset=ref, bloc_case=bloc_case).SerializeToString(),
        ),
        (by_name["GetRuleset"], rulesets_pb2.GetRulesetRequest(ruleset=ref).SerializeToString()),
        (
            by_name["StoreSubmissions"],
            blocs_pb2.StoreSubmissionsRequest(
                bloc="khoi3",
                period="2023",
                submissions=[blocs_pb2.SubmissionInput(unit=sub["unit"], inputs=inputs)],
            ).SerializeToString(),
        ),
    ]


VALID = _valid_requests()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[d.MethodDescriptor, bytes]:
    """A valid request with a few bytes flipped, inserted or deleted, or cut short."""
    method, data = draw(st.sampled_from(VALID))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(len(buf) - 1, 0)))
        if kind == "flip" and buf:
            buf[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and buf:
            del buf[at : at + draw(st.integers(1, 4))]
        else:
            del buf[at:]
    return method, bytes(buf)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    """A real server with a SQLite store (so BlocService and PublishRuleset do real work), and a channel."""
    folder = make_rulesets(tmp_path_factory.mktemp("rulesets"))
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('db') / 'thidua.db'}")
    store.migrate()
    store.put_bloc("khoi3", ["tham_muu", "hau_can", "ubkt", "tccb"])
    config = ServerConfig(address="127.0.0.1:0", rulesets=folder, limits=Limits())
    running = build_server(config, publisher=store)
    chan = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield chan
        _assert_healthy(chan)
    finally:
        chan.close()
        running.server.stop(0).wait()
        store.close()


def _assert_healthy(chan: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(chan).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health_pb2.HealthCheckResponse.SERVING == health.status
    _method, data = VALID[0]
    answer = evaluation_pb2_grpc.EvaluationServiceStub(chan).Score(
        ev.ScoreRequest.FromString(data), timeout=30
    )
    assert "khoi3" == answer.ruleset.name


_SETTINGS = settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@_SETTINGS
@given(data=st.data())
def test_descriptor_built_messages_to_every_rpc(channel: grpc.Channel, data: st.DataObject) -> None:
    """A random message for any RPC (drawn from its descriptor) gets OK or a deliberate status."""
    method = data.draw(st.sampled_from(METHODS))
    count = data.draw(st.integers(1, 3)) if method.client_streaming else 1
    payloads = [data.draw(messages(method.input_type)).SerializeToString() for _ in range(count)]
    assert _call(channel, method, payloads) not in FORBIDDEN


@_SETTINGS
@given(request=mutated())
def test_mutated_request_bytes(channel: grpc.Channel, request: tuple[d.MethodDescriptor, bytes]) -> None:
    """Corrupted serialized requests get OK or a deliberate status (INVALID_ARGUMENT when undecodable)."""
    method, data = request
    assert _call(channel, method, [data]) not in FORBIDDEN


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_undecodable_bytes_are_invalid_argument(channel: grpc.Channel, method: d.MethodDescriptor) -> None:
    """Regression: bytes that are no protobuf message answered INTERNAL (gRPC's default); now INVALID_ARGUMENT."""
    assert grpc.StatusCode.INVALID_ARGUMENT == _call(channel, method, [b"\xff\xff\xff\xff"])


def test_server_is_healthy_after_the_fuzzing(channel: grpc.Channel) -> None:
    """After all of the above the server still reports SERVING and scores the reference unit."""
    _assert_healthy(channel)


def test_stream_with_one_undecodable_message_ends_invalid_argument(channel: grpc.Channel) -> None:
    """A ScoreStream whose second message is garbage ends INVALID_ARGUMENT naming the request."""
    stream = next(m for m in METHODS if m.name == "ScoreStream")
    good = VALID[0][1]
    with pytest.raises(grpc.RpcError) as caught:
        list(channel.stream_stream(_path(stream), None, None)(iter([good, b"\xff\xff"]), timeout=30))
    error: Any = caught.value
    assert grpc.StatusCode.INVALID_ARGUMENT == error.code()
    assert "not a valid request message" in error.details()


@pytest.mark.parametrize("name", ["x" * 300, "..", "../rulesets/khoi3", "a/b", "a\x00b"])
def test_list_rulesets_with_a_name_that_is_no_folder(channel: grpc.Channel, name: str) -> None:
    """Regression: a ruleset name too long for the file system answered INTERNAL; path-like names list nothing."""
    method = next(m for m in METHODS if m.name == "ListRulesets")
    request = rulesets_pb2.ListRulesetsRequest(name=name).SerializeToString()
    assert grpc.StatusCode.NOT_FOUND == _call(channel, method, [request])
