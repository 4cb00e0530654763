"""The repository: every read and write the service makes, as methods of `Store`.

Servicers call these methods and never write SQL. Each method is one short
transaction, and every write is safe to retry:

- a published ruleset version is immutable: publishing the same content
  (same SHA-256) again returns the stored one with ``created=False``; other
  content under the same name and version is a `ConflictError`; of several
  concurrent publishes exactly one inserts the row (the unique constraint
  decides; the losers re-read and report a no-op or a conflict);
- a submission or evaluation with an idempotency key is written once: the
  same key with the same content returns the first write, with other content
  it is a `ConflictError`. Without a key, a submission equal to the latest
  revision of its stage is not written again;
- committing a period's leader and deputy twice with the same units is a no-op.

A database that cannot be reached (or stays locked) raises `UnavailableError`;
nothing was written, and the same call can be repeated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine
from sqlmodel import Session, col, select

from dsl.errors import ConflictError, FieldViolation, InputError, NotFoundError
from dsl.versions import invalid_version_reason, version_key
from service.db import canonical, migrations
from service.db.engine import create_engine, redact, writer
from service.db.errors import UnavailableError
from service.db.models import (
    DRAFT,
    PUBLISHED,
    RETIRED,
    STAGES,
    BlocMemberRow,
    BlocRow,
    EvaluationRow,
    HolderRow,
    RulesetVersionRow,
    SubmissionRow,
    utcnow,
)
from service.db.records import (
    BlocWrite,
    EvaluationWrite,
    Holders,
    HoldersWrite,
    NewEvaluation,
    NewSubmission,
    PublishResult,
    StoredBloc,
    StoredCase,
    StoredEvaluation,
    StoredRuleset,
    StoredSubmission,
    SubmissionWrite,
    Verification,
)
from service.db.rows import (
    KIND_MAX,
    LABEL_MAX,
    NAME_MAX,
    PERIOD_MAX,
    VERSION_MAX,
    aware,
    evaluation_record,
    holders_record,
    key_problem,
    require_name,
    ruleset_record,
    submission_record,
    too_long,
)

T = TypeVar("T")

#: How often a write that lost a race (unique constraint) is retried before giving up.
RACE_RETRIES = 8


class Store:
    """thidua's database: ruleset versions, blocs, submissions, evaluations, leader/deputy history.

    ``Store(url)`` connects lazily; `migrate` brings the schema up to date
    (the service calls it on start). ``url`` defaults to
    ``$THIDUA_DATABASE_URL``, else ``sqlite:///var/thidua.db``.
    """

    def __init__(self, url: str | URL | None = None, *, engine: Engine | None = None) -> None:
        self._engine = engine if engine is not None else create_engine(url)
        self._writer = writer(self._engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return redact(self._engine.url)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            # Connection refused, server gone, pool exhausted, SQLite locked: not the caller's fault,
            # and nothing was committed (commit is the last statement of every transaction).
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # drivers' messages span lines
            raise UnavailableError(f"database {self.url} unavailable: {reason}") from exc
        except sa_exc.DataError as exc:
            # A value the database refuses (a NUL character, text longer than its column): the
            # caller's data, so a worded input error — never a server error.
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise InputError([FieldViolation("request", f"a value cannot be stored: {reason}")]) from exc

    def _read(self, work: Callable[[Session], T]) -> T:
        with self._guard(), Session(self._engine) as session:
            return work(session)

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one write transaction; retry it when it lost a race on a unique constraint."""
        for _attempt in range(RACE_RETRIES):
            with self._guard(), Session(self._writer, expire_on_commit=False) as session:
                try:
                    result = work(session)
                    session.commit()
                    return result
                except sa_exc.IntegrityError:
                    # Another transaction inserted the same key first: run again, and `work` finds its row.
                    session.rollback()
        raise UnavailableError(f"database {self.url}: concurrent writes kept colliding; retry the call")

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is already there)."""
        with self._guard():
            migrations.upgrade(self._engine)

    def schema_revision(self) -> str | None:
        """The schema revision of the database (None: never migrated)."""
        with self._guard():
            return migrations.current(self._engine)

    def ping(self) -> None:
        """Raise `UnavailableError` unless the database answers."""
        self._read(lambda s: s.exec(select(sa.literal(1))).one())

    # ------------------------------------------------------------------ rulesets

    def _version_row(self, session: Session, name: str, version: str) -> RulesetVersionRow | None:
        statement = select(RulesetVersionRow).where(
            RulesetVersionRow.name == name, RulesetVersionRow.version == version
        )
        return session.exec(statement).first()

    def publish(
        self, name: str, version: str, source: str, resolved_source: str, sha256: str, author: str
    ) -> PublishResult:
        """Publish ``name``@``version``; a no-op (``created=False``) when the same content is published.

        A stored draft of that version becomes published with this content.
        Other content under a published or retired version is a `ConflictError`.
        """
        return self._put_version(name, version, source, resolved_source, sha256, author, PUBLISHED)

    def save_draft(
        self, name: str, version: str, source: str, resolved_source: str, sha256: str, author: str
    ) -> PublishResult:
        """Store ``name``@``version`` as a draft, replacing an earlier draft's content.

        A version already published or retired cannot become a draft again:
        the same content is a no-op, other content a `ConflictError`.
        """
        return self._put_version(name, version, source, resolved_source, sha256, author, DRAFT)

    def _put_version(
        self, name: str, version: str, source: str, resolved: str, sha256: str, author: str, status: str
    ) -> PublishResult:
        problems: list[FieldViolation] = []
        require_name(name, "name", NAME_MAX, problems)
        reason = invalid_version_reason(version)
        if reason is not None:
            problems.append(FieldViolation("version", reason))
        elif len(version) > VERSION_MAX:
            problems.append(FieldViolation("version", f"at most {VERSION_MAX} characters allowed"))
        require_name(author, "author", NAME_MAX, problems)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            problems.append(FieldViolation("sha256", "must be 64 lowercase hex digits"))
        if problems:
            raise InputError(problems, what="ruleset")

        def work(session: Session) -> PublishResult:
            now = utcnow()
            row = self._version_row(session, name, version)
            if row is None:
                row = RulesetVersionRow(
                    name=name,
                    version=version,
                    source=source,
                    resolved_source=resolved,
                    sha256=sha256,
                    status=status,
                    author=author,
                    created_at=now,
                    published_at=now if status == PUBLISHED else None,
                )
                session.add(row)
                session.flush()
                return PublishResult(ruleset_record(row), created=True)
            if row.status != DRAFT:
                if row.sha256 == sha256:
                    return PublishResult(ruleset_record(row), created=False)
                raise ConflictError(
                    f"ruleset {name}@{version} is already {row.status} with other content "
                    f"(sha256 {row.sha256[:12]}…, this is {sha256[:12]}…); publish it under a new version"
                )
            if status == DRAFT and row.sha256 == sha256 and row.source == source:
                return PublishResult(ruleset_record(row), created=False)
            row.source, row.resolved_source, row.sha256, row.author = source, resolved, sha256, author
            row.status = status
            if status == PUBLISHED:
                row.published_at = now
            session.add(row)
            session.flush()
            return PublishResult(ruleset_record(row), created=True)

        return self._write(work)

    def retire(self, name: str, version: str) -> StoredRuleset:
        """Mark a published version retired (kept, no longer "latest"); retiring twice is a no-op."""

        def work(session: Session) -> StoredRuleset:
            row = self._version_row(session, name, version)
            if row is None:
                raise NotFoundError(f"ruleset {name}@{version} not found in the database")
            if row.status == DRAFT:
                raise ConflictError(f"ruleset {name}@{version} is a draft; only a published version retires")
            if row.status == PUBLISHED:
                row.status, row.retired_at = RETIRED, utcnow()
                session.add(row)
                session.flush()
            return ruleset_record(row)

        return self._write(work)

    def find_ruleset(self, name: str, version: str) -> StoredRuleset | None:
        """The stored version ``name``@``version`` in any status, or None."""

        def work(session: Session) -> StoredRuleset | None:
            row = self._version_row(session, name, version)
            return None if row is None else ruleset_record(row)

        return self._read(work)

    def get_ruleset(self, name: str, version: str | None = None) -> StoredRuleset:
        """``name``@``version``, or the latest published version when ``version`` is empty."""
        if version:
            found = self.find_ruleset(name, version)
            if found is None:
                raise NotFoundError(f"ruleset {name}@{version} not found in the database")
            return found
        published = self.list_rulesets(name, status=PUBLISHED)
        if not published:
            raise NotFoundError(f"ruleset {name} has no published version in the database")
        return published[-1]

    def list_rulesets(self, name: str | None = None, status: str | None = None) -> list[StoredRuleset]:
        """Stored versions (of ``name``, in ``status``), by name then version, oldest version first."""

        def work(session: Session) -> list[StoredRuleset]:
            statement = select(RulesetVersionRow)
            if name is not None:
                statement = statement.where(RulesetVersionRow.name == name)
            if status is not None:
                statement = statement.where(RulesetVersionRow.status == status)
            rows = [ruleset_record(row) for row in session.exec(statement)]
            return sorted(rows, key=lambda r: (r.name, version_key(r.version)))

        return self._read(work)

    def ruleset_by_sha256(self, sha256: str) -> StoredRuleset | None:
        """A stored version whose resolved text has this SHA-256 (the oldest one), or None."""

        def work(session: Session) -> StoredRuleset | None:
            statement = (
                select(RulesetVersionRow)
                .where(RulesetVersionRow.sha256 == sha256)
                .order_by(col(RulesetVersionRow.id))
            )
            row = session.exec(statement).first()
            return None if row is None else ruleset_record(row)

        return self._read(work)

    # ------------------------------------------------------------------ blocs

    def _bloc_row(self, session: Session, name: str) -> BlocRow:
        row = session.exec(select(BlocRow).where(BlocRow.name == name)).first()
        if row is None:
            raise NotFoundError(f"bloc {name!r} not found in the database")
        return row

    def _members(self, session: Session, bloc_id: int) -> tuple[str, ...]:
        statement = (
            select(BlocMemberRow.unit)
            .where(BlocMemberRow.bloc_id == bloc_id)
            .order_by(col(BlocMemberRow.position))
        )
        return tuple(session.exec(statement))

    def _stored_bloc(self, session: Session, row: BlocRow) -> StoredBloc:
        assert row.id is not None
        return StoredBloc(
            name=row.name,
            label=row.label,
            members=self._members(session, row.id),
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
        )

    def put_bloc(self, name: str, members: Sequence[str], label: str = "") -> BlocWrite:
        """Create or update bloc ``name`` with ``members`` in rotation order (idempotent)."""
        problems: list[FieldViolation] = []
        require_name(name, "bloc", NAME_MAX, problems)
        problems += too_long(label, "label", LABEL_MAX)
        if not members:
            problems.append(FieldViolation("members", "a bloc needs at least one member"))
        seen: set[str] = set()
        for i, unit in enumerate(members):
            require_name(unit, f"members[{i}]", NAME_MAX, problems)
            if unit in seen:
                problems.append(FieldViolation(f"members[{i}]", f"unit {unit!r} is listed twice"))
            seen.add(unit)
        if problems:
            raise InputError(problems, what="bloc")
        wanted = tuple(members)

        def work(session: Session) -> BlocWrite:
            now = utcnow()
            # FOR UPDATE: two concurrent puts of one bloc replace its members one after the other.
            row = session.exec(select(BlocRow).where(BlocRow.name == name).with_for_update()).first()
            if row is None:
                row = BlocRow(name=name, label=label, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
            elif self._members(session, row.id or 0) == wanted and row.label == label:
                return BlocWrite(self._stored_bloc(session, row), created=False)
            else:
                row.label, row.updated_at = label, now
                session.add(row)
                session.execute(sa.delete(BlocMemberRow).where(col(BlocMemberRow.bloc_id) == row.id))
            assert row.id is not None
            session.add_all(
                BlocMemberRow(bloc_id=row.id, position=i, unit=unit) for i, unit in enumerate(wanted)
            )
            session.flush()
            return BlocWrite(self._stored_bloc(session, row), created=True)

        return self._write(work)

    def get_bloc(self, name: str) -> StoredBloc:
        """Bloc ``name`` with its members in rotation order; `NotFoundError` when unknown."""
        return self._read(lambda s: self._stored_bloc(s, self._bloc_row(s, name)))

    def list_blocs(self) -> list[StoredBloc]:
        """Every stored bloc, by name."""

        def work(session: Session) -> list[StoredBloc]:
            rows = session.exec(select(BlocRow).order_by(col(BlocRow.name))).all()
            return [self._stored_bloc(session, row) for row in rows]

        return self._read(work)

    # ------------------------------------------------------------------ submissions

    def store_submission(
        self,
        bloc: str,
        period: str,
        unit: str,
        inputs: Mapping[str, Any],
        *,
        stage: str = "self",
        idempotency_key: str | None = None,
        author: str = "",
    ) -> SubmissionWrite:
        """Store one unit's inputs for ``period`` at ``stage`` (see `store_submissions`)."""
        item = NewSubmission(unit=unit, inputs=inputs, stage=stage, idempotency_key=idempotency_key)
        return self.store_submissions(bloc, period, [item], author=author)[0]

    def store_submissions(
        self, bloc: str, period: str, items: Sequence[NewSubmission], *, author: str = ""
    ) -> list[SubmissionWrite]:
        """Store several units' inputs in one transaction: all are written, or none.

        Each item is a new revision of its (unit, stage); nothing is overwritten.
        An item whose idempotency key is stored already returns that write
        (`ConflictError` if its content differs); an item without a key that
        equals the latest revision of its stage is not written again.
        """
        problems: list[FieldViolation] = []
        require_name(bloc, "bloc", NAME_MAX, problems)
        require_name(period, "period", PERIOD_MAX, problems)
        problems += too_long(author, "author", NAME_MAX)
        prepared: list[tuple[NewSubmission, str, str]] = []
        keys: set[str] = set()
        for i, item in enumerate(items):
            where = f"submissions[{i}]"
            require_name(item.unit, f"{where}.unit", NAME_MAX, problems)
            if item.stage not in STAGES:
                problems.append(FieldViolation(f"{where}.stage", f"must be one of {', '.join(STAGES)}"))
            problems += key_problem(item.idempotency_key, f"{where}.idempotency_key")
            if item.idempotency_key is not None:
                if item.idempotency_key in keys:
                    problems.append(FieldViolation(f"{where}.idempotency_key", "used twice in one request"))
                keys.add(item.idempotency_key)
            given: object = item.inputs  # typed as a mapping, but servicers pass what clients sent
            if not isinstance(given, Mapping):
                problems.append(FieldViolation(f"{where}.inputs", "must be an object of named inputs"))
                continue
            try:
                text = canonical.dumps(item.inputs, what="submission")
            except InputError as exc:
                problems += [FieldViolation(f"{where}.inputs.{v.field}", v.message) for v in exc.violations]
                continue
            prepared.append((item, text, canonical.sha256_text(text)))
        if not items:
            problems.append(FieldViolation("submissions", "nothing to store"))
        if problems:
            raise InputError(problems, what="submissions")

        def work(session: Session) -> list[SubmissionWrite]:
            bloc_row = self._bloc_row(session, bloc)
            assert bloc_row.id is not None
            members = set(self._members(session, bloc_row.id))
            outside = [
                FieldViolation(f"submissions[{i}].unit", f"{item.unit!r} is not a member of bloc {bloc!r}")
                for i, (item, _, _) in enumerate(prepared)
                if item.unit not in members
            ]
            if outside:
                raise InputError(outside, what="submissions")
            return [
                self._store_one(session, bloc_row.id, bloc, period, item, text, digest, author)
                for item, text, digest in prepared
            ]

        return self._write(work)

    def _store_one(
        self,
        session: Session,
        bloc_id: int,
        bloc: str,
        period: str,
        item: NewSubmission,
        text: str,
        digest: str,
        author: str,
    ) -> SubmissionWrite:
        if item.idempotency_key is not None:
            statement = select(SubmissionRow).where(SubmissionRow.idempotency_key == item.idempotency_key)
            existing = session.exec(statement).first()
            if existing is not None:
                same = (existing.bloc_id, existing.unit, existing.period, existing.stage) == (
                    bloc_id,
                    item.unit,
                    period,
                    item.stage,
                ) and existing.content_sha256 == digest
                if not same:
                    raise ConflictError(
                        f"idempotency key {item.idempotency_key!r} was used for another submission "
                        f"(submission {existing.id}: {existing.unit} {existing.period} {existing.stage})"
                    )
                return SubmissionWrite(submission_record(existing, bloc), created=False)
        latest = session.exec(
            select(SubmissionRow)
            .where(
                SubmissionRow.bloc_id == bloc_id,
                SubmissionRow.unit == item.unit,
                SubmissionRow.period == period,
                SubmissionRow.stage == item.stage,
            )
            .order_by(col(SubmissionRow.revision).desc())
        ).first()
        if item.idempotency_key is None and latest is not None and latest.content_sha256 == digest:
            return SubmissionWrite(submission_record(latest, bloc), created=False)
        row = SubmissionRow(
            bloc_id=bloc_id,
            unit=item.unit,
            period=period,
            stage=item.stage,
            revision=1 if latest is None else latest.revision + 1,
            inputs=text,
            content_sha256=digest,
            idempotency_key=item.idempotency_key,
            author=author,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return SubmissionWrite(submission_record(row, bloc), created=True)

    def _latest_submissions(
        self, session: Session, bloc_row: BlocRow, period: str, stage: str | None, members: Sequence[str]
    ) -> list[StoredSubmission]:
        if stage is not None and stage not in STAGES:
            raise InputError([FieldViolation("stage", f"must be one of {', '.join(STAGES)}")], "request")
        statement = select(SubmissionRow).where(
            SubmissionRow.bloc_id == bloc_row.id, SubmissionRow.period == period
        )
        if stage is not None:
            statement = statement.where(SubmissionRow.stage == stage)
        best: dict[str, SubmissionRow] = {}
        for row in session.exec(statement):
            rank = (STAGES.index(row.stage), row.revision)
            held = best.get(row.unit)
            if held is None or rank > (STAGES.index(held.stage), held.revision):
                best[row.unit] = row
        order = {unit: i for i, unit in enumerate(members)}
        units = sorted(best, key=lambda u: (order.get(u, len(order)), u))
        return [submission_record(best[unit], bloc_row.name) for unit in units]

    def submissions(self, bloc: str, period: str, stage: str | None = None) -> list[StoredSubmission]:
        """The submissions of ``bloc`` for ``period``: one per unit, in rotation order.

        Each unit's latest stage (approved > reviewed > self), latest revision;
        with ``stage``, that stage only (units without it are left out).
        """

        def work(session: Session) -> list[StoredSubmission]:
            bloc_row = self._bloc_row(session, bloc)
            members = self._members(session, bloc_row.id or 0)
            return self._latest_submissions(session, bloc_row, period, stage, members)

        return self._read(work)

    def submission_history(self, bloc: str, period: str, unit: str) -> list[StoredSubmission]:
        """Every stored write of ``unit``'s inputs for ``period``: by stage, then revision."""

        def work(session: Session) -> list[StoredSubmission]:
            bloc_row = self._bloc_row(session, bloc)
            statement = select(SubmissionRow).where(
                SubmissionRow.bloc_id == bloc_row.id,
                SubmissionRow.period == period,
                SubmissionRow.unit == unit,
            )
            rows = sorted(session.exec(statement), key=lambda r: (STAGES.index(r.stage), r.revision))
            return [submission_record(row, bloc) for row in rows]

        return self._read(work)

    # ------------------------------------------------------------------ evaluations

    def record_evaluation(
        self,
        kind: str,
        ruleset: StoredRuleset | tuple[str, str, str],
        request: Any,
        result: Any,
        *,
        bloc: str | None = None,
        period: str | None = None,
        idempotency_key: str | None = None,
        author: str = "",
    ) -> EvaluationWrite:
        """Record an evaluation; ``ruleset`` is a stored version or (name, version, sha256).

        With an idempotency key, recording the same evaluation again returns
        the first record; other content under the key is a `ConflictError`.
        """
        name, version, sha = (
            (ruleset.name, ruleset.version, ruleset.sha256) if isinstance(ruleset, StoredRuleset) else ruleset
        )
        problems = key_problem(idempotency_key, "idempotency_key")
        require_name(kind, "kind", KIND_MAX, problems)
        problems += too_long(name, "ruleset.name", NAME_MAX) + too_long(
            version, "ruleset.version", VERSION_MAX
        )
        problems += too_long(bloc, "bloc", NAME_MAX) + too_long(period, "period", PERIOD_MAX)
        problems += too_long(author, "author", NAME_MAX)
        if problems:
            raise InputError(problems, what="evaluation")
        request_text = canonical.dumps(request, what="evaluation request")
        result_text = canonical.dumps(result, what="evaluation result")

        def work(session: Session) -> EvaluationWrite:
            if idempotency_key is not None:
                statement = select(EvaluationRow).where(EvaluationRow.idempotency_key == idempotency_key)
                existing = session.exec(statement).first()
                if existing is not None:
                    if (existing.request, existing.result, existing.ruleset_sha256) != (
                        request_text,
                        result_text,
                        sha,
                    ):
                        raise ConflictError(
                            f"idempotency key {idempotency_key!r} was used for another evaluation "
                            f"(evaluation {existing.id})"
                        )
                    return EvaluationWrite(evaluation_record(existing), created=False)
            row = EvaluationRow(
                kind=kind,
                ruleset_name=name,
                ruleset_version=version,
                ruleset_sha256=sha,
                bloc=bloc,
                period=period,
                request=request_text,
                result=result_text,
                idempotency_key=idempotency_key,
                author=author,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return EvaluationWrite(evaluation_record(row), created=True)

        return self._write(work)

    def record_evaluations(self, items: Sequence[NewEvaluation]) -> int:
        """Record many evaluations in one transaction (no idempotency keys: each is a new record)."""
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for item in items:
            row = _evaluation_row(item, now)
            if row is not None:
                rows.append(row)
        if not rows:
            return 0

        def work(session: Session) -> int:
            # One executemany: the drivers insert a batch without a round trip per row.
            session.execute(sa.insert(EvaluationRow), rows)
            return len(rows)

        return self._write(work)

    def get_evaluation(self, evaluation_id: int) -> StoredEvaluation:
        """The recorded evaluation with this id; `NotFoundError` when there is none."""

        def work(session: Session) -> StoredEvaluation:
            row = session.get(EvaluationRow, evaluation_id)
            if row is None:
                raise NotFoundError(f"evaluation {evaluation_id} not found in the database")
            return evaluation_record(row)

        return self._read(work)

    def evaluations(
        self, *, bloc: str | None = None, period: str | None = None, ruleset_sha256: str | None = None
    ) -> list[StoredEvaluation]:
        """Recorded evaluations matching every given filter, oldest first."""

        def work(session: Session) -> list[StoredEvaluation]:
            statement = select(EvaluationRow).order_by(col(EvaluationRow.id))
            if bloc is not None:
                statement = statement.where(EvaluationRow.bloc == bloc)
            if period is not None:
                statement = statement.where(EvaluationRow.period == period)
            if ruleset_sha256 is not None:
                statement = statement.where(EvaluationRow.ruleset_sha256 == ruleset_sha256)
            return [evaluation_record(row) for row in session.exec(statement)]

        return self._read(work)

    def verify_evaluation(
        self, evaluation_id: int, reevaluate: Callable[[StoredRuleset, Any], Any]
    ) -> Verification:
        """Run a recorded evaluation again with the stored ruleset its SHA-256 names, and compare.

        ``reevaluate(ruleset, request)`` computes the result document afresh
        (the caller supplies the engine). `NotFoundError` when no stored
        ruleset version has that SHA-256.
        """
        evaluation = self.get_evaluation(evaluation_id)
        ruleset = self.ruleset_by_sha256(evaluation.ruleset_sha256)
        if ruleset is None:
            raise NotFoundError(
                f"evaluation {evaluation_id} used ruleset sha256 {evaluation.ruleset_sha256}, "
                "which is not stored; it cannot be re-evaluated"
            )
        recomputed = reevaluate(ruleset, evaluation.request)
        matches = canonical.dumps(recomputed) == canonical.dumps(evaluation.result)
        return Verification(evaluation=evaluation, ruleset=ruleset, recomputed=recomputed, matches=matches)

    # ------------------------------------------------------------------ leader / deputy history

    def commit_holders(
        self,
        bloc: str,
        period: str,
        leader: str | None,
        deputy: str | None,
        *,
        evaluation_id: int | None = None,
        author: str = "",
    ) -> HoldersWrite:
        """Record who leads and deputizes ``bloc`` in ``period`` (typically the next period).

        Committing the same units again is a no-op; other units for a period
        already committed are a `ConflictError` (history is not rewritten).
        """
        problems: list[FieldViolation] = []
        require_name(period, "period", PERIOD_MAX, problems)
        problems += too_long(author, "author", NAME_MAX)
        if leader is not None and leader == deputy:
            problems.append(FieldViolation("deputy", "the deputy cannot also be the leader"))
        if problems:
            raise InputError(problems, what="holders")

        def work(session: Session) -> HoldersWrite:
            bloc_row = self._bloc_row(session, bloc)
            assert bloc_row.id is not None
            members = set(self._members(session, bloc_row.id))
            outside = [
                FieldViolation(role, f"{unit!r} is not a member of bloc {bloc!r}")
                for role, unit in (("leader", leader), ("deputy", deputy))
                if unit is not None and unit not in members
            ]
            if outside:
                raise InputError(outside, what="holders")
            statement = select(HolderRow).where(HolderRow.bloc_id == bloc_row.id, HolderRow.period == period)
            existing = session.exec(statement).first()
            if existing is not None:
                if (existing.leader, existing.deputy) != (leader, deputy):
                    raise ConflictError(
                        f"bloc {bloc!r} period {period!r} already has leader {existing.leader!r} and "
                        f"deputy {existing.deputy!r}; committed holders are not changed"
                    )
                return HoldersWrite(holders_record(existing, bloc), created=False)
            row = HolderRow(
                bloc_id=bloc_row.id,
                period=period,
                leader=leader,
                deputy=deputy,
                evaluation_id=evaluation_id,
                author=author,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return HoldersWrite(holders_record(row, bloc), created=True)

        return self._write(work)

    def _history(self, session: Session, bloc_row: BlocRow) -> list[Holders]:
        rows = session.exec(select(HolderRow).where(HolderRow.bloc_id == bloc_row.id)).all()
        ordered = sorted(rows, key=lambda r: version_key(r.period), reverse=True)
        return [holders_record(row, bloc_row.name) for row in ordered]

    def history(self, bloc: str) -> list[Holders]:
        """Every committed period of ``bloc``, newest first."""
        return self._read(lambda s: self._history(s, self._bloc_row(s, bloc)))

    def holders(self, bloc: str, period: str) -> Holders | None:
        """Who holds the seats of ``bloc`` in ``period``, or None when not committed."""
        found = [h for h in self.history(bloc) if h.period == period]
        return found[0] if found else None

    # ------------------------------------------------------------------ cases

    def bloc_case(self, bloc: str, period: str, ruleset: str, *, stage: str | None = None) -> StoredCase:
        """The CASE document (SPEC §2) for ``bloc`` and ``period`` from stored data, read in one transaction.

        ``current`` is the holders committed for ``period``; ``history`` the
        earlier periods, newest first; ``submissions`` as `submissions` picks
        them, each item saying its ``stage``.
        """

        def work(session: Session) -> StoredCase:
            bloc_row = self._bloc_row(session, bloc)
            members = self._members(session, bloc_row.id or 0)
            stored = self._latest_submissions(session, bloc_row, period, stage, members)
            history = self._history(session, bloc_row)
            current = next((h for h in history if h.period == period), None)
            earlier = [h.to_case() for h in history if version_key(h.period) < version_key(period)]
            case: dict[str, Any] = {
                "ruleset": ruleset,
                "bloc": bloc,
                "period": period,
                "members": list(members),
                "current": {} if current is None else _without_period(current.to_case()),
                "history": earlier,
                "submissions": [{"unit": s.unit, "inputs": s.inputs, "stage": s.stage} for s in stored],
            }
            return StoredCase(case=case, submissions=tuple(stored))

        return self._read(work)


def _evaluation_row(item: NewEvaluation, now: datetime) -> dict[str, Any] | None:
    """The row of one batched evaluation, or None when it cannot be stored (counted as not written)."""
    name, version, sha = item.ruleset
    if len(name) > NAME_MAX or len(version) > VERSION_MAX or len(sha) > 64 or len(item.kind) > KIND_MAX:
        return None
    try:
        request = canonical.dumps(_document(item.request), what="evaluation request")
        result = canonical.dumps(_document(item.result), what="evaluation result")
    except InputError:
        return None
    # Bloc and period only index the record (the request holds the whole case): too long → left out.
    return {
        "kind": item.kind,
        "ruleset_name": name,
        "ruleset_version": version,
        "ruleset_sha256": sha,
        "bloc": item.bloc if item.bloc is not None and len(item.bloc) <= NAME_MAX else None,
        "period": item.period if item.period is not None and len(item.period) <= PERIOD_MAX else None,
        "request": request,
        "result": result,
        "idempotency_key": None,
        "author": item.author[:NAME_MAX],
        "created_at": now,
    }


def _document(value: Any) -> Any:
    """A JSON-like document: engine results render themselves with ``to_json()``."""
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else value


def _without_period(item: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in item.items() if k != "period"}
