"""Department names entering ingestion follow the one rule
(sentra_common.access.validate_department): a listing filtered by a department that is
not a name is refused with the rule before anything is read, and a folder connector
configured with one does not start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal
from sentra_ingestion.config import FolderConnectorSettings
from sentra_ingestion.domain.service import DocumentService

RULE = "1-64 lowercase letters, digits, '-' or '_'"
ROOT = Principal("root", (), ("platform-admin",))


@pytest.mark.parametrize("department", ["%", "_", "Legal", "legal,rrhh"])
async def test_listing_by_a_department_that_is_not_a_name_is_refused_with_the_rule(department):
    service = DocumentService(None, None, None, None, None)  # refused before any of them is used
    with pytest.raises(InvalidArgument, match=RULE):
        await service.list(ROOT, department, None, 10, "")


@pytest.mark.parametrize("department", ["%", "Legal", ""])
def test_a_folder_connector_for_a_department_that_is_not_a_name_does_not_start(tmp_path, department):
    with pytest.raises(ValidationError, match=RULE):
        FolderConnectorSettings(path=tmp_path, department=department)
