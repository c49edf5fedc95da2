"""The adapter registry: which LoRA adapters exist, which version each alias serves, and
who may use them.

- An adapter version (`legal@3`) belongs to one department: it was trained on that
  department's data, so only that department's members are served by it or see it
  (`sentra_common.access`, the same rule as for documents).
- An alias is named after its adapter (`legal` → `legal@3`). Activating moves the alias
  to a version after the backend has loaded it; if loading fails the alias stays where it
  was and the version is marked failed with the reason. Deactivating switches the alias
  off (requests naming it are refused, the department's answers use the base model).
  Rolling back returns the alias to the version it served before; that version is kept
  loaded, so the switch is instant.
- The alias named like a department (`legal` in department `legal`) is that department's
  default adapter for answers.
- An adapter's files are confined to its department: the artifact must be a directory
  under `<adapter root>/<department>/` (the `ArtifactStore` resolves links and `..`), and
  the digest of its files recorded at registration must match whenever it is loaded; an
  artifact that changed is marked failed and not served (checked again at every sync).

The desired state (every active alias's version and the version a rollback would return
to) lives in the database; `sync()` re-reads it and makes the backend match, which is
how every replica of the service converges after a change made on another one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable

from sentra_common.access import can_read, readable_departments, require_department_member, validate_department
from sentra_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from sentra_common.principal import Principal

from sentra_inference.domain.ports import (
    ACTIVE,
    FAILED,
    INACTIVE,
    AdapterLoadError,
    AdapterRecord,
    AliasRecord,
    ArtifactStore,
    GenerationBackend,
    RegistryStore,
)

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_METRICS = 64


def split_key(spec: str) -> tuple[str, int]:
    name, _, version = spec.partition("@")
    if not version.isdigit() or int(version) < 1:
        raise InvalidArgument(f"adapter {spec!r}: write name@version with a version from 1 (e.g. legal@3)")
    return name, int(version)


class AdapterRegistry:
    def __init__(self, store: RegistryStore, backend: GenerationBackend, artifacts: ArtifactStore) -> None:
        self.store = store
        self.backend = backend
        self.artifacts = artifacts
        self._adapters: dict[tuple[str, int], AdapterRecord] = {}
        self._aliases: dict[str, AliasRecord] = {}
        # Changes to the registry and to what the backend has loaded, one at a time.
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task] = set()
        # What the backend was last made to load (None: nothing applied yet).
        self._applied: dict[str, str] | None = None

    @property
    def base_model(self) -> str:
        return self.backend.base_model

    # -- state -----------------------------------------------------------------------

    async def refresh(self) -> None:
        records, aliases = await self.store.snapshot()
        self._adapters = {(r.name, r.version): r for r in records}
        self._aliases = {a.alias: a for a in aliases}

    def wanted(self) -> dict[str, AdapterRecord]:
        """Adapter key → record for everything that should be loaded now."""
        wanted: dict[str, AdapterRecord] = {}
        for alias in self._aliases.values():
            if not alias.active:
                continue
            for version in {alias.version, alias.previous_version} - {0}:
                record = self._adapters.get((alias.alias, version))
                if record is not None and record.state != FAILED:
                    wanted[record.key] = record
        return wanted

    async def desired(self) -> dict[str, str]:
        """Adapter key → path for everything that should be loaded now and whose files are
        still the ones registered; an adapter whose files are not is marked failed."""
        desired: dict[str, str] = {}
        for key, record in self.wanted().items():
            try:
                desired[key] = await self._artifact_path(record)
            except AdapterLoadError as exc:
                await self.store.set_state(record.name, record.version, FAILED, exc.message)
                record.state, record.error = FAILED, exc.message
                logger.error("adapter %s is no longer served: %s", key, exc.message)
        return desired

    async def _artifact_path(self, record: AdapterRecord) -> str:
        return await self.artifacts.verify(record.department, record.artifact_uri, record.artifact_digest)

    async def sync(self) -> None:
        """Re-read the registry and, when what should be loaded changed (on another replica,
        or an artifact's files changed), make the backend match it (the reconciler's pass).
        A backend whose servers can lose adapters on their own (vLLM) re-applies the last
        desired state by itself."""
        async with self._lock:
            await self.refresh()
            desired = await self.desired()
            if desired != self._applied:
                await self._reconcile(desired)

    async def _reconcile(self, desired: dict[str, str] | None = None) -> None:
        if desired is None:
            desired = await self.desired()
        try:
            await self.backend.reconcile(desired)
            self._applied = desired
        except AdapterLoadError as exc:
            # An adapter that loaded before no longer does: keep serving the rest and say which one.
            logger.error("an adapter in the registry could not be loaded: %s", exc.message)

    # -- reading ---------------------------------------------------------------------

    def census(self) -> tuple[dict[tuple[str, str], int], int]:
        """Adapter versions per (department, state), and how many versions the backend was
        last made to serve (for the metrics)."""
        counts: dict[tuple[str, str], int] = {}
        for record in list(self._adapters.values()):
            key = (record.department, record.state)
            counts[key] = counts.get(key, 0) + 1
        return counts, len(self._applied or {})

    def visible(self, principal: Principal, department: str = "") -> tuple[list[AdapterRecord], list[AliasRecord]]:
        if department:
            validate_department(department)
            require_department_member(principal, department)
        departments = readable_departments(principal)

        def shown(owner: str) -> bool:
            return (not department or owner == department) and (departments is None or owner in departments)

        return (
            [r for r in self._adapters.values() if shown(r.department)],
            [a for a in self._aliases.values() if shown(a.department)],
        )

    def resolve(self, principal: Principal, spec: str, departments: Iterable[str] = ()) -> str:
        """The adapter key a request is served with ("" = the base model).

        `spec` empty: the default adapter of the one department in scope (`departments`,
        else the caller's), if it has an active one. Otherwise an alias, a `name@version`
        or the base model's id. Another department's adapter is answered like an unknown
        one, so its existence is not revealed."""
        spec = spec.strip()
        if spec == self.base_model:
            return ""
        if not spec:
            scope = list(departments) or list(principal.departments)
            if len(scope) != 1:
                return ""
            alias = self._aliases.get(scope[0])
            if alias is None or not alias.active or alias.department != scope[0] or alias.key not in self.wanted():
                return ""
            return alias.key if can_read(principal, alias.department, ()) else ""
        if "@" in spec:
            name, version = split_key(spec)
            record = self._adapters.get((name, version))
            if record is None or not can_read(principal, record.department, ()):
                raise self._unknown(spec)
            if record.key not in self.wanted():
                raise FailedPrecondition(
                    f"adapter {spec} is not being served; an admin can activate it with "
                    f"`sentra adapters activate {name} --version {version}`"
                )
            return record.key
        alias = self._aliases.get(spec)
        if alias is None or not can_read(principal, alias.department, ()):
            raise self._unknown(spec)
        if not alias.active:
            raise FailedPrecondition(
                f"adapter {spec} is switched off; an admin can turn it on with `sentra adapters activate {spec}`"
            )
        if alias.key not in self.wanted():
            raise FailedPrecondition(
                f"adapter {spec} ({alias.key}) cannot be served: {self._error(alias.alias, alias.version)}; an admin "
                f"can roll it back (`sentra adapters rollback {spec}`) or activate another version"
            )
        return alias.key

    def _error(self, name: str, version: int) -> str:
        record = self._adapters.get((name, version))
        return record.error if record is not None and record.error else "it is not registered"

    def _unknown(self, spec: str) -> NotFound:
        return NotFound(f"no adapter {spec!r} that you may use; `sentra adapters list` shows yours")

    # -- changes ---------------------------------------------------------------------

    async def register(
        self, principal: Principal, *, name: str, version: int, department: str, artifact_uri: str,
        base_model: str = "", metrics: dict[str, float] | None = None,
    ) -> AdapterRecord:
        if not NAME_RE.match(name):
            raise InvalidArgument(f"adapter name {name!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_'")
        validate_department(department)
        require_department_member(principal, department)
        metrics = dict(metrics or {})
        if len(metrics) > MAX_METRICS:
            raise InvalidArgument(f"at most {MAX_METRICS} metrics per adapter")
        if version < 0:
            raise InvalidArgument("version must be 1 or more (0 picks the next one)")
        artifact = await self.artifacts.locate(department, artifact_uri)
        async with self._lock:
            await self.refresh()
            owners = {r.department for (n, _), r in self._adapters.items() if n == name}
            if owners and department not in owners:
                raise FailedPrecondition(
                    f"adapter name {name!r} belongs to another department; choose another name"
                )
            version = version or await self.store.next_version(name)
            if (name, version) in self._adapters:
                raise AlreadyExists(f"adapter {name}@{version} is already registered; register a new version")
            record = AdapterRecord(
                name=name, version=version, department=department, base_model=base_model or self.base_model,
                artifact_uri=artifact.path, artifact_digest=artifact.digest, metrics=metrics,
                created_by=principal.subject,
            )
            await self.store.add_adapter(record)
            self._adapters[(name, version)] = record
        logger.info("adapter registered", extra={"adapter": record.key, "by": principal.subject})
        return record

    async def register_published(self, *, department: str, name: str, artifact_path: str, created_by: str,
                                 metrics: dict[str, float], promote: bool) -> AdapterRecord:
        """An adapter the training service trained and stored under `department`'s adapter
        directory (`sentra.adapters.v1.published`): registered as the next version on behalf
        of the job's creator, and activated when the promotion gate said so. The same event
        again (a redelivery) registers nothing twice: the version with that artifact is
        returned (and activated, if that had not happened yet)."""
        principal = Principal(subject=created_by or "training", departments=(department,), roles=("trainer",))
        artifact = await self.artifacts.locate(department, artifact_path)
        async with self._lock:
            await self.refresh()
            existing = [r for r in self._adapters.values()
                        if r.name == name and r.department == department and r.artifact_uri == artifact.path]
        record = existing[0] if existing else await self.register(
            principal, name=name, version=0, department=department, artifact_uri=artifact_path, metrics=metrics)
        if promote:
            alias = self._aliases.get(name)
            if not (alias and alias.active and alias.version == record.version):
                await self.activate(principal, name, record.version)
        return record

    async def activate(self, principal: Principal, name: str, version: int = 0) -> AliasRecord:
        async with self._lock:
            await self.refresh()
            versions = sorted(v for (n, v) in self._adapters if n == name)
            if not versions:
                raise self._unknown(name)
            version = version or versions[-1]
            record = self._adapters.get((name, version))
            if record is None or not can_read(principal, record.department, ()):
                raise self._unknown(f"{name}@{version}")
            require_department_member(principal, record.department)
            if record.base_model != self.base_model:
                await self._fail(record, f"it was trained for base model {record.base_model!r}, but this "
                                         f"service serves {self.base_model!r}")
            try:
                path = await self._artifact_path(record)
            except AdapterLoadError as exc:
                await self._fail(record, exc.message)
            try:
                await self.backend.load_adapter(record.key, path)
            except AdapterLoadError as exc:
                await self._fail(record, self.artifacts.hide_paths(exc.message))
            alias = self._aliases.get(name)
            history = [*(alias.history if alias else []), version]
            if alias and alias.active and alias.version == version:
                history = alias.history  # activating what already serves changes nothing
            moved = AliasRecord(
                alias=name, department=record.department, version=version, active=True,
                history=history[-20:], updated_by=principal.subject,
            )
            states = {v: INACTIVE for (n, v), r in self._adapters.items() if n == name and r.state == ACTIVE}
            states[version] = ACTIVE
            await self.store.save_alias(moved, states)
            await self.refresh()
            await self._reconcile()
        logger.info("adapter activated", extra={"adapter": moved.key, "by": principal.subject})
        return moved

    async def _fail(self, record: AdapterRecord, reason: str) -> None:
        await self.store.set_state(record.name, record.version, FAILED, reason)
        record.state, record.error = FAILED, reason
        if self._applied is not None and record.key in self._applied:
            await self._reconcile()  # it was serving (its files changed since): not any more
        raise AdapterLoadError(f"adapter {record.key} cannot be served: {reason}; what was serving still serves")

    async def deactivate(self, principal: Principal, name: str) -> AliasRecord:
        async with self._lock:
            await self.refresh()
            alias = self._owned_alias(principal, name)
            off = AliasRecord(
                alias=name, department=alias.department, version=alias.version, active=False,
                history=alias.history, updated_by=principal.subject,
            )
            await self.store.save_alias(off, {alias.version: INACTIVE})
            await self.refresh()
            await self._reconcile()
        logger.info("adapter deactivated", extra={"adapter": name, "by": principal.subject})
        return off

    async def rollback(self, principal: Principal, name: str) -> AliasRecord:
        async with self._lock:
            await self.refresh()
            alias = self._owned_alias(principal, name)
            if alias.previous_version == 0:
                raise FailedPrecondition(f"adapter {name} has no earlier version to roll back to")
            back = AliasRecord(
                alias=name, department=alias.department, version=alias.previous_version, active=True,
                history=alias.history[:-1], updated_by=principal.subject,
            )
            # The earlier version is loaded already (kept for this moment): the switch is
            # instant; the version before it is loaded afterwards for the next rollback.
            await self.store.save_alias(back, {alias.version: INACTIVE, back.version: ACTIVE})
            await self.refresh()
        task = asyncio.create_task(self.sync(), name=f"reconcile-after-rollback-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        logger.info("adapter rolled back", extra={"adapter": back.key, "from": alias.version, "by": principal.subject})
        return back

    async def describe(self, principal: Principal, name: str, version: int = 0) -> tuple[AdapterRecord, str,
                                                                                       AliasRecord | None]:
        """One version of an adapter of the caller's departments, its model card and its alias
        (version 0: the one the alias points at, else the newest)."""
        alias = self._aliases.get(name)
        versions = {r.version: r for (n, _), r in self._adapters.items() if n == name}
        if version == 0 and versions:
            version = alias.version if alias is not None else max(versions)
        record = versions.get(version)
        if record is None or not can_read(principal, record.department, ()):
            raise self._unknown(f"{name}@{version}" if version else name)
        card = await self.artifacts.model_card(record.department, record.artifact_uri)
        return record, card, alias if alias is not None and alias.department == record.department else None

    def _owned_alias(self, principal: Principal, name: str) -> AliasRecord:
        alias = self._aliases.get(name)
        if alias is None or not can_read(principal, alias.department, ()):
            raise self._unknown(name)
        require_department_member(principal, alias.department)
        return alias

