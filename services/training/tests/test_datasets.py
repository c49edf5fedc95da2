"""Datasets' rules with a real SQLite store, a scripted chunk source and a scripted item
writer (the models are exercised in test_dataset_generation.py and the platform test):
versions per department, isolation, review, edits that keep the original, withdrawal of
a deleted document's items (from existing versions and from training), export → import
round trip, and a malformed import that names its line and stores nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal
from sentra_training.adapters.dataset_store import DatasetStore
from sentra_training.adapters.lora_core import parse_example
from sentra_training.app import MIGRATIONS
from sentra_training.datasets.generate import assign_splits
from sentra_training.domain.datasets import (
    Chunk,
    CreateRequest,
    Datasets,
    DatasetState,
    Generated,
    ItemFilter,
    ItemRecord,
    ItemStatus,
)

ANA = Principal("ana", departments=("legal",), roles=("trainer",))
EVA = Principal("eva", departments=("legal",), roles=("member",))
LUIS = Principal("luis", departments=("rrhh",), roles=("trainer",))
DOCS = {"legal": ["d-legal-1", "d-legal-2", "d-legal-3"], "rrhh": ["d-rrhh-1"]}


class Source:
    """Indexed documents and their chunks per department, as the ledger and retrieval give them."""

    async def indexed_since(self, department, since):
        return list(DOCS.get(department, []))

    async def chunks(self, department, document_ids):
        return [Chunk(f"{d}-c{i}", d, 1, d.upper(), f"Texto {i} de {d}. El plazo es de {i + 2} días.", i)
                for d in document_ids for i in range(2)]


class Writer:
    """One item per chunk; masks the word SECRETO."""

    generator_id = "qg-test"

    def generate(self, chunks, *, pii_mode, secret, questions_per_chunk, max_items, seed, progress):
        items = [ItemRecord(id=str(uuid.uuid4()), dataset_id="", position=0, split="train",
                            question=f"¿Cuál es el plazo en {c.chunk_id}?", answer=c.text.split()[-2] + " días",
                            context=c.text, document_id=c.document_id, document_version=1, chunk_id=c.chunk_id,
                            score=0.5 + 0.1 * c.chunk_index, generator_id=self.generator_id)
                 for c in chunks][:max_items]
        splits = assign_splits([c.document_id for c in chunks], seed)
        for item in items:
            item.split = splits[item.document_id]
        progress(len(chunks), len(chunks))
        return Generated(items, self.generator_id, {"unsupported": 1}, {}, {"generate": 0.1})

    def mask(self, texts, *, pii_mode, secret):
        masked = [t.replace("SECRETO", "<PERSON>") if pii_mode != "keep" else t for t in texts]
        return masked, {"PERSON": sum(t.count("SECRETO") for t in texts)} if pii_mode != "keep" else {}


@pytest.fixture
async def datasets(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_training")
    service = Datasets(DatasetStore(engine), Source(), Source(), Writer(), tmp_path / "datasets",
                       parse_line=parse_example)
    yield service
    await service.close()
    await engine.dispose()


async def ready(service: Datasets, principal: Principal, dataset_id: str):
    for _ in range(200):
        record = await service.get(principal, dataset_id)
        if record.state != DatasetState.GENERATING:
            return record
        await asyncio.sleep(0.02)
    raise AssertionError("the dataset never finished generating")


async def test_versions_per_department_and_each_department_sees_only_its_own(datasets):
    first = await datasets.create(ANA, CreateRequest("legal"))
    assert first.state == DatasetState.GENERATING and first.version == 1 and first.chunks_total == 6
    first = await ready(datasets, ANA, first.id)
    assert first.state == DatasetState.READY and first.generator_id == "qg-test"
    assert first.counts["PENDING"] == 6 and first.dropped == {"unsupported": 1}
    # 3 documents: 80/10/10 by document → 1 test, 1 validation, 1 train; both chunks of a document together
    assert (first.counts["train"], first.counts["validation"], first.counts["test"]) == (2, 2, 2)
    items, _, _ = await datasets.items(ANA, first.id, ItemFilter(), 100, "")
    by_document = {}
    for item in items:
        by_document.setdefault(item.document_id, set()).add(item.split)
    assert all(len(splits) == 1 for splits in by_document.values())
    second = await ready(datasets, ANA, (await datasets.create(ANA, CreateRequest("legal"))).id)
    other = await ready(datasets, LUIS, (await datasets.create(LUIS, CreateRequest("rrhh"))).id)
    assert (second.version, other.version) == (2, 1)
    assert [d.id for d in await datasets.list(ANA)] == [second.id, first.id]
    assert [d.id for d in await datasets.list(LUIS)] == [other.id]
    for call in (datasets.get(LUIS, first.id), datasets.items(LUIS, first.id, ItemFilter(), 10, ""),
                 datasets.export(LUIS, first.id, "", "all", "")):
        with pytest.raises(NotFound):
            await call
    with pytest.raises(PermissionDenied):
        await datasets.create(LUIS, CreateRequest("legal"))
    with pytest.raises(PermissionDenied):  # a member of the department without a training role
        await datasets.create(EVA, CreateRequest("legal"))


async def test_bad_requests_are_refused_with_what_to_do(datasets):
    with pytest.raises(InvalidArgument, match="pii_mode 'blur' is not one of mask, pseudonymise, keep"):
        await datasets.create(ANA, CreateRequest("legal", pii_mode="blur"))
    with pytest.raises(FailedPrecondition, match="pseudonymising needs a secret"):
        await datasets.create(ANA, CreateRequest("legal", pii_mode="pseudonymise"))
    with pytest.raises(FailedPrecondition, match="not INDEXED documents of legal"):
        await datasets.create(ANA, CreateRequest("legal", document_ids=("d-rrhh-1",)))
    with pytest.raises(InvalidArgument, match="questions_per_chunk must be between 1 and 10"):
        await datasets.create(ANA, CreateRequest("legal", questions_per_chunk=50))
    assert await datasets.list(ANA) == []


async def test_review_approve_above_a_score_reject_and_edit_keeping_the_original(datasets):
    record = await ready(datasets, ANA, (await datasets.create(ANA, CreateRequest("legal"))).id)
    changed, record = await datasets.review(ANA, record.id, ItemStatus.APPROVED, [], 0.55)
    assert changed == 3 and record.counts["APPROVED"] == 3  # the chunk_index 1 items score 0.6
    items, _, total = await datasets.items(ANA, record.id, ItemFilter(status=ItemStatus.PENDING), 100, "")
    assert total == 3
    changed, record = await datasets.review(ANA, record.id, ItemStatus.REJECTED, [items[0].id], 0)
    assert changed == 1 and record.counts["REJECTED"] == 1
    edited = await datasets.edit(ANA, record.id, items[1].id, "¿Quién firma? SECRETO lo sabe", "")
    assert edited.question == "¿Quién firma? <PERSON> lo sabe" and edited.edited
    assert edited.original_question == items[1].question and edited.answer == items[1].answer
    with pytest.raises(PermissionDenied):
        await datasets.review(EVA, record.id, ItemStatus.APPROVED, [items[1].id], 0)
    with pytest.raises(InvalidArgument, match="give item ids, or a minimum score"):
        await datasets.review(ANA, record.id, ItemStatus.APPROVED, [], 0)
    found, _, _ = await datasets.items(ANA, record.id, ItemFilter(text="quién firma"), 10, "")
    assert [i.id for i in found] == [items[1].id]


async def test_a_deleted_documents_items_are_withdrawn_and_never_train(datasets):
    record = await ready(datasets, ANA, (await datasets.create(ANA, CreateRequest("legal"))).id)
    await datasets.review(ANA, record.id, ItemStatus.APPROVED, [], 0.01)
    _, before = await datasets.training_set(ANA, record.id)
    assert {i.document_id for i in before} == set(DOCS["legal"])
    await datasets.document_deleted("d-legal-2", "legal")
    record = await datasets.get(ANA, record.id)
    assert record.withdrawn_document_ids == ["d-legal-2"] and record.counts["WITHDRAWN"] == 2
    _, after = await datasets.training_set(ANA, record.id)
    assert "d-legal-2" not in {i.document_id for i in after} and len(after) == 4
    # a review cannot bring them back
    withdrawn, _, _ = await datasets.items(ANA, record.id, ItemFilter(status=ItemStatus.WITHDRAWN), 10, "")
    changed, _ = await datasets.review(ANA, record.id, ItemStatus.APPROVED, [withdrawn[0].id], 0)
    assert changed == 0
    exported, count = await datasets.export(ANA, record.id, "", "all", "")
    assert count == 4 and b"d-legal-2" not in exported
    # a version made later from a snapshot of the deleted document leaves it out too
    later = await ready(datasets, ANA, (await datasets.create(ANA, CreateRequest("legal"))).id)
    assert "d-legal-2" not in {i.document_id for i in (await datasets.items(ANA, later.id, ItemFilter(), 100, ""))[0]
                               if i.status != ItemStatus.WITHDRAWN}


async def test_export_import_round_trip_is_identical_and_a_bad_line_imports_nothing(datasets):
    record = await ready(datasets, ANA, (await datasets.create(ANA, CreateRequest("legal"))).id)
    await datasets.review(ANA, record.id, ItemStatus.APPROVED, [], 0.01)
    for form in ("messages", "instruction"):
        exported, count = await datasets.export(ANA, record.id, form, "approved", "")
        assert count == 6
        imported = await datasets.import_(ANA, "legal", exported, "x.jsonl", "", approved=True)
        assert imported.source == "import" and imported.counts["APPROVED"] == 6
        again, _ = await datasets.export(ANA, imported.id, form, "approved", "")
        assert again == exported
    first_line = json.loads(exported.splitlines()[0])
    assert set(first_line) == {"instruction", "output"}
    bad = exported + b'{"messages": [{"role": "user", "content": "hola"}]}\n'
    before = len(await datasets.list(ANA))
    with pytest.raises(InvalidArgument, match=r"bad\.jsonl: line 7: 'messages' must list at least a user and an "
                                              r"assistant message; nothing was imported"):
        await datasets.import_(ANA, "legal", bad, "bad.jsonl", "", approved=False)
    with pytest.raises(InvalidArgument, match=r"line 2: not valid JSON"):
        await datasets.import_(ANA, "legal", exported.splitlines()[0] + b"\n{oops\n", "bad.jsonl", "", False)
    assert len(await datasets.list(ANA)) == before
    masked = await datasets.import_(ANA, "legal", b'{"instruction": "SECRETO?", "output": "SECRETO"}\n', "p.jsonl",
                                    "", approved=False)
    items, _, _ = await datasets.items(ANA, masked.id, ItemFilter(), 10, "")
    assert (items[0].question, items[0].answer, masked.pii_found) == ("<PERSON>?", "<PERSON>", {"PERSON": 2})


async def test_a_generation_the_service_did_not_finish_starts_again(datasets, tmp_path):
    store = datasets.store
    record = await datasets.create(ANA, CreateRequest("legal"))
    await ready(datasets, ANA, record.id)
    await store.update(record.id, state=DatasetState.GENERATING)  # as if the service died mid-way
    await datasets.resume()
    again = await ready(datasets, ANA, record.id)
    assert again.state == DatasetState.READY and again.counts["PENDING"] == 6  # replaced, not doubled
