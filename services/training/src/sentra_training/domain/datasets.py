"""Datasets: question–answer items generated from a department's indexed documents (or
imported from a JSONL file), reviewed by people, and used to train the department's
adapters.

- A dataset is a *version*: 1, 2, 3… per department. Which items it holds and where each
  came from (document, document version, chunk, generator) never change once it is READY;
  review decisions and edits are recorded on the items (an edit keeps the original text).
- Generation runs in the background (`ItemWriter`, one dataset at a time on the machine):
  the chunks are fetched while the CreateDataset call is served, as the caller (so the
  caller's departments and access lists decide what is read), and kept beside the dataset
  so a generation the service did not finish starts again when it is back.
- Deleting a document withdraws its items from every version, and from any version made
  later from a snapshot taken before the deletion: they never train again.
- Every dataset belongs to its department and follows the rule of documents
  (`sentra_common.access`): another department's dataset is "not found".
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sentra_common.access import (
    departments_to_list,
    require_department_member,
    validate_department,
)
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal
from sentra_common.sealed import SealedFiles

from sentra_training.domain.service import TRAINING_ROLES, EvaluationSet, StartRequest, is_uuid, utcnow

logger = logging.getLogger(__name__)

PII_MODES = ("mask", "pseudonymise", "keep")
EXPORT_FORMATS = ("messages", "instruction")
SPLITS = ("train", "validation", "test")


class DatasetState(enum.StrEnum):
    GENERATING = "GENERATING"
    READY = "READY"
    FAILED = "FAILED"


class ItemStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


@dataclass
class DatasetRecord:
    id: str
    department: str
    version: int
    state: DatasetState
    source: str  # "documents" or "import"
    created_by: str
    created_at: datetime
    pii_mode: str = "mask"
    generator_id: str = ""
    failure_reason: str = ""
    chunks_done: int = 0
    chunks_total: int = 0
    # What was asked: documents, since, questions per chunk, max items, seed.
    request: dict = field(default_factory=dict)
    document_ids: list[str] = field(default_factory=list)
    withdrawn_document_ids: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    pii_found: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    finished_at: datetime | None = None
    # Computed when read: items by status and by split (withdrawn items in no split).
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ItemRecord:
    id: str
    dataset_id: str
    position: int
    split: str
    question: str
    answer: str
    context: str = ""
    document_id: str = ""
    document_version: int = 0
    chunk_id: str = ""
    document_title: str = ""
    language: str = ""
    context_language: str = ""
    score: float = 0.0
    status: ItemStatus = ItemStatus.PENDING
    pii: dict[str, int] = field(default_factory=dict)
    generator_id: str = ""
    edited: bool = False
    original_question: str = ""
    original_answer: str = ""
    reviewed_by: str = ""


@dataclass(frozen=True)
class ItemFilter:
    status: ItemStatus | None = None
    document_id: str = ""
    text: str = ""
    split: str = ""


@dataclass(frozen=True)
class CreateRequest:
    department: str
    document_ids: tuple[str, ...] = ()
    since: datetime | None = None
    pii_mode: str = ""
    questions_per_chunk: int = 0
    max_examples: int = 0
    seed: int = 0


@dataclass(frozen=True)
class Chunk:
    """A chunk a dataset is generated from, as retrieval returned it to the caller."""

    chunk_id: str
    document_id: str
    document_version: int
    title: str
    text: str
    chunk_index: int


@dataclass(frozen=True)
class Generated:
    """What the item writer made of a dataset's chunks."""

    items: list[ItemRecord]
    generator_id: str
    dropped: dict[str, int]
    pii_found: dict[str, int]
    timings: dict[str, float]


class DocumentIndex(Protocol):
    """Which documents of a department are indexed, and since when (the ledger the service
    keeps from the pipeline's events)."""

    async def indexed_since(self, department: str, since: datetime | None) -> list[str]: ...


class ChunkSource(Protocol):
    """Documents' chunks that the whole department may read, from retrieval: as the caller
    (its onward assertion), or as the training service itself (schedules)."""

    async def chunks(self, department: str, document_ids: Sequence[str]) -> list[Chunk]: ...


class ItemWriter(Protocol):
    """Generation and PII masking (`adapters.generation`); synchronous, CPU-bound."""

    def generate(self, chunks: Sequence[Chunk], *, pii_mode: str, secret: bytes, questions_per_chunk: int,
                 max_items: int, seed: int, progress: Callable[[int, int], None]) -> Generated: ...

    def mask(self, texts: Sequence[str], *, pii_mode: str, secret: bytes) -> tuple[list[str], dict[str, int]]: ...


class DatasetStore(Protocol):
    async def insert(self, record: DatasetRecord) -> DatasetRecord:
        """Stored with the next version number of its department (set on the record)."""
        ...

    async def get(self, dataset_id: str) -> DatasetRecord | None: ...

    async def list(self, departments: list[str] | None,
                   states: tuple[DatasetState, ...] = ()) -> list[DatasetRecord]: ...

    async def update(self, dataset_id: str, **fields) -> None: ...

    async def add_items(self, dataset_id: str, items: Sequence[ItemRecord]) -> None: ...

    async def items(self, dataset_id: str, where: ItemFilter, offset: int,
                    limit: int) -> tuple[list[ItemRecord], int]: ...

    async def item(self, dataset_id: str, item_id: str) -> ItemRecord | None: ...

    async def counts(self, dataset_id: str) -> dict[str, int]:
        """Items by status (PENDING…) and, withdrawn ones left out, by split (train…)."""
        ...

    async def update_item(self, dataset_id: str, item_id: str, **fields) -> None: ...

    async def set_status(self, dataset_id: str, status: ItemStatus, reviewed_by: str, *,
                         item_ids: Sequence[str] = (), min_score: float | None = None) -> int:
        """Review decision on the given items, or on every PENDING item with a score of at
        least `min_score`; withdrawn items never change. Returns how many changed."""
        ...

    async def withdraw(self, document_id: str, department: str) -> list[str]:
        """Record the document as deleted and withdraw its items everywhere; the datasets
        that held any."""
        ...

    async def withdrawn_documents(self, document_ids: Sequence[str]) -> set[str]: ...



def _require_trainer(principal: Principal, department: str) -> None:
    require_department_member(principal, department)
    if not (TRAINING_ROLES & set(principal.roles)):
        raise PermissionDenied("datasets need the trainer or department-admin role; ask your department's admin")



def _pii_mode(value: str, default: str) -> str:
    mode = (value or default).strip().lower()
    if mode not in PII_MODES:
        raise InvalidArgument(f"pii_mode {value!r} is not one of {', '.join(PII_MODES)}")
    return mode


def export_line(item: ItemRecord, form: str) -> str:
    """One JSONL line: the question as the user's turn, the answer as the assistant's."""
    if form == "instruction":
        record = {"instruction": item.question, "output": item.answer}
    else:
        record = {"messages": [{"role": "user", "content": item.question},
                               {"role": "assistant", "content": item.answer}]}
    return json.dumps(record, ensure_ascii=False)


@dataclass(frozen=True)
class DatasetLimits:
    max_examples: int = 2000
    questions_per_chunk: int = 2
    max_questions_per_chunk: int = 10
    max_documents: int = 1000
    max_import_bytes: int = 64 * 1024 * 1024
    max_import_examples: int = 200_000
    default_pii_mode: str = "mask"


class Datasets:
    def __init__(self, store: DatasetStore, documents: DocumentIndex, source: ChunkSource, writer: ItemWriter,
                 files_dir: Path, *,
                 limits: DatasetLimits = DatasetLimits(), pii_secret: bytes = b"",
                 own_source: ChunkSource | None = None,
                 parse_line: Callable[[str, int], tuple[str, str]] | None = None,
                 files: SealedFiles | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.documents = documents
        self.source = source
        self.own_source = own_source  # read as the training service itself (schedules)
        self.writer = writer
        self.files_dir = files_dir
        self.files = files or SealedFiles(None)  # the chunks a version is generated from: sealed with a key
        self.limits = limits
        self.pii_secret = pii_secret
        self.parse_line = parse_line
        self.clock = clock
        self._live: dict[str, tuple[int, int]] = {}
        self._generation = asyncio.Lock()  # one generation at a time: it takes every core
        self._tasks: set[asyncio.Task] = set()

    # ---- the doors

    async def create(self, principal: Principal, request: CreateRequest) -> DatasetRecord:
        department = validate_department(request.department)
        _require_trainer(principal, department)
        pii_mode = _pii_mode(request.pii_mode, self.limits.default_pii_mode)
        self._check_pseudonymise(pii_mode)
        per_chunk = request.questions_per_chunk or self.limits.questions_per_chunk
        if not 1 <= per_chunk <= self.limits.max_questions_per_chunk:
            raise InvalidArgument(f"questions_per_chunk must be between 1 and {self.limits.max_questions_per_chunk}")
        max_items = request.max_examples or self.limits.max_examples
        if not 1 <= max_items <= self.limits.max_examples:
            raise InvalidArgument(f"max_examples must be between 1 and {self.limits.max_examples} "
                                  "(SENTRA_TRAINING_DATASETS__MAX_EXAMPLES)")
        if len(request.document_ids) > self.limits.max_documents:
            raise InvalidArgument(f"at most {self.limits.max_documents} documents per dataset")
        indexed = await self.documents.indexed_since(department, request.since)
        if request.document_ids:
            unknown = sorted(set(request.document_ids) - set(indexed))
            if unknown:
                raise FailedPrecondition(
                    f"not INDEXED documents of {department} (or not found): {', '.join(unknown[:5])}; "
                    "a dataset is made from indexed documents only")
            documents = list(dict.fromkeys(request.document_ids))
        else:
            documents = indexed[: self.limits.max_documents]
        if not documents:
            raise FailedPrecondition(f"{department} has no INDEXED documents"
                                     f"{' since ' + request.since.isoformat() if request.since else ''}; "
                                     "upload documents first")
        chunks = await self.source.chunks(department, documents)
        if not chunks:
            raise FailedPrecondition("no chunk of these documents is readable by the whole department (an adapter "
                                     "serves all of it); nothing to generate from")
        return await self._start(department, principal.subject, chunks, pii_mode, {
            "document_ids": list(request.document_ids), "since": request.since.isoformat() if request.since else "",
            "questions_per_chunk": per_chunk, "max_examples": max_items, "seed": request.seed})

    async def create_scheduled(self, department: str, document_ids: Sequence[str],
                               principal: Principal) -> DatasetRecord:
        """A schedule's dataset: every indexed document of the department, read by the
        training service itself (`own_source`: what the whole department may read)."""
        if self.own_source is None:
            raise FailedPrecondition("scheduled datasets need the training service's own signing key")
        if not document_ids:
            raise FailedPrecondition(f"{department} has no indexed documents yet")
        chunks = await self.own_source.chunks(department, list(document_ids)[: self.limits.max_documents])
        if not chunks:
            raise FailedPrecondition(f"no chunk of {department}'s documents is readable by the whole department")
        return await self._start(department, principal.subject, chunks, self.limits.default_pii_mode, {
            "document_ids": [], "since": "", "questions_per_chunk": self.limits.questions_per_chunk,
            "max_examples": self.limits.max_examples, "seed": 0})

    async def _start(self, department: str, created_by: str, chunks: Sequence[Chunk], pii_mode: str,
                     request: dict) -> DatasetRecord:
        record = DatasetRecord(
            id=str(uuid.uuid4()), department=department, version=0, state=DatasetState.GENERATING,
            source="documents", created_by=created_by, created_at=self.clock(), pii_mode=pii_mode,
            chunks_total=len(chunks), document_ids=sorted({c.document_id for c in chunks}), request=request,
        )
        directory = self._dir(record)
        directory.mkdir(parents=True, exist_ok=True)
        self.files.write_text(directory / "chunks.jsonl",
                              "".join(json.dumps(c.__dict__, ensure_ascii=False) + "\n" for c in chunks))
        record = await self.store.insert(record)
        logger.info("dataset %s (%s v%d) generating from %d chunks of %d documents", record.id, department,
                    record.version, len(chunks), len(record.document_ids))
        self._spawn(record)
        return await self._counted(record)

    async def get(self, principal: Principal, dataset_id: str) -> DatasetRecord:
        return await self._counted(await self._readable(principal, dataset_id))

    async def list(self, principal: Principal, department: str = "") -> list[DatasetRecord]:
        departments = departments_to_list(principal, department)
        records = await self.store.list(departments)
        return [await self._counted(r) for r in sorted(records, key=lambda r: r.created_at, reverse=True)]

    async def items(self, principal: Principal, dataset_id: str, where: ItemFilter, page_size: int,
                    page_token: str) -> tuple[list[ItemRecord], str, int]:
        await self._readable(principal, dataset_id)
        page_size = page_size or 100
        if not 1 <= page_size <= 500:
            raise InvalidArgument("page_size must be between 1 and 500")
        if where.split and where.split not in SPLITS:
            raise InvalidArgument(f"split must be one of {', '.join(SPLITS)}")
        try:
            offset = int(page_token or 0)
        except ValueError:
            raise InvalidArgument("page_token is not one this service gave; start again without it") from None
        items, total = await self.store.items(dataset_id, where, max(offset, 0), page_size)
        following = offset + len(items)
        return items, (str(following) if following < total else ""), total

    async def review(self, principal: Principal, dataset_id: str, decision: ItemStatus, item_ids: Sequence[str],
                     min_score: float) -> tuple[int, DatasetRecord]:
        record = await self._readable(principal, dataset_id)
        _require_trainer(principal, record.department)
        if decision not in (ItemStatus.APPROVED, ItemStatus.REJECTED):
            raise InvalidArgument("the decision must be approved or rejected")
        if record.state != DatasetState.READY:
            raise FailedPrecondition(f"dataset {dataset_id} is {record.state.value}; review it once it is READY")
        if bool(item_ids) == bool(min_score):
            raise InvalidArgument("give item ids, or a minimum score (approve every pending item at or above it)")
        if min_score and not 0 < min_score <= 1:
            raise InvalidArgument("min_score must be in (0, 1]")
        changed = await self.store.set_status(dataset_id, decision, principal.subject, item_ids=list(item_ids),
                                              min_score=min_score or None)
        return changed, await self._counted(await self.store.get(dataset_id))

    async def edit(self, principal: Principal, dataset_id: str, item_id: str, question: str,
                   answer: str) -> ItemRecord:
        record = await self._readable(principal, dataset_id)
        _require_trainer(principal, record.department)
        item = await self.store.item(dataset_id, item_id)
        if item is None:
            raise NotFound(f"item {item_id} not found in dataset {dataset_id}")
        if item.status == ItemStatus.WITHDRAWN:
            raise FailedPrecondition("this item's document was deleted; a withdrawn item cannot be edited")
        question, answer = question.strip(), answer.strip()
        if not question and not answer:
            raise InvalidArgument("nothing to change: give a new question, a new answer, or both")
        texts, _ = await asyncio.to_thread(self.writer.mask, [question or item.question, answer or item.answer],
                                           pii_mode=record.pii_mode, secret=self.pii_secret)
        fields = {"question": texts[0], "answer": texts[1], "edited": True, "reviewed_by": principal.subject}
        if not item.edited:
            fields |= {"original_question": item.question, "original_answer": item.answer}
        await self.store.update_item(dataset_id, item_id, **fields)
        return await self.store.item(dataset_id, item_id)

    async def export(self, principal: Principal, dataset_id: str, form: str, which: str,
                     split: str) -> tuple[bytes, int]:
        record = await self._readable(principal, dataset_id)
        form = form or "messages"
        if form not in EXPORT_FORMATS:
            raise InvalidArgument(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        which = which or "approved"
        if which not in ("approved", "all"):
            raise InvalidArgument("items must be 'approved' or 'all'")
        if split and split not in SPLITS:
            raise InvalidArgument(f"split must be one of {', '.join(SPLITS)}")
        if record.state != DatasetState.READY:
            raise FailedPrecondition(f"dataset {dataset_id} is {record.state.value}; export it once it is READY")
        items = await self._all_items(dataset_id, ItemFilter(
            status=ItemStatus.APPROVED if which == "approved" else None, split=split))
        items = [i for i in items if i.status != ItemStatus.WITHDRAWN]
        return "".join(export_line(i, form) + "\n" for i in items).encode(), len(items)

    async def import_(self, principal: Principal, department: str, data: bytes, filename: str, pii_mode: str,
                      approved: bool) -> DatasetRecord:
        department = validate_department(department)
        _require_trainer(principal, department)
        mode = _pii_mode(pii_mode, self.limits.default_pii_mode)
        self._check_pseudonymise(mode)
        name = filename or "the file"
        if not data.strip():
            raise InvalidArgument(f"{name} is empty: one JSON object per line")
        if len(data) > self.limits.max_import_bytes:
            raise InvalidArgument(f"{name} is {len(data)} bytes, more than the limit of {self.limits.max_import_bytes}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(f"{name} is not UTF-8 text") from None
        pairs = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                pairs.append(self.parse_line(raw, number))
            except ValueError as exc:
                raise InvalidArgument(f"{name}: {exc}; nothing was imported") from None
            if len(pairs) > self.limits.max_import_examples:
                raise InvalidArgument(f"{name} has more than {self.limits.max_import_examples} examples; split it")
        flat = [t for pair in pairs for t in pair]
        masked, pii = await asyncio.to_thread(self.writer.mask, flat, pii_mode=mode, secret=self.pii_secret)
        order = list(range(len(pairs)))
        random.Random(f"sentra-import:{len(pairs)}").shuffle(order)
        held = 0 if len(pairs) < 10 else max(1, round(len(pairs) * 0.1))
        split_of = {i: "train" for i in order}
        split_of.update({i: "test" for i in order[:held]})
        split_of.update({i: "validation" for i in order[held : 2 * held]})
        status = ItemStatus.APPROVED if approved else ItemStatus.PENDING
        record = DatasetRecord(
            id=str(uuid.uuid4()), department=department, version=0, state=DatasetState.READY, source="import",
            created_by=principal.subject, created_at=self.clock(), pii_mode=mode, pii_found=pii,
            request={"filename": filename, "lines": len(pairs)}, finished_at=self.clock(),
        )
        items = [
            ItemRecord(id=str(uuid.uuid4()), dataset_id=record.id, position=i, split=split_of[i],
                       question=masked[2 * i], answer=masked[2 * i + 1], status=status, score=1.0,
                       reviewed_by=principal.subject if approved else "")
            for i in range(len(pairs))
        ]
        record = await self.store.insert(record)
        await self.store.add_items(record.id, items)
        logger.info("dataset %s (%s v%d) imported from %s: %d items", record.id, department, record.version, name,
                    len(items))
        return await self._counted(record)

    async def training_set(self, principal: Principal, dataset_id: str) -> tuple[DatasetRecord, list[ItemRecord]]:
        """The approved items that may train (never withdrawn ones), for a job of the
        dataset's department."""
        record = await self._readable(principal, dataset_id)
        _require_trainer(principal, record.department)
        if record.state != DatasetState.READY:
            raise FailedPrecondition(f"dataset {dataset_id} is {record.state.value}; train on it once it is READY")
        items = await self._all_items(dataset_id, ItemFilter(status=ItemStatus.APPROVED))
        gone = await self.store.withdrawn_documents([i.document_id for i in items if i.document_id])
        items = [i for i in items if i.document_id not in gone]
        if not items:
            raise FailedPrecondition(f"dataset {dataset_id} has no approved items: review it first "
                                     "(sentra datasets approve …)")
        return await self._counted(record), items

    async def start_request(self, principal: Principal, dataset_id: str, adapter_name: str, settings: dict,
                            department: str = "", lineage: dict | None = None) -> StartRequest:
        """A training job's request from a dataset version: its approved train and
        validation items train, its test split judges the candidate at the gate; the
        lineage (version, documents, generator) goes into the job's model card."""
        record, items = await self.training_set(principal, dataset_id)
        if department and department != record.department:
            raise InvalidArgument(f"dataset {record.id} belongs to {record.department}; train it for that department")
        return StartRequest(
            department=record.department, adapter_name=adapter_name,
            dataset_jsonl=_lines(i for i in items if i.split != "test"),
            dataset_filename=f"dataset {record.department} v{record.version}", settings=settings,
            test_jsonl=_lines(i for i in items if i.split == "test"),
            lineage={"dataset_id": record.id, "version": record.version, "department": record.department,
                     "generator_id": record.generator_id, "items": len(items), "pii_mode": record.pii_mode,
                     "documents": sorted({i.document_id for i in items if i.document_id}), **(lineage or {})},
        )

    async def test_split(self, principal: Principal, dataset_id: str) -> EvaluationSet:
        """The dataset version's approved test items (the ones a job from it is judged on),
        for evaluating an adapter of its department."""
        record, items = await self.training_set(principal, dataset_id)
        chosen = [i for i in items if i.split == "test"]
        if not chosen:
            raise FailedPrecondition(f"dataset {record.id} has no approved items in its test split")
        return EvaluationSet(record.department, _lines(chosen),
                             f"dataset {record.department} v{record.version} test split")

    # ---- events and the background work

    async def document_deleted(self, document_id: str, department: str) -> None:
        touched = await self.store.withdraw(document_id, department)
        if touched:
            logger.info("document %s deleted: its items withdrawn from %d dataset(s)", document_id, len(touched))

    async def resume(self) -> None:
        """Generations the service did not finish (it stopped) start again."""
        for record in await self.store.list(None, (DatasetState.GENERATING,)):
            logger.warning("dataset %s was generating when the service stopped; generating it again", record.id)
            self._spawn(record)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    def _spawn(self, record: DatasetRecord) -> None:
        task = asyncio.create_task(self._generate(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _generate(self, record: DatasetRecord) -> None:
        try:
            async with self._generation:
                chunks = [Chunk(**json.loads(line)) for line in
                          self.files.read_text(self._dir(record) / "chunks.jsonl").splitlines() if line]
                gone = await self.store.withdrawn_documents([c.document_id for c in chunks])
                chunks = [c for c in chunks if c.document_id not in gone]
                self._live[record.id] = (0, len(chunks))

                def progress(done: int, total: int) -> None:
                    self._live[record.id] = (done, total)

                result = await asyncio.to_thread(
                    self.writer.generate, chunks, pii_mode=record.pii_mode, secret=self.pii_secret,
                    questions_per_chunk=int(record.request.get("questions_per_chunk", 2)),
                    max_items=int(record.request.get("max_examples", self.limits.max_examples)),
                    seed=int(record.request.get("seed", 0)), progress=progress,
                )
                for position, item in enumerate(result.items):
                    item.dataset_id, item.position = record.id, position
                await self.store.add_items(record.id, result.items)
                # A document deleted while this was generating: its items are withdrawn too.
                for document_id in await self.store.withdrawn_documents(record.document_ids):
                    await self.store.withdraw(document_id, record.department)
                await self.store.update(
                    record.id, state=DatasetState.READY, generator_id=result.generator_id,
                    dropped=result.dropped, pii_found=result.pii_found, timings=result.timings,
                    chunks_done=len(chunks), chunks_total=len(chunks), finished_at=self.clock())
                logger.info("dataset %s ready: %d items (dropped %s)", record.id, len(result.items), result.dropped)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recorded on the dataset, in words
            logger.exception("dataset %s failed", record.id)
            await self.store.update(record.id, state=DatasetState.FAILED, finished_at=self.clock(),
                                    failure_reason=f"generation failed: {type(exc).__name__}: {exc}")
        finally:
            self._live.pop(record.id, None)

    # ---- helpers

    def _dir(self, record: DatasetRecord) -> Path:
        return self.files_dir / record.department / record.id

    def _check_pseudonymise(self, mode: str) -> None:
        if mode == "pseudonymise" and not self.pii_secret:
            raise FailedPrecondition("pseudonymising needs a secret (SENTRA_TRAINING_DATASETS__PII_SECRET_FILE); "
                                     "ask the platform team, or use pii_mode mask")

    async def _readable(self, principal: Principal, dataset_id: str) -> DatasetRecord:
        record = await self.store.get(dataset_id) if is_uuid(dataset_id) else None
        if record is None or not principal.may_access_department(record.department):
            raise NotFound(f"dataset {dataset_id} not found")
        if not (TRAINING_ROLES & set(principal.roles)) and not principal.is_platform_admin:
            raise PermissionDenied("datasets need the trainer or department-admin role; ask your department's admin")
        return record

    async def _counted(self, record: DatasetRecord) -> DatasetRecord:
        record.counts = await self.store.counts(record.id)
        if record.id in self._live:
            record.chunks_done, record.chunks_total = self._live[record.id]
        return record

    async def _all_items(self, dataset_id: str, where: ItemFilter) -> list[ItemRecord]:
        out: list[ItemRecord] = []
        while True:
            page, total = await self.store.items(dataset_id, where, len(out), 1000)
            out.extend(page)
            if not page or len(out) >= total:
                return out


def _lines(items) -> bytes:
    """Items as a training file (`messages` lines)."""
    return "".join(export_line(i, "messages") + "\n" for i in items).encode()
