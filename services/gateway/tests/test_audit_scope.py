"""Attacks on the audit log's department scope: a department admin sees the calls of
their departments, and a department name (the viewer's, or the one a request names)
is never a pattern. `%` and `_` alone are not
departments (the one rule, sentra_common.access.validate_department, refuses them), and
an `_` inside a valid name (`a_b`) matches only itself."""

from __future__ import annotations

import pytest
from sentra.ingestion.v1 import ingestion_pb2
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog, AuditQuery, AuditRecord
from sentra_gateway.routes import request_department


@pytest.fixture
async def log(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "audit.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    log = AuditLog(engine)
    for subject, department in (("dani", "legal"), ("rosa", "rrhh"), ("axel", "axb"), ("abel", "a_b")):
        await log.append(AuditRecord(method="/x/Search", result="OK", subject=subject, departments=(department,)))
    await log.append(AuditRecord(method="/x/ListDocuments", result="OK", subject="bruno", department="rrhh"))
    yield log
    await engine.dispose()


async def _seen(log: AuditLog, departments: tuple[str, ...]) -> set[str]:
    entries, _ = await log.query(Principal("eve", departments, ("dept-admin",)), AuditQuery())
    return {e.subject for e in entries}


@pytest.mark.parametrize("department", ["%", "_", "%%", "legal%", "legal,rrhh", "Legal", ""])
async def test_a_department_that_breaks_the_rule_is_refused_with_the_rule(log, department):
    with pytest.raises(InvalidArgument, match="1-64 lowercase letters, digits, '-' or '_'"):
        await _seen(log, (department,))


async def test_an_underscore_in_a_department_matches_only_itself(log):
    # `a_b` is a valid name; unescaped in a LIKE pattern it would also match `axb`.
    assert await _seen(log, ("a_b",)) == {"abel"}
    assert await _seen(log, ("axb",)) == {"axel"}


async def test_a_department_with_an_underscore_does_not_match_a_similar_name(log):
    assert await _seen(log, ("r_hh",)) == set()
    assert await _seen(log, ("rrhh",)) == {"rosa", "bruno"}


@pytest.mark.parametrize("department", ["%", "_", "Legal", "legal,rrhh"])
def test_a_request_naming_a_department_that_is_not_a_name_is_refused_with_the_rule(department):
    # The gateway reads the department a request names for its audit entry; such a name
    # never reaches the audit log or a service.
    with pytest.raises(InvalidArgument, match="1-64 lowercase letters, digits, '-' or '_'"):
        request_department(ingestion_pb2.ListDocumentsRequest(department=department))
    with pytest.raises(InvalidArgument, match="1-64 lowercase letters"):
        request_department(ingestion_pb2.UploadDocumentRequest(
            metadata=ingestion_pb2.UploadMetadata(department=department)))
    assert request_department(ingestion_pb2.ListDocumentsRequest(department="legal")) == "legal"
    assert request_department(ingestion_pb2.ListDocumentsRequest()) == ""
