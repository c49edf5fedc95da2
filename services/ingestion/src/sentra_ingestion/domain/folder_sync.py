"""Folder connector: keeps a directory in sync with a department's documents.

New files are uploaded, changed files (size or modification time differ) are
re-uploaded as a new version of the same document (an identical hash changes
nothing), and files that disappeared are deleted with their vectors. The directory is
a `SourceFolder` port: the adapter reads nothing outside it, symlinks included.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from sentra_common.errors import NotFound, SentraError
from sentra_common.principal import Principal

from sentra_ingestion.domain.ports import ConnectorFiles, SourceFolder
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
        self, service: DocumentService, registry: ConnectorFiles, *, name: str, folder: SourceFolder,
        department: str, access_list: list[str], principal: Principal,
    ) -> None:
        self.service = service
        self.registry = registry
        self.name = name
        self.folder = folder
        self.department = department
        self.principal = principal
        # A document with an access list names the connector too: it must read what it
        # wrote to replace it later (a re-upload is refused to whoever may not read it).
        reader = f"user:{principal.subject}"
        self.access_list = sorted({*access_list, reader}) if access_list else []

    async def sync_once(self) -> SyncReport:
        report = SyncReport()
        if not await asyncio.to_thread(self.folder.is_available):
            logger.warning("folder connector %s: its folder is not a directory", self.name)
            return report
        known = await self.registry.connector_files(self.name)
        current = await asyncio.to_thread(self.folder.scan)
        for rel_path, (mtime_ns, size) in current.items():
            if rel_path in known and known[rel_path][:2] == (mtime_ns, size):
                report.unchanged += 1
                continue
            try:
                result = await self.service.upload(
                    self.principal,
                    UploadRequest(
                        filename=PurePosixPath(rel_path).name, department=self.department,
                        access_list=self.access_list, source_uri=f"folder:{self.name}/{rel_path}",
                        size_bytes=size,
                    ),
                    _read(self.folder, rel_path),
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


async def _read(folder: SourceFolder, rel_path: str) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(folder.open, rel_path)
    try:
        while piece := await asyncio.to_thread(fh.read, READ_PIECE):
            yield piece
    finally:
        fh.close()
