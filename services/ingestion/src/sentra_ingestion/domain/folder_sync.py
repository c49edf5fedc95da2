"""Folder connector: keeps a directory in sync with a department's documents.

New files are uploaded, changed files (size or modification time differ) are
re-uploaded as a new version of the same document (an identical hash changes
nothing), and files that disappeared are deleted with their vectors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sentra_common.errors import NotFound, SentraError
from sentra_common.principal import Principal

from sentra_ingestion.domain.ports import ConnectorFiles
from sentra_ingestion.domain.service import DocumentService, UploadRequest

logger = logging.getLogger(__name__)

READ_PIECE = 1024 * 1024


@dataclass
class SyncReport:
    uploaded: int = 0
    unchanged: int = 0
    deleted: int = 0
    errors: int = 0


class FolderSync:
    def __init__(
        self, service: DocumentService, registry: ConnectorFiles, *, name: str, root: Path, department: str,
        access_list: list[str], principal: Principal,
    ) -> None:
        self.service = service
        self.registry = registry
        self.name = name
        self.root = root
        self.department = department
        self.access_list = access_list
        self.principal = principal

    def _scan(self) -> dict[str, tuple[int, int]]:
        """Regular files under the root (no hidden files, no symlinks leaving it)."""
        found: dict[str, tuple[int, int]] = {}
        root = self.root.resolve()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith(".") or filename.startswith("~$"):
                    continue
                path = Path(dirpath) / filename
                if path.is_symlink() or not path.is_file():
                    continue
                stat = path.stat()
                found[path.relative_to(root).as_posix()] = (stat.st_mtime_ns, stat.st_size)
        return found

    async def sync_once(self) -> SyncReport:
        report = SyncReport()
        if not self.root.is_dir():
            logger.warning("folder connector %s: %s is not a directory", self.name, self.root)
            return report
        known = await self.registry.connector_files(self.name)
        current = self._scan()
        for rel_path, (mtime_ns, size) in current.items():
            if rel_path in known and known[rel_path][:2] == (mtime_ns, size):
                report.unchanged += 1
                continue
            try:
                result = await self.service.upload(
                    self.principal,
                    UploadRequest(
                        filename=Path(rel_path).name, department=self.department,
                        access_list=self.access_list, source_uri=f"folder:{self.name}/{rel_path}",
                        size_bytes=size,
                    ),
                    _read(self.root / rel_path),
                )
            except (OSError, SentraError) as exc:
                logger.warning("folder connector %s: cannot upload %s: %s", self.name, rel_path, exc)
                report.errors += 1
                continue
            await self.registry.put_connector_file(self.name, rel_path, mtime_ns, size, result.document.id)
            report.uploaded += 1
        for rel_path, (_mtime, _size, document_id) in known.items():
            if rel_path in current:
                continue
            try:
                await self.service.delete(self.principal, document_id)
            except NotFound:
                pass  # already deleted by a user
            await self.registry.drop_connector_file(self.name, rel_path)
            report.deleted += 1
        if report.uploaded or report.deleted or report.errors:
            logger.info("folder connector %s synced", self.name, extra=report.__dict__)
        return report


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while piece := fh.read(READ_PIECE):
            yield piece
