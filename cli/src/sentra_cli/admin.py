"""`sentra admin`: departments, users, roles and service accounts in the Sentra realm,
through Keycloak's admin API (python-keycloak).

Departments are groups under `/departments`; roles are the realm roles platform-admin,
dept-admin, trainer and member (a role applies in every department the user belongs to).
A service account (client credentials) gets departments and roles through its
service-account user.
"""

from __future__ import annotations

from dataclasses import dataclass

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError
from sentra_common.access import validate_department
from sentra_common.errors import InvalidArgument

DEPARTMENTS_GROUP = "/departments"
ROLES = ("platform-admin", "dept-admin", "trainer", "member")


class AdminError(Exception):
    """An administration request failed; the message says why."""


@dataclass(frozen=True)
class UserView:
    username: str
    enabled: bool
    email: str
    departments: tuple[str, ...]
    roles: tuple[str, ...]
    id: str = ""  # the account id access lists name (user:<id>)


def _server_and_realm(issuer: str) -> tuple[str, str]:
    server, _, realm = issuer.rstrip("/").partition("/realms/")
    if not realm:
        raise AdminError(f"{issuer} is not a Keycloak realm URL (…/realms/<name>)")
    return server + "/", realm


class RealmAdmin:
    def __init__(self, issuer: str, username: str, password: str, user_realm: str = "master") -> None:
        server, realm = _server_and_realm(issuer)
        try:
            self.kc = KeycloakAdmin(
                server_url=server, username=username, password=password, realm_name=realm,
                user_realm_name=user_realm, timeout=30,
            )
            self.kc.get_realm(realm)
        except KeycloakError as exc:
            raise AdminError(f"Keycloak refused the administrator login: {_reason(exc)}") from None

    # Departments ------------------------------------------------------------------------

    def _departments_root(self) -> dict:
        try:
            return self.kc.get_group_by_path(DEPARTMENTS_GROUP)
        except KeycloakError:
            group_id = self.kc.create_group({"name": DEPARTMENTS_GROUP.strip("/")}, skip_exists=True)
            return self.kc.get_group(group_id)

    def list_departments(self) -> list[str]:
        root = self._departments_root()
        return sorted(g["name"] for g in self.kc.get_group_children(root["id"]))

    def create_department(self, name: str) -> None:
        _check_department(name)
        root = self._departments_root()
        self.kc.create_group({"name": name}, parent=root["id"], skip_exists=True)

    def _department_id(self, name: str) -> str:
        _check_department(name)
        try:
            return self.kc.get_group_by_path(f"{DEPARTMENTS_GROUP}/{name}")["id"]
        except KeycloakError:
            raise AdminError(f"no department {name!r}; create it with `sentra admin departments create {name}`") \
                from None

    # Users ------------------------------------------------------------------------------

    def create_user(
        self, username: str, *, email: str, password: str, first_name: str = "", last_name: str = "",
        departments: list[str] = (), roles: list[str] = ("member",), temporary_password: bool = False,
    ) -> str:
        for role in roles:
            _check_role(role)
        dept_ids = [self._department_id(d) for d in departments]
        try:
            user_id = self.kc.create_user({
                "username": username, "email": email, "emailVerified": True, "enabled": True,
                "firstName": first_name or username, "lastName": last_name or "-",
                "credentials": [{"type": "password", "value": password, "temporary": temporary_password}],
            }, exist_ok=False)
        except KeycloakError as exc:
            raise AdminError(f"cannot create user {username}: {_reason(exc)}") from None
        for dept_id in dept_ids:
            self.kc.group_user_add(user_id, dept_id)
        if roles:
            self.kc.assign_realm_roles(user_id, [self.kc.get_realm_role(r) for r in roles])
        return user_id

    def user_id(self, username: str) -> str:
        user_id = self.kc.get_user_id(username)
        if user_id is None:
            raise AdminError(f"no user {username!r}; see `sentra admin users list`")
        return user_id

    def client_user_id(self, client_id: str) -> str:
        internal = self.kc.get_client_id(client_id)
        if internal is None:
            raise AdminError(f"no client {client_id!r} in the realm")
        try:
            return self.kc.get_client_service_account_user(internal)["id"]
        except KeycloakError:
            raise AdminError(f"client {client_id!r} has no service account") from None

    def add_department(self, user_id: str, department: str) -> None:
        group_id = self._department_id(department)
        self.kc.group_user_add(user_id, group_id)

    def remove_department(self, user_id: str, department: str) -> None:
        group_id = self._department_id(department)
        self.kc.group_user_remove(user_id, group_id)

    def grant_role(self, user_id: str, role: str) -> None:
        _check_role(role)
        self.kc.assign_realm_roles(user_id, [self.kc.get_realm_role(role)])

    def revoke_role(self, user_id: str, role: str) -> None:
        _check_role(role)
        self.kc.delete_realm_roles_of_user(user_id, [self.kc.get_realm_role(role)])

    def set_enabled(self, user_id: str, enabled: bool) -> None:
        self.kc.update_user(user_id, {"enabled": enabled})
        if not enabled:
            self.kc.user_logout(user_id)

    def client_secret(self, client_id: str) -> str:
        internal = self.kc.get_client_id(client_id)
        if internal is None:
            raise AdminError(f"no client {client_id!r} in the realm")
        return self.kc.get_client_secrets(internal)["value"]

    def list_users(self) -> list[UserView]:
        views = []
        for user in self.kc.get_users({}):
            if user["username"].startswith("service-account-"):
                continue
            groups = self.kc.get_user_groups(user["id"])
            prefix = DEPARTMENTS_GROUP + "/"
            departments = tuple(sorted(g["path"][len(prefix):] for g in groups if g["path"].startswith(prefix)))
            roles = tuple(r["name"] for r in self.kc.get_realm_roles_of_user(user["id"]) if r["name"] in ROLES)
            views.append(UserView(user["username"], user.get("enabled", False), user.get("email", ""),
                                  departments, roles, user["id"]))
        return sorted(views, key=lambda v: v.username)


def _check_department(name: str) -> None:
    """The one department rule (sentra_common.access), before Keycloak is asked."""
    try:
        validate_department(name)
    except InvalidArgument as exc:
        raise AdminError(exc.message) from None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}; Sentra's roles are {', '.join(ROLES)}")


def _reason(exc: KeycloakError) -> str:
    body = getattr(exc, "response_body", b"") or b""
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    return f"{getattr(exc, 'response_code', '')} {text or exc}".strip()
