"""`sentra admin` creates and assigns departments by the one rule
(sentra_common.access.validate_department), before Keycloak is asked anything."""

from __future__ import annotations

import pytest
from sentra_cli.admin import AdminError, RealmAdmin

RULE = "1-64 lowercase letters, digits, '-' or '_'"


class NoKeycloak:
    def __getattr__(self, name):
        raise AssertionError(f"Keycloak was asked ({name}) about a department name that breaks the rule")


@pytest.fixture
def admin():
    realm = RealmAdmin.__new__(RealmAdmin)  # no login: nothing may reach Keycloak
    realm.kc = NoKeycloak()
    return realm


@pytest.mark.parametrize("name", ["%", "_", "Legal", "legal dept", "legal,rrhh", ""])
def test_creating_a_department_that_is_not_a_name_is_refused_with_the_rule(admin, name):
    with pytest.raises(AdminError, match=RULE):
        admin.create_department(name)


@pytest.mark.parametrize("name", ["%", "Legal"])
def test_adding_a_user_to_a_department_that_is_not_a_name_is_refused_with_the_rule(admin, name):
    with pytest.raises(AdminError, match=RULE):
        admin.add_department("user-id", name)
    with pytest.raises(AdminError, match=RULE):
        admin.create_user("eve", email="eve@example.com", password="x", departments=[name])
