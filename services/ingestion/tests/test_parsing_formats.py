"""Happy paths of every supported format."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage

import docx
import pytest
from sentra_ingestion.domain.parsing import ParsedDocument, Section, parse_document
from sentra_ingestion.domain.parsing.model import CSV, DOCX, EML, HTML, MARKDOWN, PDF, TEXT, XLSX


def texts(doc: ParsedDocument) -> str:
    return "\n".join(section.text for section in doc.sections)


def section_with(doc: ParsedDocument, needle: str) -> Section:
    matches = [section for section in doc.sections if needle in section.text]
    assert matches, f"{needle!r} not found in {doc.sections!r}"
    return matches[0]


# --- PDF -------------------------------------------------------------------------------


def test_pdf_one_section_per_page_with_page_numbers(make_pdf):
    pages = [
        "Introduction to the travel policy.",
        "Hotels must be booked through the agency.",
        "The daily meal allowance is 52 euros in Madrid.",
        "Contact the finance team for questions.",
    ]
    doc = parse_document(make_pdf(pages, title="Travel policy"), "policy.pdf")
    assert doc.content_type == PDF
    assert doc.page_count == 4
    assert doc.title == "Travel policy"
    assert [section.page for section in doc.sections] == [1, 2, 3, 4]
    assert section_with(doc, "52 euros").page == 3


def test_pdf_with_empty_user_password_is_parsed(make_pdf, encrypt_pdf):
    data = encrypt_pdf(make_pdf(["Visible without password."]), user_password="")
    doc = parse_document(data, "locked.pdf")
    assert "Visible without password." in texts(doc)


def test_pdf_detected_by_content_despite_docx_extension(make_pdf):
    doc = parse_document(make_pdf(["Actually a PDF."]), "report.docx")
    assert doc.content_type == PDF
    assert "Actually a PDF." in texts(doc)


# --- DOCX ------------------------------------------------------------------------------


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Employee handbook"
    document.add_paragraph("Welcome to the company.")
    document.add_heading("Vacaciones", level=1)
    document.add_paragraph("Everyone gets 23 working days.")
    document.add_heading("Solicitud", level=2)
    document.add_paragraph("Request days through the HR portal.")
    table = document.add_table(rows=3, cols=2)
    values = [("Tipo", "Días"), ("Boda", "15"), ("Mudanza", "1")]
    for row, row_values in zip(table.rows, values, strict=True):
        for cell, value in zip(row.cells, row_values, strict=True):
            cell.text = value
    document.add_heading("Bajas", level=1)
    document.add_paragraph("Report sick leave on the first day.", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_heading_paths_tables_and_title():
    doc = parse_document(_docx_bytes(), "handbook.docx")
    assert doc.content_type == DOCX
    assert doc.title == "Employee handbook"
    assert section_with(doc, "Welcome").heading == ""
    assert section_with(doc, "23 working days").heading == "Vacaciones"
    solicitud = section_with(doc, "HR portal")
    assert solicitud.heading == "Vacaciones > Solicitud"
    assert "Tipo: Boda; Días: 15" in solicitud.text
    assert "Tipo: Mudanza; Días: 1" in solicitud.text
    bajas = section_with(doc, "sick leave")
    assert bajas.heading == "Bajas"
    assert bajas.text.startswith("- Report")


def test_docx_title_falls_back_to_first_heading():
    document = docx.Document()
    document.add_heading("Guía de gastos", level=1)
    document.add_paragraph("Keep every receipt.")
    out = io.BytesIO()
    document.save(out)
    assert parse_document(out.getvalue(), "g.docx").title == "Guía de gastos"


# --- XLSX ------------------------------------------------------------------------------


def test_xlsx_rows_keep_their_headers(make_xlsx):
    data = make_xlsx(
        {
            "Tarifas": [
                ["Ciudad", "Dieta", "Hotel", "Desde"],
                ["Madrid", 52.0, 85.5, dt.datetime(2026, 1, 1)],
                ["Sevilla", 45, None, dt.date(2026, 3, 1)],
                [None, None, None, None],
                ["Bilbao", 48.25, 90, None],
            ],
            "Notas": [["Nota"], ["Tarifas revisadas cada año"]],
        }
    )
    doc = parse_document(data, "tarifas.xlsx")
    assert doc.content_type == XLSX
    tarifas = section_with(doc, "Madrid")
    assert tarifas.heading == "Sheet: Tarifas"
    lines = tarifas.text.split("\n")
    assert lines[0] == "Ciudad: Madrid; Dieta: 52; Hotel: 85.5; Desde: 2026-01-01"
    assert lines[1] == "Ciudad: Sevilla; Dieta: 45; Desde: 2026-03-01"
    assert lines[2] == "Ciudad: Bilbao; Dieta: 48.25; Hotel: 90"
    assert section_with(doc, "revisadas").heading == "Sheet: Notas"
    assert section_with(doc, "revisadas").text == "Nota: Tarifas revisadas cada año"


def test_xlsx_large_sheet_is_grouped_and_every_row_has_headers(make_xlsx):
    rows = [["Empleado", "Departamento"]] + [[f"Persona {i}", "Ventas"] for i in range(100)]
    doc = parse_document(make_xlsx({"Plantilla": rows}), "plantilla.xlsx")
    assert len(doc.sections) >= 5
    for section in doc.sections:
        assert section.heading == "Sheet: Plantilla"
        assert len(section.text) <= 1000
        for line in section.text.split("\n"):
            assert line.startswith("Empleado: Persona ") and line.endswith("; Departamento: Ventas")
    assert sum(len(section.text.split("\n")) for section in doc.sections) == 100


def test_xlsx_caption_row_above_the_table(make_xlsx):
    rows = [["Tarifas 2026", None], [None, None], ["Ciudad", "Dieta"], ["Madrid", 52]]
    doc = parse_document(make_xlsx({"T": rows}), "t.xlsx")
    assert [section.text for section in doc.sections] == [
        "Tarifas 2026",
        "Ciudad: Madrid; Dieta: 52",
    ]


# --- CSV -------------------------------------------------------------------------------


def test_csv_with_semicolon_delimiter_and_latin1():
    data = "Producto;Precio;Stock\nSillón;120,50;3\nMesa;80;\n".encode("latin-1")
    doc = parse_document(data, "inventario.csv")
    assert doc.content_type == CSV
    assert doc.sections[0].heading == "Table"
    assert doc.sections[0].text.split("\n") == [
        "Producto: Sillón; Precio: 120,50; Stock: 3",
        "Producto: Mesa; Precio: 80",
    ]


def test_csv_with_comma_and_quotes():
    data = b'name,comment\n"Doe, John","said ""hi"""\n'
    doc = parse_document(data, "people.csv")
    assert doc.sections[0].text == 'name: Doe, John; comment: said "hi"'


# --- HTML ------------------------------------------------------------------------------

_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Política de viajes</title>
<style>body { color: red }</style><script>var secret = "script text";</script></head>
<body>
<header><a href="/">Site header link</a></header>
<nav><ul><li>Home</li><li>Navigation entry</li></ul></nav>
<div class="cookie-banner">We use cookies banner</div>
<div id="sidebarLeft">Sidebar promo</div>
<main>
  <h1>Viajes</h1>
  <p>Los viajes se aprueban <b>antes</b> de reservar.</p>
  <h2>Dietas</h2>
  <table>
    <tr><th>Ciudad</th><th>Importe</th></tr>
    <tr><td>Madrid</td><td>52 €</td></tr>
  </table>
  <ul><li>Guardar tickets</li><li>Enviar en 30 días<ul><li>por correo</li></ul></li></ul>
  <h3>Excepciones</h3><p>Con aprobación del director.</p>
  <h2>Hoteles</h2><p>Máximo tres estrellas.<br>Sin minibar.</p>
</main>
<footer>Copyright footer text</footer>
</body></html>"""


def test_html_main_content_headings_and_tables():
    doc = parse_document(_HTML.encode("utf-8"), "viajes.html")
    assert doc.content_type == HTML
    assert doc.title == "Política de viajes"
    body = texts(doc)
    for boilerplate in (
        "Site header",
        "Navigation entry",
        "cookies banner",
        "Sidebar",
        "footer",
        "script text",
        "color: red",
    ):
        assert boilerplate not in body
    assert section_with(doc, "antes de reservar").heading == "Viajes"
    dietas = section_with(doc, "Madrid")
    assert dietas.heading == "Viajes > Dietas"
    assert "Ciudad: Madrid; Importe: 52 €" in dietas.text
    assert "- Guardar tickets" in dietas.text
    assert "  - por correo" in dietas.text
    assert section_with(doc, "director").heading == "Viajes > Dietas > Excepciones"
    hoteles = section_with(doc, "tres estrellas")
    assert hoteles.heading == "Viajes > Hoteles"
    assert "Máximo tres estrellas.\nSin minibar." in hoteles.text


def test_html_detected_by_content_and_meta_charset_honoured():
    html = '<html><head><meta charset="windows-1252"></head><body><p>Año caña €</p></body></html>'
    doc = parse_document(html.encode("cp1252"), "page.txt")
    assert doc.content_type == HTML
    assert texts(doc) == "Año caña €"
    assert doc.title is None


def test_html_without_main_uses_body_and_first_h1_as_title():
    html = b"<html><body><h1>Guide</h1><p>Step one.</p><div class='menu'>Menu</div></body></html>"
    doc = parse_document(html, "guide.htm")
    assert doc.title == "Guide"
    assert texts(doc) == "Step one."


# --- Markdown --------------------------------------------------------------------------

_MARKDOWN = """---
title: Front title
---
# Manual de gastos

Intro with **bold**, _italic_, `code`, a [link](https://example.com/x) and ![logo](logo.png).

## Viajes

Setext-free paragraph
spanning two lines.

### Solicitud

- item *one*
- item two

| Ciudad | Dieta |
|--------|------:|
| Madrid | 52 |
| Sevilla | 45 |

```python
# not a heading
print("hi")
```

## Hoteles
Sin minibar.
"""


def test_markdown_heading_paths_inline_markup_and_tables():
    doc = parse_document(_MARKDOWN.encode(), "manual.md")
    assert doc.content_type == MARKDOWN
    assert doc.title == "Manual de gastos"
    intro = section_with(doc, "Intro")
    assert intro.heading == "Manual de gastos"
    assert intro.text == "Intro with bold, italic, code, a link and ."
    assert section_with(doc, "spanning").heading == "Manual de gastos > Viajes"
    solicitud = section_with(doc, "item one")
    assert solicitud.heading == "Manual de gastos > Viajes > Solicitud"
    assert "- item one\n- item two" in solicitud.text
    assert "Ciudad: Madrid; Dieta: 52\nCiudad: Sevilla; Dieta: 45" in solicitud.text
    assert '# not a heading\nprint("hi")' in solicitud.text
    assert section_with(doc, "minibar").heading == "Manual de gastos > Hoteles"
    assert "title:" not in texts(doc)


def test_markdown_without_h1_uses_front_matter_title():
    doc = parse_document(b"---\ntitle: Notas\n---\nSolo texto.\n", "n.markdown")
    assert doc.title == "Notas"
    assert texts(doc) == "Solo texto."


# --- TXT -------------------------------------------------------------------------------


def test_txt_utf8_paragraphs_kept():
    doc = parse_document("Primer párrafo.\n\n\n\nSegundo párrafo.\r\n".encode(), "a.txt")
    assert doc.content_type == TEXT
    assert doc.sections == [Section("Primer párrafo.\n\nSegundo párrafo.")]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32"])
def test_txt_encodings(encoding):
    text = "El niño pidió una caña en el año 2024. Ñandú, pingüino, acción."
    if encoding in ("utf-16-le", "utf-16-be"):
        data = text.encode(encoding)  # no BOM: detected from the NUL pattern
    else:
        data = text.encode(encoding)
    doc = parse_document(data, "notes.txt")
    assert texts(doc) == text


def test_txt_cyrillic_single_byte_is_not_forced_to_cp1252():
    text = "Привет, это тестовый документ о правилах командировок и отпусков компании. " * 3
    doc = parse_document(text.encode("cp1251"), "ru.txt")
    assert "это тестовый документ" in texts(doc)  # the detector picks a Cyrillic codec


def test_txt_without_extension_is_text():
    assert texts(parse_document(b"just some notes", "README")) == "just some notes"


# --- EML -------------------------------------------------------------------------------


def _email(subject: str = "Informe trimestral") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ana García <ana@example.com>"
    message["To"] = "equipo@example.com"
    message["Date"] = "Tue, 03 Feb 2026 10:00:00 +0100"
    message["Subject"] = subject
    message.set_content("Hola equipo,\n\nadjunto el informe y las tarifas.\n\nAna")
    return message


def test_eml_body_header_summary_and_attachments(make_pdf, make_xlsx):
    message = _email()
    message.add_alternative("<html><body><p>HTML version</p></body></html>", subtype="html")
    message.add_attachment(
        make_pdf(["Resumen del trimestre.", "Ventas crecieron un 12 por ciento."]),
        maintype="application",
        subtype="pdf",
        filename="informe.pdf",
    )
    message.add_attachment(
        make_xlsx({"Tarifas": [["Ciudad", "Dieta"], ["Madrid", 52]]}),
        maintype="application",
        subtype="octet-stream",
        filename="../../tarifas.xlsx",
    )
    doc = parse_document(message.as_bytes(), "mail.eml")
    assert doc.content_type == EML
    assert doc.title == "Informe trimestral"
    first = doc.sections[0]
    assert first.heading == ""
    assert first.text.startswith("From: Ana García <ana@example.com>; To: equipo@example.com; ")
    assert "Subject: Informe trimestral" in first.text
    assert "adjunto el informe" in first.text
    assert "HTML version" not in texts(doc)  # text/plain is preferred
    sales = section_with(doc, "12 por ciento")
    assert (sales.heading, sales.page) == ("Attachment: informe.pdf", 2)
    assert section_with(doc, "Resumen").page == 1
    rates = section_with(doc, "Ciudad: Madrid; Dieta: 52")
    assert rates.heading == "Attachment: tarifas.xlsx > Sheet: Tarifas"


def test_eml_html_only_body_and_detection_by_headers():
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "Solo HTML"
    message.set_content(
        "<html><body><nav>Menu</nav><h1>Aviso</h1><p>Cambio de oficina.</p></body></html>",
        subtype="html",
    )
    doc = parse_document(message.as_bytes(), "message.txt")
    assert doc.content_type == EML
    assert "Cambio de oficina." in texts(doc)
    assert "Menu" not in texts(doc)
    assert doc.sections[0].text.startswith("From: a@example.com; Subject: Solo HTML")


def test_eml_nested_message_attachment():
    inner = _email("Reenviado")
    inner.add_attachment(b"Texto del adjunto interior.", maintype="text", subtype="plain", filename="interior.txt")
    outer = _email("Exterior")
    outer.add_attachment(inner)
    doc = parse_document(outer.as_bytes(), "outer.eml")
    nested = section_with(doc, "Subject: Reenviado")
    assert nested.heading.startswith("Attachment: ")
    deep = section_with(doc, "Texto del adjunto interior.")
    assert deep.heading.endswith("> Attachment: interior.txt")


def test_eml_unreadable_attachment_is_noted_not_fatal():
    message = _email()
    message.add_attachment(
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        maintype="application",
        subtype="octet-stream",
        filename="foto.png",
    )
    message.add_attachment(b"%PDF-1.4 truncated", maintype="application", subtype="pdf", filename="roto.pdf")
    doc = parse_document(message.as_bytes(), "m.eml")
    assert "adjunto el informe" in doc.sections[0].text
    png = section_with(doc, "foto.png could not be read")
    assert png.heading == "Attachment: foto.png"
    assert "unsupported file type" in png.text
    assert "damaged" in section_with(doc, "roto.pdf could not be read").text


def test_markdown_escapes_and_code_spans_survive():
    doc = parse_document(b"Price \\*not emphasis\\*, snake_case_name, 2 * 3, ``a`b``.\n", "e.md")
    assert doc.sections[0].text == "Price *not emphasis*, snake_case_name, 2 * 3, a`b."
