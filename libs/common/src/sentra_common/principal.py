"""The caller's identity inside Sentra.

The gateway verifies the caller's token and maps it to a `Principal`; internal services
receive it as a signed assertion (`sentra_common.identity`) and find it, verified, in
`current_principal()` while they serve the call.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from sentra.common.v1 import common_pb2

from sentra_common.errors import InvalidArgument, Unauthenticated

PLATFORM_ADMIN = "platform-admin"
SERVICE_ROLE = "service"


@dataclass(frozen=True)
class Principal:
    subject: str
    departments: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    display_name: str = ""
    groups: tuple[str, ...] = field(default=())
    # The identity provider's immutable account id (Keycloak `sub`), when there is one.
    # `subject` is the username: readable, but a deleted account's username can be given
    # to a new account, so access lists name users by this id.
    user_id: str = ""

    def __post_init__(self) -> None:
        # A department is a name by the one rule wherever a principal comes from (a token's
        # groups, a development identity, a signed assertion): never `%`, never a comma.
        from sentra_common.access import validate_department

        for department in self.departments:
            validate_department(department)

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.roles

    @property
    def is_service(self) -> bool:
        return SERVICE_ROLE in self.roles

    def may_access_department(self, department: str) -> bool:
        # A service principal is no wildcard: it reaches only what its own calls need
        # (see sentra_common.identity.SERVICE_CALLS), never a department's data.
        return self.is_platform_admin or department in self.departments

    def access_tokens(self) -> tuple[str, ...]:
        """Names matched against a document's access list: `user:<account id>` (or
        `user:<subject>` for a principal without one: development identity, a connector),
        `group:<department>` and `group:<group path>` (other groups keep their leading
        slash, so they never read as a department)."""
        user = f"user:{self.user_id or self.subject}"
        return (user, *(f"group:{g}" for g in (*self.departments, *self.groups)))

    def to_proto(self) -> common_pb2.Principal:
        return common_pb2.Principal(
            subject=self.subject,
            departments=list(self.departments),
            roles=list(self.roles),
            display_name=self.display_name,
            user_id=self.user_id,
        )

    @classmethod
    def parse(cls, spec: str) -> Principal:
        """Parse `subject[:dept1,dept2[:role1,role2]]`, e.g. `ana:legal,rrhh:platform-admin`."""
        parts = spec.strip().split(":")
        if not parts[0] or len(parts) > 3:
            raise InvalidArgument(
                f"identity {spec!r} is not of the form subject[:dept1,dept2[:role1,role2]]"
            )
        depts = tuple(d for d in parts[1].split(",") if d) if len(parts) > 1 else ()
        roles = tuple(r for r in parts[2].split(",") if r) if len(parts) > 2 else ("member",)
        return cls(subject=parts[0], departments=depts, roles=roles)


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "sentra_principal", default=None
)


def current_principal() -> Principal:
    """The principal of the call being served; raises Unauthenticated when there is none."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("this call carries no principal; call Sentra through the gateway")
    return principal


def optional_principal() -> Principal | None:
    return _current.get()


def set_principal(principal: Principal | None) -> contextvars.Token:
    return _current.set(principal)


def reset_principal(token: contextvars.Token) -> None:
    _current.reset(token)
