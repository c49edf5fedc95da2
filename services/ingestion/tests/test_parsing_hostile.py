"""Hostile, damaged and unsupported inputs: every failure is a ParseError with a
clear reason, never another exception."""

from __future__ import annotations

import io
import random
import zipfile
from email.message import EmailMessage

import docx
import pytest
from sentra_ingestion.domain.parsing import ParseError, ParseLimits, chunk_sections, parse_document
from sentra_ingestion.domain.parsing.model import PDF, TEXT

SMALL_ZIP_LIMITS = ParseLimits(max_uncompressed_bytes=10 * 1024 * 1024)


def reason_of(data: bytes, filename: str, limits: ParseLimits = ParseLimits()) -> str:
    with pytest.raises(ParseError) as caught:
        parse_document(data, filename, limits)
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


def parse_or_reason(data: bytes, filename: str, limits: ParseLimits = ParseLimits()):
    """Either a parsed document or a ParseError reason; anything else fails the test."""
    try:
        return parse_document(data, filename, limits)
    except ParseError as exc:
        assert exc.reason
        return exc.reason


def docx_bytes(text: str = "Body text.") -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_with(entries: dict[str, bytes | int]) -> bytes:
    """A ZIP whose int entries are that many zero bytes, streamed in 1 MB pieces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            if isinstance(content, int):
                with archive.open(name, "w", force_zip64=True) as entry:
                    for _ in range(content // (1024 * 1024)):
                        entry.write(bytes(1024 * 1024))
            else:
                archive.writestr(name, content)
    return out.getvalue()


# --- empty, unsupported, wrong extension ---------------------------------------------------


@pytest.mark.parametrize("filename", ["a.pdf", "a.txt", "a.docx", "", "noext"])
def test_empty_file(filename):
    assert reason_of(b"", filename) == "file is empty (0 bytes); upload a file with content"


def test_whitespace_only_text():
    assert reason_of(b" \n\t\r\n  \n", "blank.txt") == "document contains no text"


def test_unsupported_binary_types():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    assert reason_of(png, "photo.png").startswith("unsupported file type 'png'; supported: PDF")
    assert reason_of(zip_with({"a.txt": b"x"}), "a.zip").startswith("unsupported file type 'zip'")
    elf = b"\x7fELF" + bytes(500)
    assert "unsupported file type" in reason_of(elf, "program")


def test_legacy_and_password_protected_office_files():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    assert "legacy Microsoft Office" in reason_of(ole, "old.doc")
    encrypted = ole + "EncryptedPackage".encode("utf-16-le") + bytes(100)
    assert "protected with a password" in reason_of(encrypted, "secret.docx")


def test_text_named_pdf_is_parsed_as_text():
    doc = parse_document(b"Plain notes, not a PDF at all.", "notes.pdf")
    assert doc.content_type == TEXT
    assert doc.sections[0].text == "Plain notes, not a PDF at all."


def test_binary_garbage_named_pdf_mentions_the_mismatch():
    garbage = random.Random(7).randbytes(4096)
    reason = reason_of(garbage, "report.pdf")
    assert reason.startswith("file is named .pdf but is not a PDF")


def test_text_mentioning_the_pdf_header_is_text():
    doc = parse_document(b"Every PDF file starts with %PDF-1.7 and ends with a trailer.", "a.txt")
    assert doc.content_type == TEXT


def test_pdf_with_junk_before_the_header(make_pdf):
    assert parse_document(b"junk\r\n" + make_pdf(["Late header."]), "a.pdf").content_type == PDF


def test_pdf_named_txt_is_parsed_as_pdf(make_pdf):
    assert parse_document(make_pdf(["Hidden PDF."]), "a.txt").content_type == PDF


# --- PDF ---------------------------------------------------------------------------------


def test_truncated_pdf(make_pdf):
    data = make_pdf(["First page text. " * 20, "Second page text. " * 20])
    reason = reason_of(data[: len(data) // 2], "cut.pdf")
    assert reason.startswith("PDF is damaged or truncated (")
    assert reason.endswith("); re-export it and upload again")


def test_pdf_missing_only_its_trailer_is_recovered(make_pdf):
    data = make_pdf(["Recoverable page one.", "Recoverable page two."])
    cut = data[: data.rindex(b"xref")]  # cross-reference table and trailer lost
    doc = parse_document(cut, "cut.pdf")
    assert [section.text for section in doc.sections] == [
        "Recoverable page one.",
        "Recoverable page two.",
    ]


def test_pdf_header_followed_by_garbage():
    reason = reason_of(b"%PDF-1.7\n" + random.Random(3).randbytes(2000), "x.pdf")
    assert reason.startswith("PDF is damaged or truncated")


def test_encrypted_pdf(make_pdf, encrypt_pdf):
    data = encrypt_pdf(make_pdf(["Secret content."]), user_password="s3cret")
    reason = reason_of(data, "secret.pdf")
    assert reason == "PDF is encrypted with a password; upload an unencrypted copy"


def test_pdf_without_text_layer():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    reason = reason_of(bytes(pdf.output()), "scan.pdf")
    assert "no extractable text" in reason
    assert "OCR is not enabled" in reason


def test_pdf_page_limit(make_pdf):
    reason = reason_of(make_pdf(["a", "b", "c"]), "long.pdf", ParseLimits(max_pages=2))
    assert "3 pages" in reason and "limit of 2" in reason


def test_text_limit(make_pdf):
    reason = reason_of(make_pdf(["x" * 300]), "big.pdf", ParseLimits(max_text_chars=100))
    assert "more than 100 characters" in reason
    reason = reason_of(b"y" * 500, "big.txt", ParseLimits(max_text_chars=100))
    assert "more than 100 characters" in reason


# --- DOCX / XLSX containers --------------------------------------------------------------


def test_random_bytes_named_docx():
    reason = reason_of(random.Random(1).randbytes(3000), "contract.docx")
    assert reason.startswith("file is named .docx but is not a DOCX")


def test_truncated_docx():
    data = docx_bytes("Some text " * 200)
    reason = reason_of(data[: len(data) // 2], "cut.docx")
    assert reason.startswith("DOCX file is damaged or truncated")


def test_zip_that_is_not_a_docx():
    reason = reason_of(zip_with({"readme.txt": b"hello"}), "fake.docx")
    assert "is a ZIP archive, not a DOCX file" in reason


def test_docx_with_broken_xml():
    data = zip_with({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document><unclosed"})
    assert "DOCX" in reason_of(data, "broken.docx")


def test_docx_zip_bomb_total_size():
    data = zip_with({"word/document.xml": b"<x/>", "word/media/zeros.bin": 20 * 1024 * 1024})
    assert len(data) < 200 * 1024
    reason = reason_of(data, "bomb.docx", SMALL_ZIP_LIMITS)
    assert "looks like a zip bomb" in reason


def test_xlsx_zip_bomb_compression_ratio():
    data = zip_with({"xl/workbook.xml": b"<x/>", "xl/worksheets/sheet1.xml": 4 * 1024 * 1024})
    reason = reason_of(data, "bomb.xlsx", SMALL_ZIP_LIMITS)  # under the size limit
    assert "looks like a zip bomb" in reason
    assert "expands" in reason


def test_truncated_and_damaged_xlsx(make_xlsx):
    data = make_xlsx({"S": [["a", "b"], [1, 2]] * 50})
    assert "XLSX file is damaged" in reason_of(data[: len(data) // 2], "cut.xlsx")
    broken = zip_with({"xl/workbook.xml": b"<workbook><unclosed"})
    assert "XLSX" in reason_of(broken, "broken.xlsx")


def test_xlsx_without_data(make_xlsx):
    reason = reason_of(make_xlsx({"Vacía": [], "Otra": [[None, None]]}), "empty.xlsx")
    assert reason.startswith("spreadsheet has no data")


def test_xlsx_row_limit(make_xlsx):
    rows = [["n"]] + [[i] for i in range(30)]
    reason = reason_of(make_xlsx({"Big": rows}), "big.xlsx", ParseLimits(max_rows_per_sheet=10))
    assert "more than 10 rows" in reason


def test_csv_row_limit():
    data = b"n\n" + b"".join(b"%d\n" % i for i in range(30))
    assert "more than 10 rows" in reason_of(data, "a.csv", ParseLimits(max_rows_per_sheet=10))


# --- text encodings and binary content ---------------------------------------------------


def test_invalid_utf8_bytes_are_replaced():
    data = "Año de la caña, ".encode() + b"\xff\xfe\xc3(" + " niño.".encode()
    doc = parse_document(data, "bad.txt")
    text = doc.sections[0].text
    assert text.startswith("Año de la caña, ") and text.endswith(" niño.")
    assert "\ufffd" in text


@pytest.mark.parametrize("filename", ["data.txt", "data.csv", "data.md", "data"])
def test_mostly_binary_is_rejected(filename):
    data = b"\x00\x01\x02\x00\x00abc\x00" * 500
    assert reason_of(data, filename) == (
        "file looks binary, not text; upload it in a supported format: PDF, DOCX, HTML, Markdown, TXT, EML, XLSX, CSV"
    )


def test_unknown_binary_extension_is_unsupported():
    assert reason_of(bytes(range(256)) * 8, "tool.exe").startswith("unsupported file type 'exe'")


def test_sparse_nul_bytes_are_stripped():
    data = b"Hello\x00 world, this is a normal line of text.\n" * 20
    doc = parse_document(data, "nul.txt")
    assert "\x00" not in doc.sections[0].text
    assert doc.sections[0].text.startswith("Hello world")


def test_control_characters_are_removed():
    doc = parse_document(b"Title\x07\x1b here\x0c\nnext page", "ctl.txt")
    assert doc.sections[0].text == "Title here\n\nnext page"


# --- e-mail ------------------------------------------------------------------------------

_MALFORMED_EMAILS = [
    # boundary never declared correctly, closing boundary missing
    b'From: a@b.c\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
    b"--XYZ\r\nContent-Type: text/plain\r\n\r\nBody survives.\r\n--XYZ\r\n"
    b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
    # garbage boundary that never appears
    b"From: a@b.c\nSubject: x\nContent-Type: multipart/alternative; boundary=\n\nText only.\n",
    # raw 8-bit UTF-8 and Latin-1 in headers, unknown charset
    "From: José <jose@example.com>\nSubject: Reunión mañana\n".encode()
    + b"To: \xf1o\xf1o@example.com\nContent-Type: text/plain; charset=x-unknown-42\n\n"
    + "Cuerpo con eñe.\n".encode(),
    # broken RFC 2047 words and a bogus date
    b"From: =?utf-8?q?broken?= <>\nSubject: =?bad?B?????==?=\nDate: not a date\n\nHi.\n",
    # nested multiparts without bodies
    b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=a\n\n--a\n"
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b--\n--a--\n",
    # headers only
    b"From: x@y.z\nTo: y@z.x\n\n",
    # message/rfc822 without a payload
    b"From: x@y.z\nSubject: fwd\nContent-Type: multipart/mixed; boundary=q\n\n--q\n"
    b"Content-Type: message/rfc822\n\n--q--\n",
    # absurd nesting depth
    b"From: x@y.z\nSubject: deep\n"
    + b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(200))
    + b"Content-Type: text/plain\n\ndeep body\n",
]


@pytest.mark.parametrize("data", _MALFORMED_EMAILS)
def test_malformed_mime_never_crashes(data):
    result = parse_or_reason(data, "broken.eml")
    if isinstance(result, str):
        assert result == "e-mail has no readable body or attachments"


def test_malformed_mime_keeps_what_is_readable():
    doc = parse_document(_MALFORMED_EMAILS[0], "m.eml")
    assert "Body survives." in doc.sections[0].text
    # the undecodable "PDF" is kept as what its bytes are: text
    assert any(section.heading == "Attachment: a.pdf" for section in doc.sections)
    doc = parse_document(_MALFORMED_EMAILS[1], "m.eml")  # boundary missing
    assert "Text only." in doc.sections[0].text
    doc = parse_document(_MALFORMED_EMAILS[2], "m.eml")
    assert doc.title == "Reunión mañana"
    assert "Cuerpo con eñe." in doc.sections[0].text


def test_email_without_anything_readable():
    assert reason_of(b"From: x@y.z\nTo: y@z.x\n\n", "empty.eml") == ("e-mail has no readable body or attachments")


def test_attachment_depth_limit():
    innermost = EmailMessage()
    innermost["Subject"] = "Level 2"
    innermost.set_content("Level two body.")
    innermost.add_attachment(b"Deep attachment text.", maintype="text", subtype="plain", filename="deep.txt")
    middle = EmailMessage()
    middle["Subject"] = "Level 1"
    middle.set_content("Level one body.")
    middle.add_attachment(innermost)
    top = EmailMessage()
    top["Subject"] = "Top"
    top.set_content("Top body.")
    top.add_attachment(middle)
    data = top.as_bytes()

    full = "\n".join(section.text for section in parse_document(data, "t.eml").sections)
    assert "Deep attachment text." not in full  # depth 3 > default limit of 2
    assert "deep.txt was not read" in full
    assert "Level two body." in full

    shallow = parse_document(data, "t.eml", ParseLimits(max_attachment_depth=1))
    text = "\n".join(section.text for section in shallow.sections)
    assert "Level one body." in text and "Level two body." not in text


# --- hostile file names ------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.txt",
        "..\\..\\x.txt",
        "a\x00b.txt",
        "\x1b[31mred\x07.txt",
        "/dev/zero",
        "C:\\Windows\\system32\\",
        "." * 300,
        "x" * 5000 + ".txt",
    ],
)
def test_hostile_filenames_only_drive_detection(filename):
    doc = parse_document(b"Harmless text.", filename)
    assert doc.sections[0].text == "Harmless text."


def test_hostile_attachment_name_is_sanitised(make_pdf):
    message = EmailMessage()
    message["Subject"] = "names"
    message.set_content("See attachment.")
    message.add_attachment(
        make_pdf(["Attached."]),
        maintype="application",
        subtype="pdf",
        filename="..\\..\\evil\x07\u202ename.pdf",
    )
    doc = parse_document(message.as_bytes(), "m.eml")
    attached = [section for section in doc.sections if section.text == "Attached."]
    assert attached[0].heading == "Attachment: evilname.pdf"


# --- mutation fuzzing --------------------------------------------------------------------


def _mutations(data: bytes, seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            position = rng.randrange(len(mutated))
            mutated[position] = rng.randrange(256)
        if rng.random() < 0.3:
            mutated = mutated[: rng.randrange(1, len(mutated))]
        yield bytes(mutated)


def test_mutated_documents_raise_only_parse_errors(make_pdf, make_xlsx):
    message = EmailMessage()
    message["Subject"] = "fuzz"
    message.set_content("Body.")
    message.add_attachment(b"Att.", maintype="text", subtype="plain", filename="a.txt")
    samples = {
        "a.pdf": make_pdf(["Page one.", "Page two."]),
        "a.docx": docx_bytes(),
        "a.xlsx": make_xlsx({"S": [["h1", "h2"], [1, 2]]}),
        "a.eml": message.as_bytes(),
        "a.html": b"<html><body><h1>T</h1><table><tr><td>x</td></tr></table></body></html>",
    }
    for seed, (name, data) in enumerate(samples.items()):
        for mutated in _mutations(data, seed, 25):
            parse_or_reason(mutated, name)


# --- inputs that would make naive regular expressions backtrack for minutes -----------


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"." * 1_000_000, "dots.txt"),
        (b"A. " * 200_000, "initials.txt"),
        (b" " * 1_000_000 + b"x", "spaces.txt"),
        (b"**a " * 20_000, "bold.md"),
        (b"_a " * 30_000, "underscore.md"),
        (b"![" * 30_000, "images.md"),
        (b"# " + b" " * 100_000 + b"x\n\nbody", "heading.md"),
        (b"a|b\n|" + b" " * 100_000 + b"x-\n", "table.md"),
        (b"<div>" * 30_000 + b"deep" + b"</div>" * 30_000, "deep.html"),
        (b"<ul><li>" * 10_000 + b"deep", "lists.html"),
    ],
)
def test_pathological_inputs_finish_quickly(data, filename):
    result = parse_or_reason(data, filename)
    if not isinstance(result, str):
        assert all(len(chunk.text) <= 1000 for chunk in chunk_sections(result.sections))
