"""The hand-off to serving: a finished job's adapter files (not its optimizer state) and
its model card are stored under the department's adapter directory
(`<adapter root>/<department>/<adapter>/<job id>/`, the directory the inference service
serves from and confines each department to), then `sentra.adapters.v1.published` is
announced; the inference service registers the version and, when promoted, moves the
alias. Storing is all-or-nothing (a temporary directory renamed into place) and
publishing is idempotent per job (the event's id), so a retry after a failure changes
nothing that was done. With a key the adapter's files are sealed (opened from the job's
checkpoint and sealed again with the current key); the model card, which holds no
training data, stays readable."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.sealed import SealedFiles

from sentra_training.domain.model import JobRecord
from sentra_training.domain.ports import Decision

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
CARD_FILE = "model_card.json"


class AdapterHandOff:
    def __init__(self, adapter_root: Path, bus: events.Publisher, files: SealedFiles | None = None) -> None:
        self.adapter_root = adapter_root
        self.bus = bus
        self.files = files or SealedFiles(None)

    def stored(self, department: str, artifact_path: str) -> Path:
        return self.adapter_root / department / artifact_path

    async def publish(self, job: JobRecord, adapter_dir: Path, card: dict, decision: Decision) -> str:
        relative = f"{job.adapter_name}/{job.id}"
        await asyncio.to_thread(self._store, self.stored(job.department, relative), adapter_dir, card)
        metrics = {k: float(v) for k, v in (card.get("evaluation", {}).get("candidate") or {}).items()}
        event = events_pb2.AdapterPublished(
            department=job.department, adapter_name=job.adapter_name, artifact_path=relative, job_id=job.id,
            created_by=job.created_by, promote=decision.promote, decision=decision.reason, metrics=metrics,
        )
        await self.bus.publish(events.ADAPTER_PUBLISHED, event, msg_id=f"adapter-published:{job.id}")
        return relative

    def _store(self, target: Path, adapter_dir: Path, card: dict) -> None:
        if (target / CARD_FILE).exists():
            return  # stored by an earlier pass
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in ADAPTER_FILES:
            self.files.write_bytes(partial / name, self.files.read_bytes(adapter_dir / name))
        (partial / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False))
        os.replace(partial, target)
