"""RulesetService: list, read, validate, publish and compare rulesets.

Listing and reading work over the rulesets folder (`dsl.registry`).
Publishing needs a store implementing `Publisher` (the database layer,
`service.db`); a server started without one answers FAILED_PRECONDITION.
Comparing is `service.servicers.compare` over `dsl.compare` and `dsl.diff`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import grpc

from dsl import nodes as n
from dsl.errors import ERROR, Diagnostic, FieldViolation, InputError, NotFoundError, RulesetError
from dsl.format import format_source
from dsl.parser import normalize
from dsl.versions import version_key
from service.convert import diagnostic_pb, ruleset_pb
from service.db.models import PUBLISHED
from service.errors import ServiceError, guarded
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.gen.thidua.v1 import rulesets_pb2_grpc as rs_grpc
from service.gen.thidua.v1 import values_pb2 as vals
from service.logging import note_ruleset
from service.servicers.blocs import BlocStore
from service.servicers.common import RulesetSource
from service.servicers.compare import compare_rulesets

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset
    from dsl.inherit import ResolvedRuleset
    from service.db.records import StoredRuleset


class StoredVersion(Protocol):
    # Read-only properties, so that frozen records (service.db.StoredRuleset) satisfy the protocol.
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def sha256(self) -> str: ...


class PublishOutcome(Protocol):
    @property
    def ruleset(self) -> StoredVersion: ...

    @property
    def created(self) -> bool: ...


class Publisher(Protocol):
    """What PublishRuleset needs from the database layer (`service.db.repository.Store`)."""

    def publish(
        self, name: str, version: str, source: str, resolved_source: str, sha256: str, author: str
    ) -> PublishOutcome: ...


def _info(compiled: CompiledRuleset, latest: bool, extends: str = "") -> rs.RulesetInfo:
    ruleset = compiled.ruleset
    description = ruleset.first(n.Description)
    effective = ruleset.first(n.Effective)
    return rs.RulesetInfo(
        ruleset=ruleset_pb(compiled.ref),
        description=description.text if description is not None else "",
        effective_from=effective.start.isoformat() if effective is not None else "",
        effective_to=effective.end.isoformat() if effective is not None else "",
        status="published",
        latest=latest,
        extends=extends,
    )


def _extends(resolved: ResolvedRuleset) -> str:
    return f"{resolved.chain[1].name}@{resolved.chain[1].version}" if len(resolved.chain) > 1 else ""


class RulesetServicer(rs_grpc.RulesetServiceServicer):
    """Rulesets from the folder (read-only) and, with a `Publisher`, from the database."""

    def __init__(self, source: RulesetSource, publisher: Publisher | None = None) -> None:
        self.source = source
        self.publisher = publisher

    @guarded
    def ListRulesets(
        self, request: rs.ListRulesetsRequest, context: grpc.ServicerContext
    ) -> rs.ListRulesetsResponse:
        registry = self.source.registry
        wanted = normalize(request.name.strip())
        stored = self._stored_versions(wanted or None)
        names = [wanted] if wanted else sorted(set(registry.names()) | set(stored))
        if wanted and not registry.versions(wanted) and wanted not in stored:
            raise NotFoundError(f"no ruleset named '{wanted}'")
        out = rs.ListRulesetsResponse()
        for name in names:
            versions = registry.versions(name)
            # Versions published through the API that the folder does not hold.
            extra = [s for s in stored.get(name, []) if s.version not in versions]
            newest = max([*versions, *(s.version for s in extra if s.status == PUBLISHED)], key=version_key)
            for version in versions:
                latest = version == newest
                try:
                    resolved = registry.resolve(name, version)
                    compiled = self.source.compile(resolved)
                except RulesetError as exc:
                    # A broken file is listed, not hidden: operators need to see it.
                    out.rulesets.add(
                        ruleset=vals.ResolvedRuleset(name=name, version=version),
                        status="invalid",
                        description=exc.message,
                        latest=latest,
                    )
                    continue
                out.rulesets.append(_info(compiled, latest, _extends(resolved)))
            for item in sorted(extra, key=lambda s: version_key(s.version)):
                assert self.source.published is not None  # extra is empty without a database
                info = _info(self.source.published.compile_stored(item), item.version == newest)
                info.status = item.status
                out.rulesets.append(info)
        return out

    def _stored_versions(self, name: str | None) -> dict[str, list[StoredRuleset]]:
        """Published and retired versions in the database, by name (nothing without a database)."""
        if self.source.published is None:
            return {}
        by_name: dict[str, list[StoredRuleset]] = {}
        for item in self.source.published.stored_versions(name):
            by_name.setdefault(item.name, []).append(item)
        return by_name

    @guarded
    def GetRuleset(
        self, request: rs.GetRulesetRequest, context: grpc.ServicerContext
    ) -> rs.GetRulesetResponse:
        compiled = self.source.compiled(request.ruleset)
        versions = self.source.registry.versions(compiled.name)
        if compiled.version not in versions and self.source.published is not None:
            # Published through the API: the database holds its text.
            stored = self.source.published.store.find_ruleset(compiled.name, compiled.version)
            if stored is not None:
                newest = self._stored_versions(compiled.name).get(compiled.name, [])
                published = [s.version for s in newest if s.status == PUBLISHED]
                latest = max([*versions, *published], key=version_key) == compiled.version
                info = _info(compiled, latest)
                info.status = stored.status
                return rs.GetRulesetResponse(info=info, source=stored.source)
        resolved = self.source.resolve(request.ruleset)
        return rs.GetRulesetResponse(
            info=_info(compiled, bool(versions) and versions[-1] == compiled.version, _extends(resolved)),
            source=resolved.sources.get(resolved.chain[0].path, ""),
        )

    @guarded
    def ValidateRuleset(
        self, request: rs.ValidateRulesetRequest, context: grpc.ServicerContext
    ) -> rs.ValidateRulesetResponse:
        path = request.path.strip() or "<request>"
        text = request.source
        try:
            _resolved, compiled = self.source.compile_text(text, path, "source")
        except RulesetError as exc:
            return rs.ValidateRulesetResponse(
                valid=False,
                diagnostics=[
                    diagnostic_pb(d, text if d.span.file == path else exc.source) for d in exc.diagnostics
                ],
            )
        except NotFoundError as exc:
            # A parent named by `extends` that the folder does not have.
            diag = Diagnostic(ERROR, exc.message, n.Span(1, 1, 1, 2, path), "unknown-parent")
            return rs.ValidateRulesetResponse(valid=False, diagnostics=[diagnostic_pb(diag, text)])
        note_ruleset(compiled.sha256)
        return rs.ValidateRulesetResponse(
            valid=True,
            diagnostics=[diagnostic_pb(d, text) for d in compiled.checked.diagnostics],
            ruleset=ruleset_pb(compiled.ref),
        )

    @guarded
    def PublishRuleset(
        self, request: rs.PublishRulesetRequest, context: grpc.ServicerContext
    ) -> rs.PublishRulesetResponse:
        if self.publisher is None:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "publishing needs a database; this server runs on the rulesets folder only",
            )
        problems = [
            FieldViolation(field, "required")
            for field in ("name", "version", "source", "author")
            if not getattr(request, field).strip()
        ]
        if problems:
            raise InputError(problems, what="request")
        name, version = normalize(request.name.strip()), request.version.strip()
        path = f"{name}/{version}.rules"
        resolved, compiled = self.source.compile_text(request.source, path, "source")
        if (compiled.name, compiled.version) != (name, version):
            raise InputError(
                [
                    FieldViolation(
                        "source",
                        f'the source declares ruleset {compiled.name} version "{compiled.version}", '
                        f'not {name} version "{version}"',
                    )
                ],
                what="request",
            )
        outcome = self.publisher.publish(
            name,
            version,
            request.source,
            format_source(resolved.source),
            compiled.sha256,
            request.author.strip(),
        )
        note_ruleset(outcome.ruleset.sha256)
        if self.source.published is not None:
            self.source.published.forget(name)  # the new version may be the latest now
        return rs.PublishRulesetResponse(
            ruleset=ruleset_pb(outcome.ruleset),
            created=outcome.created,
        )

    @guarded
    def CompareRulesets(
        self, request: rs.CompareRulesetsRequest, context: grpc.ServicerContext
    ) -> rs.CompareRulesetsResponse:
        store = self.publisher if isinstance(self.publisher, BlocStore) else None
        return compare_rulesets(self.source, request, store)
