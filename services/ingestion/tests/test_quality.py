"""Obvious garbage fails with a reason; real documents (the example corpus, XQuAD) pass."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
from sentra_common.shared_files import shared_dir
from sentra_ingestion.domain.parsing.dispatch import parse_document
from sentra_ingestion.domain.parsing.model import ParseError
from sentra_ingestion.domain.quality import garbage_reason

ROOT = Path(__file__).resolve().parents[3]
RND = random.Random(7)


def _text(data: bytes, name: str) -> str:
    return "\n".join(s.text for s in parse_document(data, name).sections)


def meaningless_csv(alphabet: str, columns: int = 20000) -> bytes:
    """One line, thousands of meaningless columns (the CSV that once held the embedder
    for ten minutes)."""
    return ",".join("".join(RND.choice(alphabet) for _ in range(RND.randint(3, 12))) for _ in range(columns)).encode()


@pytest.mark.parametrize("name,data,reason", [
    ("hex.csv", meaningless_csv("0123456789abcdef"), "no words of a known language"),
    ("letters.csv", meaningless_csv(string.ascii_lowercase), "no words of a known language"),
    ("lorem.txt", ("lorem " * 5000).encode(), "one token ('lorem')"),
    ("cp1252.txt", bytes(RND.randrange(128, 256) for _ in range(20000)), "binary data read as text"),
])
def test_garbage_fails_with_a_reason(name, data, reason):
    assert reason in (garbage_reason(_text(data, name)) or "")


def test_tables_of_figures_and_short_texts_pass():
    figures = "\n".join(",".join(str(RND.randint(0, 99999)) for _ in range(10)) for _ in range(500))
    assert garbage_reason(_text(figures.encode(), "lecturas.csv")) is None
    assert garbage_reason("xq zk vv") is None  # too short to judge
    products = "\n".join(f"Tornillo {RND.choice(['acero', 'latón', 'inoxidable'])} M{i},{i * 3},unidades"
                         for i in range(400))
    assert garbage_reason(products) is None


def test_every_example_document_and_xquad_article_passes():
    files = [f for f in sorted((ROOT / "examples" / "corpus").rglob("*")) if f.is_file()]
    assert len(files) >= 17
    for f in files:
        assert garbage_reason(_text(f.read_bytes(), f.name)) is None, f.name
    for lang in ("es", "en"):  # the evaluation set sits beside the repository, where it is shared
        path = shared_dir() / "eval" / f"xquad.{lang}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        for article in data["data"]:
            text = "\n\n".join(p["context"] for p in article["paragraphs"])
            assert garbage_reason(text) is None, article.get("title")


def test_an_email_whose_boundary_never_appears_fails_with_a_reason():
    """Indexed before from its headers and the raw MIME source alone."""
    raw = (b"From: ana@example.invalid\r\nSubject: Factura marzo\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="NUNCA"\r\n\r\n'
           b"Content-Type: application/pdf\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0Zp\r\n")
    with pytest.raises(ParseError, match="boundary never appears"):
        parse_document(raw, "factura.eml")


async def test_a_large_document_is_announced_on_the_bulk_lane():
    from sentra_common import events
    from sentra_ingestion.domain.model import DocumentRecord
    from sentra_ingestion.events import BusPipelineEvents

    class Recorder:
        def __init__(self):
            self.subjects: list[str] = []

        async def publish(self, subject, message, *, msg_id=None):
            self.subjects.append(subject)

    recorder = Recorder()
    lanes = BusPipelineEvents(recorder, bulk_threshold_chunks=100)
    doc = DocumentRecord.__new__(DocumentRecord)
    for field, value in dict(id="d", version=1, title="t", department="legal", access_list=[], source_uri="s").items():
        object.__setattr__(doc, field, value)
    await lanes.chunks_created(doc, 0, 1, 100, [])
    await lanes.chunks_created(doc, 0, 4, 101, [])
    assert recorder.subjects == [events.CHUNKS_CREATED, events.CHUNKS_CREATED_BULK]
