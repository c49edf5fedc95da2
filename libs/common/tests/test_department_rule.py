"""One rule for department names (sentra_common.access.validate_department), wherever a
name enters: a principal cannot carry a department that is not a name (`%`, `_`, a
comma that would split it in two in the audit log, upper case, spaces, nothing)."""

from __future__ import annotations

import pytest
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal

RULE = "1-64 lowercase letters, digits, '-' or '_'"
NOT_NAMES = ["%", "_", "legal%", "leg_l%", "legal,rrhh", "Legal", "legal dept", "", "-legal", "a" * 65, "legal\n"]


@pytest.mark.parametrize("department", NOT_NAMES)
def test_a_principal_cannot_carry_a_department_that_is_not_a_name(department):
    with pytest.raises(InvalidArgument, match=RULE):
        Principal("eve", (department,), ("dept-admin",))


@pytest.mark.parametrize("spec", ["eve:%:dept-admin", "eve:legal,_:member", "eve:Legal"])
def test_a_development_identity_with_such_a_department_is_refused(spec):
    with pytest.raises(InvalidArgument, match=RULE):
        Principal.parse(spec)


def test_valid_names_pass():
    assert Principal("ana", ("legal", "r_hh", "equipo-x", "a1")).departments == ("legal", "r_hh", "equipo-x", "a1")
