"""A search names departments by the one rule (sentra_common.access.validate_department):
a pattern or an ill-formed name is refused with the rule, also for a platform admin whose
request is not checked against memberships."""

from __future__ import annotations

import pytest
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal
from sentra_retrieval.domain.service import scope_for

ROOT = Principal("root", (), ("platform-admin",))
ANA = Principal("ana", ("legal",))


@pytest.mark.parametrize("principal", [ROOT, ANA])
@pytest.mark.parametrize("department", ["%", "_", "Legal", "legal,rrhh", ""])
def test_a_search_naming_a_department_that_is_not_a_name_is_refused_with_the_rule(principal, department):
    with pytest.raises(InvalidArgument, match="1-64 lowercase letters, digits, '-' or '_'"):
        scope_for(principal, [department], [])
