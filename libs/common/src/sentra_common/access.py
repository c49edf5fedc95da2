"""Who may see which data. One rule, used wherever data is served: documents now,
datasets and adapters (a model trained on a department's data is that data) later.

A resource belongs to one department and may carry an access list narrowing it to
some users (`user:<subject>`) or groups (`group:<name>`); an empty list means the
whole department.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sentra_common.errors import InvalidArgument, PermissionDenied
from sentra_common.principal import Principal

DEPARTMENT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # always fullmatch: "$" would let "legal\n" through
PUBLIC_IN_DEPARTMENT = "*"


def validate_department(department: str) -> str:
    if not isinstance(department, str) or not DEPARTMENT_RE.fullmatch(department):
        raise InvalidArgument(
            f"department {department!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_'"
        )
    return department


def validate_access_list(entries: Sequence[str]) -> list[str]:
    clean = []
    for entry in entries:
        entry = entry.strip()
        if not entry.startswith(("user:", "group:")) or len(entry) < 6:
            raise InvalidArgument(
                f"access list entry {entry!r} must look like user:<subject> or group:<name>"
            )
        clean.append(entry)
    return sorted(set(clean))


def can_read(principal: Principal, department: str, access_list: Sequence[str]) -> bool:
    if principal.is_platform_admin:
        return True
    if department not in principal.departments:
        return False
    return not access_list or bool(set(access_list) & set(principal.access_tokens()))


def require_department_member(principal: Principal, department: str) -> None:
    if not principal.may_access_department(department):
        raise PermissionDenied(
            f"you are not a member of department {department!r}; ask its admin for access"
        )


def readable_departments(principal: Principal) -> list[str] | None:
    """Departments whose data the principal may list; None means all of them."""
    if principal.is_platform_admin:
        return None
    return list(principal.departments)



def departments_to_list(principal: Principal, department: str = "") -> list[str] | None:
    """What a list call covers: the one department asked for (the caller must be a member),
    else every department the caller may read (None: all of them)."""
    if department:
        validate_department(department)
        require_department_member(principal, department)
        return [department]
    return readable_departments(principal)
