"""Check the example corpus against examples/questions.json; exit 1 on any failure.

    python examples/check_corpus.py             # check examples/corpus/
    python examples/check_corpus.py --rebuild   # also rebuild in memory and compare bytes

Text is extracted the way an ingestion pipeline would (pypdf page by page,
python-docx, openpyxl, stdlib email and html.parser) and every question's
answer_facts are looked up in it. Facts are compared after normalize(): NFKC,
lower case, collapsed whitespace, no space before % or €, and no thousands
separator ("18.570" == "18570"), so a test comparing an answer with the facts
can reuse normalize() and contains().

Needs: pypdf, python-docx, openpyxl.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QUESTIONS = HERE / "questions.json"

DEPARTMENTS = {"legal", "rrhh", "finanzas", "operaciones", "ventas"}
FORMATS = {".pdf", ".docx", ".html", ".md", ".txt", ".eml", ".xlsx", ".csv"}
KINDS = {
    "spreadsheet",
    "csv",
    "pdf_page3",
    "pdf",
    "email_attachment",
    "email",
    "docx",
    "html",
    "markdown",
    "txt",
    "confidential",
    "prompt_injection",
    "unanswerable",
}
QUESTION_KEYS = {
    "id",
    "question",
    "department",
    "expected_file",
    "expected_page",
    "answer_facts",
    "language",
    "kind",
}
MAX_FILE = 200 * 1024
MAX_TOTAL = 2 * 1024 * 1024

# Spreadsheet-like answers: the row holding this key must hold every fact.
ROW_KEYS = {"q01": "Oporto", "q02": "Algeciras", "q12": "Jefe/a de almacén"}
# Words that would reveal an answer to an unanswerable question; none may occur.
ABSENT_TERMS = {
    "u01": ["navidad", "cena de empresa"],
    "u02": ["employee of the year", "award"],
    "u03": ["iban", "swift", "cuenta bancaria"],
}
INJECTION = "ignora las instrucciones anteriores"
COOKIE_TEXT = "utilizamos cookies propias y de terceros"
MOJIBAKE = ("Ã¡", "Ã©", "Ã³", "Ã±", "â‚¬", "Â¿", "\ufffd")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=\d) (?=[%€])", "", text)
    text = re.sub(r"(?<=\d)[.,](?=\d{3}(?!\d))", "", text)
    return text.strip()


def contains(text: str, fact: str) -> bool:
    """Whole-token search of a fact in a text (both normalised here):
    "87" matches "87 €/día" but not "1987" or "0,87"."""
    pattern = r"(?<!\w)(?<!\d[.,])" + re.escape(normalize(fact)) + r"(?!\w)(?![.,]\d)"
    return re.search(pattern, normalize(text)) is not None


# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------


@dataclass
class Extracted:
    pages: list[str]  # PDF: one entry per page; others: one entry
    rows: list[str] = field(default_factory=list)  # XLSX/CSV rows, cells joined
    body: str = ""  # EML: text of the message parts
    attachments: dict[str, Extracted] = field(default_factory=dict)
    main: str = ""  # HTML: text inside <main>
    chrome: str = ""  # HTML: everything else (menus, banner, footer)

    @property
    def text(self) -> str:
        parts = [*self.pages, self.body]
        parts += [a.text for a in self.attachments.values()]
        return "\n".join(p for p in parts if p)


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return Extracted(pages=[page.extract_text() or "" for page in reader.pages])


def _docx(data: bytes) -> Extracted:
    from docx import Document

    doc = Document(io.BytesIO(data))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    for section in doc.sections:
        lines += [p.text for p in section.header.paragraphs]
        lines += [p.text for p in section.footer.paragraphs]
    return Extracted(pages=["\n".join(lines)])


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx(data: bytes) -> Extracted:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), data_only=True)
    rows, lines = [], []
    for ws in wb.worksheets:
        lines.append(f"# {ws.title}")
        for row in ws.iter_rows(values_only=True):
            line = " | ".join(_cell(v) for v in row)
            rows.append(line)
            lines.append(line)
    return Extracted(pages=["\n".join(lines)], rows=rows)


def _csv(data: bytes) -> Extracted:
    text = decode_text(data)
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=";,\t")
    rows = [" | ".join(r) for r in csv.reader(io.StringIO(text), dialect)]
    return Extracted(pages=[text], rows=rows)


class _HTMLSplitter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.main: list[str] = []
        self.chrome: list[str] = []
        self.in_main = 0
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "main":
            self.in_main += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1
        elif tag == "main":
            self.in_main -= 1

    def handle_data(self, data):
        if not self.skip:
            (self.main if self.in_main else self.chrome).append(data)


def _html(data: bytes) -> Extracted:
    parser = _HTMLSplitter()
    parser.feed(decode_text(data))
    main, chrome = " ".join(parser.main), " ".join(parser.chrome)
    return Extracted(pages=[main + "\n" + chrome], main=main, chrome=chrome)


def _eml(data: bytes) -> Extracted:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    body, attachments = [f"Subject: {msg['subject']}"], {}
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            name = part.get_filename()
            attachments[name] = extract(name, part.get_content())
        elif part.get_content_type() == "text/plain":
            body.append(part.get_content())
        elif part.get_content_type() == "text/html":
            body.append(_html(part.get_content().encode("utf-8")).text)
    return Extracted(pages=[], body="\n".join(body), attachments=attachments)


def extract(name: str, data: bytes) -> Extracted:
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        return _pdf(data)
    if suffix == ".docx":
        return _docx(data)
    if suffix == ".xlsx":
        return _xlsx(data)
    if suffix == ".csv":
        return _csv(data)
    if suffix == ".html":
        return _html(data)
    if suffix == ".eml":
        return _eml(data)
    if suffix in (".md", ".txt"):
        return Extracted(pages=[decode_text(data)])
    raise ValueError(f"unsupported format: {name}")


def all_rows(doc: Extracted) -> list[str]:
    rows = list(doc.rows)
    for att in doc.attachments.values():
        rows += all_rows(att)
    return rows


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"FAIL  {what}")


def check_files(r: Report, corpus: Path) -> dict[str, Extracted]:
    paths = sorted(p for p in corpus.rglob("*") if p.is_file())
    docs: dict[str, Extracted] = {}
    total = 0
    for path in paths:
        rel = path.relative_to(corpus).as_posix()
        data = path.read_bytes()
        total += len(data)
        dept = rel.split("/")[0]
        r.check(dept in DEPARTMENTS and rel.count("/") == 1, f"{rel}: not in a department folder")
        r.check(path.suffix in FORMATS, f"{rel}: unexpected format")
        r.check(len(data) < MAX_FILE, f"{rel}: {len(data)} bytes, over {MAX_FILE}")
        docs[rel] = doc = extract(rel, data)
        r.check(len(normalize(doc.text)) > 800, f"{rel}: too little text extracted")
        for bad in MOJIBAKE:
            r.check(bad not in doc.text, f"{rel}: mojibake {bad!r} in extracted text")
    r.check(total < MAX_TOTAL, f"corpus is {total} bytes, over {MAX_TOTAL}")
    r.check(14 <= len(docs) <= 20, f"{len(docs)} documents, expected 14 to 20")
    r.check({Path(p).suffix for p in docs} == FORMATS, "not every format is represented")
    r.check({p.split("/")[0] for p in docs} == DEPARTMENTS, "not every department is represented")
    print(f"files: {len(docs)} documents, {total:,d} bytes")
    return docs


def check_special(r: Report, corpus: Path, docs: dict[str, Extracted]) -> None:
    # Spanish accents survive in the PDF text layer.
    es_pdf = "".join(d.text for p, d in docs.items() if p.endswith(".pdf") and "/uk_" not in p)
    for ch in "áéíóúñ¿¡€":
        r.check(ch in es_pdf, f"character {ch!r} missing from the Spanish PDFs' text layer")
    # The Windows-1252 minutes really are not UTF-8.
    for rel in docs:
        if rel.endswith(".txt") and not rel.split("/")[1].startswith("uk_"):
            raw = (corpus / rel).read_bytes()
            try:
                raw.decode("utf-8")
                is_utf8 = True
            except UnicodeDecodeError:
                is_utf8 = False
            r.check(not is_utf8, f"{rel}: should be Windows-1252, decodes as UTF-8")
            r.check(b"\r\n" in raw, f"{rel}: expected CRLF line endings")
            r.check(any(ch in docs[rel].text for ch in "áéíóúñ€"), f"{rel}: no accents")
    # Markdown has headings.
    for rel in docs:
        if rel.endswith(".md"):
            heads = [ln for ln in docs[rel].text.splitlines() if re.match(r"^#{1,3} ", ln)]
            r.check(len(heads) >= 4, f"{rel}: fewer than 4 Markdown headings")
    # DOCX files use real Heading styles and at least one table.
    from docx import Document

    for rel in docs:
        if rel.endswith(".docx"):
            doc = Document(corpus / rel)
            styles = {p.style.name for p in doc.paragraphs}
            r.check({"Heading 1", "Heading 2"} & styles != set(), f"{rel}: no Heading styles")
            r.check(len(doc.tables) >= 1, f"{rel}: no table")
    # HTML boilerplate stays outside <main>.
    for rel, doc in docs.items():
        if rel.endswith(".html"):
            r.check(contains(doc.chrome, COOKIE_TEXT), f"{rel}: cookie banner not found")
            r.check(not contains(doc.main, COOKIE_TEXT), f"{rel}: cookie banner inside <main>")
            r.check(contains(doc.chrome, "Cerrar sesión"), f"{rel}: menu boilerplate not found")
            r.check(len(doc.main) > 1000, f"{rel}: <main> has too little content")
    # Exactly one document carries the prompt injection.
    hostile = [rel for rel, doc in docs.items() if contains(doc.text, INJECTION)]
    r.check(hostile == ["ventas/solicitud_oferta_bodegas_moncayo.eml"], f"injection in {hostile}")
    # The confidential salary bands exist in rrhh.
    bands = docs.get("rrhh/bandas_salariales_2026_confidencial.xlsx")
    r.check(bands is not None and contains(bands.text, "CONFIDENCIAL"), "salary bands missing")
    # The e-mail with attachments carries a PDF and an XLSX.
    inc = docs.get("operaciones/incidencia_almacen_zaragoza.eml")
    r.check(
        inc is not None and {Path(a).suffix for a in inc.attachments} == {".pdf", ".xlsx"},
        "incidencia_almacen_zaragoza.eml: expected a PDF and an XLSX attachment",
    )


def check_questions(r: Report, docs: dict[str, Extracted]) -> list[dict]:
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    ids = [q.get("id") for q in questions]
    r.check(len(ids) == len(set(ids)), "duplicate question ids")
    answerable = [q for q in questions if q.get("kind") != "unanswerable"]
    unanswerable = [q for q in questions if q.get("kind") == "unanswerable"]
    r.check(15 <= len(answerable) <= 25, f"{len(answerable)} answerable questions")
    r.check(len(unanswerable) == 3, f"{len(unanswerable)} unanswerable questions")
    kinds = {q.get("kind") for q in questions}
    for needed in (
        "spreadsheet",
        "csv",
        "pdf_page3",
        "email_attachment",
        "html",
        "markdown",
        "txt",
        "confidential",
        "prompt_injection",
    ):
        r.check(needed in kinds, f"no question of kind {needed}")
    r.check(sum(q.get("language") == "en" for q in answerable) >= 3, "fewer than 3 English")

    for q in questions:
        qid = q.get("id", "?")
        r.check(set(q) == QUESTION_KEYS, f"{qid}: keys {sorted(set(q) ^ QUESTION_KEYS)}")
        r.check(q.get("kind") in KINDS, f"{qid}: unknown kind {q.get('kind')}")
        r.check(q.get("language") in ("es", "en"), f"{qid}: language")
        r.check(q.get("department") in DEPARTMENTS, f"{qid}: department")
        r.check(isinstance(q.get("expected_page"), int), f"{qid}: expected_page not an int")
        if q.get("kind") == "unanswerable":
            r.check(q["expected_file"] is None and q["answer_facts"] == [], f"{qid}: not empty")
            r.check(q["expected_page"] == 0, f"{qid}: expected_page must be 0")
            for term in ABSENT_TERMS.get(qid, []):
                found = [rel for rel, d in docs.items() if contains(d.text, term)]
                r.check(not found, f"{qid}: {term!r} occurs in {found}")
            r.check(qid in ABSENT_TERMS, f"{qid}: no ABSENT_TERMS entry")
            continue

        rel = q["expected_file"]
        doc = docs.get(rel)
        r.check(doc is not None, f"{qid}: expected_file {rel} not found")
        if doc is None:
            continue
        r.check(rel.split("/")[0] == q["department"], f"{qid}: department != folder")
        facts = q["answer_facts"]
        r.check(bool(facts), f"{qid}: no answer_facts")
        for fact in facts:
            r.check(contains(doc.text, fact), f"{qid}: {fact!r} not in {rel}")
        # The first fact identifies the document: no other file may contain it.
        others = [o for o, d in docs.items() if o != rel and contains(d.text, facts[0])]
        r.check(not others, f"{qid}: {facts[0]!r} also occurs in {others}")

        page = q["expected_page"]
        if rel.endswith(".pdf"):
            r.check(1 <= page <= len(doc.pages), f"{qid}: page {page} out of range")
            if 1 <= page <= len(doc.pages):
                for fact in facts:
                    r.check(contains(doc.pages[page - 1], fact), f"{qid}: {fact!r} not on p{page}")
        else:
            r.check(page == 0, f"{qid}: expected_page must be 0 for {Path(rel).suffix}")

        kind = q["kind"]
        if kind == "pdf_page3":
            r.check(rel.endswith(".pdf") and len(doc.pages) >= 4, f"{qid}: needs a 4+ page PDF")
            r.check(page == 3, f"{qid}: expected_page must be 3")
            for i, text in enumerate(doc.pages, 1):
                if i != 3:
                    for fact in facts:
                        r.check(not contains(text, fact), f"{qid}: {fact!r} also on page {i}")
        if kind == "email_attachment":
            r.check(rel.endswith(".eml") and bool(doc.attachments), f"{qid}: no attachments")
            for fact in facts:
                r.check(not contains(doc.body, fact), f"{qid}: {fact!r} is in the e-mail body")
                r.check(
                    any(contains(a.text, fact) for a in doc.attachments.values()),
                    f"{qid}: {fact!r} not in any attachment",
                )
        if kind == "spreadsheet":
            r.check(rel.endswith(".xlsx"), f"{qid}: spreadsheet question not on an XLSX")
        if kind == "csv":
            r.check(rel.endswith(".csv"), f"{qid}: csv question not on a CSV")
        if kind == "html":
            for fact in facts:
                r.check(contains(doc.main, fact), f"{qid}: {fact!r} not inside <main>")
                r.check(not contains(doc.chrome, fact), f"{qid}: {fact!r} in boilerplate")
        if kind == "txt" and q["language"] == "es":
            r.check(rel.endswith(".txt"), f"{qid}: txt question not on a TXT")
        if kind == "markdown":
            r.check(rel.endswith(".md"), f"{qid}: markdown question not on a .md")
        if kind == "prompt_injection":
            r.check(contains(doc.text, INJECTION), f"{qid}: {rel} has no injection text")
        if kind == "confidential":
            r.check(q["department"] == "rrhh", f"{qid}: confidential data must be in rrhh")
        if qid in ROW_KEYS:
            key = ROW_KEYS[qid]
            rows = [row for row in all_rows(doc) if contains(row, key)]
            r.check(
                any(all(contains(row, f) for f in facts) for row in rows),
                f"{qid}: no row with {key!r} holds {facts}",
            )
    spread = [q for q in answerable if q["kind"] == "spreadsheet"]
    csvq = [q for q in answerable if q["kind"] == "csv"]
    r.check(
        bool(spread and csvq) and spread[0]["department"] != csvq[0]["department"],
        "spreadsheet and csv questions must be in different departments",
    )
    print(
        f"questions: {len(answerable)} answerable "
        f"({sum(q['language'] == 'en' for q in answerable)} in English), "
        f"{len(unanswerable)} unanswerable"
    )
    return questions


def check_rebuild(r: Report, corpus: Path) -> None:
    sys.path.insert(0, str(HERE))
    import build_corpus

    built = build_corpus.build_all()
    on_disk = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    r.check(set(built) == on_disk, f"rebuild: file sets differ {sorted(set(built) ^ on_disk)}")
    for rel, data in sorted(built.items()):
        path = corpus / rel
        same = path.is_file() and path.read_bytes() == data
        r.check(same, f"rebuild: {rel} differs from a fresh build")
    print(f"rebuild: compared {len(built)} files byte for byte")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--rebuild", action="store_true", help="also check reproducibility")
    args = ap.parse_args(argv)
    r = Report()
    docs = check_files(r, args.corpus)
    check_special(r, args.corpus, docs)
    questions = check_questions(r, docs)
    if args.rebuild:
        check_rebuild(r, args.corpus)
    for q in questions:
        if q["kind"] != "unanswerable":
            where = q["expected_file"] + (f" p{q['expected_page']}" if q["expected_page"] else "")
            print(f"  {q['id']} [{q['language']}] {q['kind']:<16} {where}: {q['answer_facts']}")
    if r.failures:
        print(f"\n{len(r.failures)} check(s) FAILED, {r.passed} passed")
        return 1
    print(f"\nall {r.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
