"""The document pipeline end to end on real processes: the example corpus goes in,
every document reaches INDEXED, and searches find the right document first — with
SQLite and with PostgreSQL as the metadata store."""

from __future__ import annotations

import json

import pytest

from tests.support.platform import CORPUS, INDEXED, ROOT, Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = json.loads((ROOT / "examples" / "questions.json").read_text())


def question(kind: str) -> dict:
    return next(q for q in QUESTIONS if q["kind"] == kind)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def corpus(request):
    platform = request.getfixturevalue(f"{request.param}_platform")
    api = Api(platform)
    ids = await api.upload_corpus()
    docs = await api.wait_settled(ids.values())
    yield api, ids, docs
    await api.close()


async def test_every_example_document_is_indexed(corpus):
    api, ids, docs = corpus
    failed = {rel: docs[i].failure_reason for rel, i in ids.items() if docs[i].state != INDEXED}
    assert not failed
    assert len(ids) == sum(1 for p in CORPUS.rglob("*") if p.is_file())
    for doc_id, doc in docs.items():
        assert doc.chunk_count > 0
        assert await api.points(doc_id) == doc.chunk_count  # nothing indexed twice


@pytest.mark.parametrize("kind", ["spreadsheet", "pdf_page3", "email_attachment"])
async def test_right_document_comes_first(corpus, kind):
    api, ids, _ = corpus
    q = question(kind)
    hits = await api.search(q["question"], departments=[q["department"]])
    assert hits, f"no hits for {q['question']!r}"
    assert hits[0].document_id == ids[q["expected_file"]], [(h.title, h.page, h.heading) for h in hits]
    if q.get("expected_page"):
        assert hits[0].page == q["expected_page"]
    if kind == "email_attachment":  # the attachment's own text is what answers it
        assert any(h.heading.startswith("Attachment") for h in hits if h.document_id == hits[0].document_id)


async def test_stage_log_records_each_stage_with_timings(corpus):
    api, ids, _ = corpus
    reply = await api.document(ids[question("pdf_page3")["expected_file"]])
    stages = {s.stage for s in reply.stages if s.status == "ok"}
    assert {"upload", "parse", "embed", "index"} <= stages
    assert {s.service for s in reply.stages} >= {"ingestion", "embedding", "retrieval"}
