# ruff: noqa: E501
"""Regenerate the example corpus of the fictional company Cierzo Logística S.L.

    python examples/build_corpus.py            # writes examples/corpus/
    python examples/build_corpus.py --out DIR  # writes somewhere else

Every company, person, address, figure and document in this corpus is invented
for Sentra's README tour and integration tests. Any resemblance to real
organisations or people is coincidental.

The content lives in examples/sources/ as text and JSON; the script renders it to PDF (fpdf2),
DOCX (python-docx), XLSX (openpyxl), EML (stdlib email), HTML, Markdown, TXT
and CSV. Dates, metadata, ZIP timestamps and MIME boundaries are fixed, so two
runs with the same library versions produce byte-identical files.

Needs: fpdf2, python-docx, openpyxl (pypdf is only needed by check_corpus.py).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import sys
import zipfile
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt, RGBColor
from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "corpus"

CET = dt.timezone(dt.timedelta(hours=1))
ZIP_DATE = (2026, 1, 1, 0, 0, 0)

COMPANY = "Cierzo Logística S.L."
UK_COMPANY = "Cierzo Logistics UK Ltd"


def when(y: int, m: int, d: int, hh: int = 9, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=CET)


# ---------------------------------------------------------------------------
# A tiny line-based markup shared by the PDF and DOCX renderers.
#
#   # / ## / ###  heading          - item     bullet
#   1. item       numbered item    > text     small note (document reference)
#   | a | b |     table row (first row of a run of rows is the header)
#   %widths 30 70 column widths (relative) for the next table
#   ---page---    page break       anything else: one paragraph
#   **bold** inside paragraphs and list items.
# ---------------------------------------------------------------------------


def parse(text: str) -> list[list]:
    blocks: list[list] = []
    widths = None
    prev = None
    for raw in text.strip("\n").splitlines():
        line = raw.strip()
        if not line:
            prev = None
            continue
        if "--" in line.replace("---page---", "") or "__" in line:
            raise ValueError(f"'--' and '__' are markup in fpdf2, avoid them: {line!r}")
        if line == "---page---":
            blocks.append(["page"])
        elif m := re.match(r"^(#{1,3}) (.*)$", line):
            blocks.append([f"h{len(m.group(1))}", m.group(2)])
        elif line.startswith("> "):
            blocks.append(["note", line[2:]])
        elif line.startswith("- "):
            blocks.append(["li", line[2:]])
        elif m := re.match(r"^(\d+)\. (.*)$", line):
            blocks.append(["ol", m.group(1), m.group(2)])
        elif line.startswith("%widths"):
            widths = [int(w) for w in line.split()[1:]]
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if prev == "table":
                blocks[-1][2].append(cells)
            else:
                blocks.append(["table", widths, [cells]])
                widths = None
        else:
            blocks.append(["p", line])
        prev = blocks[-1][0] if blocks else None
    return blocks


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------


class CorpusPDF(FPDF):
    def __init__(self, *, header_text: str, footer_text: str, lang: str) -> None:
        super().__init__(format="A4")
        # Core font + cp1252: no font file needed, accents and € extract correctly.
        self.core_fonts_encoding = "windows-1252"
        self.header_text = header_text
        self.footer_text = footer_text
        self.page_word = ("Página", "de") if lang.startswith("es") else ("Page", "of")
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=20)

    def header(self) -> None:
        self.set_font("helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.header_text, align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(6)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        word, of = self.page_word
        self.cell(0, 5, f"{self.footer_text} · {word} {self.page_no()} {of} {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def pdf_bytes(
    text: str,
    *,
    title: str,
    author: str,
    subject: str,
    lang: str,
    created: dt.datetime,
    header_text: str,
    footer_text: str,
    pages: int | None = None,
) -> bytes:
    """Render markup to PDF. Each ---page--- starts a page; content must never spill
    onto an extra page (checked), so the page of every fact is known exactly."""
    pdf = CorpusPDF(header_text=header_text, footer_text=footer_text, lang=lang)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_subject(subject)
    pdf.set_creator("Cierzo Logística · gestor documental")
    pdf.set_lang(lang)
    pdf.set_creation_date(created)
    pdf.add_page()
    expected = 1
    lh = 5.2
    for block in parse(text):
        kind = block[0]
        if kind == "page":
            pdf.add_page()
            expected += 1
        elif kind in ("h1", "h2", "h3"):
            size = {"h1": 16, "h2": 12, "h3": 10.5}[kind]
            pdf.ln(3 if kind != "h1" else 0)
            pdf.set_font("helvetica", "B", size)
            pdf.multi_cell(0, size * 0.5, block[1], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif kind == "note":
            pdf.set_font("helvetica", "I", 8.5)
            pdf.set_text_color(80, 80, 80)
            pdf.multi_cell(0, 4.4, block[1], new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
            pdf.ln(2)
        elif kind == "p":
            pdf.set_font("helvetica", "", 10)
            pdf.multi_cell(0, lh, block[1], markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.8)
        elif kind in ("li", "ol"):
            pdf.set_font("helvetica", "", 10)
            mark = "•" if kind == "li" else f"{block[1]}."
            body = block[-1]
            pdf.set_x(pdf.l_margin + 3)
            pdf.cell(6, lh, mark)
            pdf.multi_cell(pdf.epw - 9, lh, body, markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.8)
        elif kind == "table":
            widths, rows = block[1], block[2]
            pdf.set_font("helvetica", "", 8.8)
            pdf.ln(1)
            with pdf.table(
                col_widths=tuple(widths) if widths else None,
                text_align="LEFT",
                line_height=4.6,
                headings_style=FontFace(emphasis="BOLD", fill_color=(222, 229, 240)),
            ) as table:
                for row in rows:
                    r = table.row()
                    for cell in row:
                        r.cell(cell)
            pdf.ln(3)
        if pdf.page_no() != expected:
            raise RuntimeError(f"{title}: content of page {expected} overflows; split it")
    if pages is not None and expected != pages:
        raise RuntimeError(f"{title}: {expected} pages, expected {pages}")
    return bytes(pdf.output())


# ---------------------------------------------------------------------------
# DOCX / XLSX (both are ZIP packages: normalise timestamps for reproducibility)
# ---------------------------------------------------------------------------


def repro_zip(data: bytes, stamp: dt.datetime) -> bytes:
    iso = stamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                for tag in ("dcterms:created", "dcterms:modified"):
                    text = re.sub(rf"(<{tag}[^>]*>)[^<]*(</{tag}>)", rf"\g<1>{iso}\g<2>", text)
                content = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, content)
    return out.getvalue()


def _add_runs(paragraph, text: str) -> None:
    for i, piece in enumerate(re.split(r"\*\*", text)):
        if piece:
            paragraph.add_run(piece).bold = i % 2 == 1


def docx_bytes(
    text: str,
    *,
    title: str,
    author: str,
    subject: str,
    lang: str,
    created: dt.datetime,
    header_text: str,
    footer_text: str,
) -> bytes:
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    section = doc.sections[0]
    hp = section.header.paragraphs[0]
    hp.text = header_text
    hp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    fp = section.footer.paragraphs[0]
    fp.text = footer_text
    fp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for p in (hp, fp):
        for run in p.runs:
            run.font.size = Pt(8)
            run.font.color.rgb = RGBColor(0x6E, 0x6E, 0x6E)
    for block in parse(text):
        kind = block[0]
        if kind == "page":
            doc.add_page_break()
        elif kind in ("h1", "h2", "h3"):
            doc.add_heading(block[1], level=int(kind[1]))
        elif kind == "note":
            p = doc.add_paragraph()
            run = p.add_run(block[1])
            run.italic = True
            run.font.size = Pt(8.5)
        elif kind == "p":
            _add_runs(doc.add_paragraph(), block[1])
        elif kind == "li":
            _add_runs(doc.add_paragraph(style="List Bullet"), block[1])
        elif kind == "ol":
            _add_runs(doc.add_paragraph(style="List Number"), block[2])
        elif kind == "table":
            rows = block[2]
            table = doc.add_table(rows=0, cols=len(rows[0]))
            table.style = "Table Grid"
            for ri, row in enumerate(rows):
                cells = table.add_row().cells
                for ci, value in enumerate(row):
                    cells[ci].text = ""
                    run = cells[ci].paragraphs[0].add_run(value)
                    run.bold = ri == 0
                    run.font.size = Pt(9.5)
            doc.add_paragraph()
    cp = doc.core_properties
    cp.title = title
    cp.author = author
    cp.subject = subject
    cp.language = lang
    cp.last_modified_by = author
    cp.revision = 1
    cp.created = created.astimezone(dt.UTC).replace(tzinfo=None)
    cp.modified = created.astimezone(dt.UTC).replace(tzinfo=None)
    cp.comments = "Documento ficticio generado para el corpus de ejemplo de Sentra."
    buf = io.BytesIO()
    doc.save(buf)
    return repro_zip(buf.getvalue(), created)


HEADER_FILL = PatternFill("solid", fgColor="DEE5F0")


def xlsx_bytes(
    sheets: list[dict],
    *,
    title: str,
    author: str,
    subject: str,
    created: dt.datetime,
) -> bytes:
    """sheets: [{"name", "header", "rows", "widths", "formats": {col_letter: fmt}}]"""
    wb = Workbook()
    for i, spec in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = spec["name"]
        ws.append(spec["header"])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in spec["rows"]:
            ws.append(list(row))
        ws.freeze_panes = "A2"
        for col, width in zip("ABCDEFGHIJ", spec.get("widths", []), strict=False):
            ws.column_dimensions[col].width = width
        for col, fmt in spec.get("formats", {}).items():
            for cell in ws[col][1:]:
                if isinstance(cell.value, (int, float)):
                    cell.number_format = fmt
    naive = created.astimezone(dt.UTC).replace(tzinfo=None)
    wb.properties.title = title
    wb.properties.creator = author
    wb.properties.lastModifiedBy = author
    wb.properties.subject = subject
    wb.properties.created = naive
    wb.properties.modified = naive
    buf = io.BytesIO()
    wb.save(buf)
    return repro_zip(buf.getvalue(), created)


# ---------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------


def eml_bytes(
    *,
    slug: str,
    sender: str,
    to: str,
    subject: str,
    date: dt.datetime,
    message_id: str,
    text: str,
    cc: str | None = None,
    html: str | None = None,
    attachments: tuple[tuple[str, str, str, bytes], ...] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["X-Mailer"] = "Cierzo Webmail 4.2"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, maintype, subtype, data in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for i, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_cierzo_{slug}_{i}")
    return msg.as_bytes(policy=policy.SMTP)


XLSX_MIME = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ===========================================================================
# CONTENT: the documents' texts and tables live in examples/sources/<department>/ (the
# line markup above, Markdown, HTML, plain text, or JSON rows); this script renders them.
# ===========================================================================

SOURCES = HERE / "sources"


def _text(name: str) -> str:
    return (SOURCES / name).read_text(encoding="utf-8")


def _json(name: str):
    return json.loads((SOURCES / name).read_text(encoding="utf-8"))


def _rows(name: str) -> list[tuple]:
    return [tuple(row) for row in _json(name)]


VIDEOVIGILANCIA = _text("legal/videovigilancia.txt")
CONTRATO_HORTALIA = _text("legal/contrato_hortalia.txt")
WHISTLEBLOWING = _text("legal/whistleblowing.txt")
VACACIONES = _text("rrhh/vacaciones.txt")
GUIA_IT_MD = _text("rrhh/guia_it.md")
INTRANET_HTML = _text("rrhh/intranet.html")
ACTA_TXT = _text("rrhh/acta.txt")
GASTOS_VIAJE = _text("finanzas/gastos_viaje.txt")
DIETAS_ROWS = _rows("finanzas/dietas.json")
INFORME_2025 = _text("finanzas/informe_2025.txt")
INCIDENCIA_BODY = _text("operaciones/incidencia.txt")
INFORME_TECNICO = _text("operaciones/informe_tecnico.txt")
PRESUPUESTO_ROWS = _rows("operaciones/presupuesto.json")
HS_HANDBOOK = _text("operaciones/hs_handbook.txt")
RECEPCION_MD = _text("operaciones/recepcion.md")
TARIFAS_HEADER = _json("ventas/tarifas_header.json")
TARIFAS_ROWS = _rows("ventas/tarifas.json")
# One paragraph is a prompt injection, on purpose: the security tests ask about it.
MONCAYO_PARAS = _json("ventas/moncayo_paragraphs.json")
SLA_TXT = _text("ventas/sla.txt")
BANDAS_ROWS = _rows("ventas/bandas.json")
BANDAS_UK_ROWS = _rows("ventas/bandas_uk.json")


def _pdf(text: str, **kw) -> bytes:
    return pdf_bytes(text, **kw)


def build_all() -> dict[str, bytes]:
    """Return {relative path under corpus/: file bytes}."""
    files: dict[str, bytes] = {}

    # ---- legal ----------------------------------------------------------
    files["legal/politica_videovigilancia.pdf"] = _pdf(
        VIDEOVIGILANCIA,
        title="Política de videovigilancia en los centros de trabajo",
        author="Asesoría Jurídica · Cierzo Logística S.L.",
        subject="LEG-POL-007 v3.1",
        lang="es-ES",
        created=when(2026, 1, 12, 10, 30),
        header_text=f"{COMPANY} · Política de videovigilancia",
        footer_text="LEG-POL-007 v3.1 · Uso interno",
        pages=5,
    )
    files["legal/contrato_marco_transporte_hortalia.docx"] = docx_bytes(
        CONTRATO_HORTALIA,
        title="Contrato marco de transporte refrigerado · Hortalia Export S.A.",
        author="Jorge Almazán Ruiz",
        subject="Contrato marco de transporte",
        lang="es-ES",
        created=when(2026, 2, 16, 12, 0),
        header_text=f"{COMPANY} · Contrato marco CM-2026-004 · Confidencial",
        footer_text="Contrato marco Cierzo Logística S.L. / Hortalia Export S.A.",
    )
    files["legal/uk_whistleblowing_policy.pdf"] = _pdf(
        WHISTLEBLOWING,
        title="Speak Up (Whistleblowing) Policy",
        author="Cierzo Logistics UK Ltd",
        subject="UK-LEG-04 v2.0",
        lang="en-GB",
        created=when(2026, 1, 20, 15, 0),
        header_text=f"{UK_COMPANY} · Speak Up Policy",
        footer_text="UK-LEG-04 v2.0 · Internal",
        pages=3,
    )

    # ---- rrhh -----------------------------------------------------------
    files["rrhh/politica_vacaciones_permisos.pdf"] = _pdf(
        VACACIONES,
        title="Política de vacaciones, permisos y licencias",
        author="Dirección de Personas · Cierzo Logística S.L.",
        subject="RRHH-POL-002 v5.0",
        lang="es-ES",
        created=when(2025, 12, 18, 11, 0),
        header_text=f"{COMPANY} · Vacaciones, permisos y licencias",
        footer_text="RRHH-POL-002 v5.0 · Uso interno",
        pages=3,
    )
    files["rrhh/guia_incorporacion_it.md"] = GUIA_IT_MD.encode("utf-8")
    files["rrhh/intranet_beneficios_sociales.html"] = INTRANET_HTML.encode("utf-8")
    # Minutes saved by an old Windows editor: Windows-1252 with CRLF line endings.
    files["rrhh/acta_comite_empresa_2026_02.txt"] = ACTA_TXT.replace("\n", "\r\n").encode("cp1252")
    files["rrhh/bandas_salariales_2026_confidencial.xlsx"] = xlsx_bytes(
        [
            {
                "name": "Bandas España 2026",
                "header": [
                    "Nivel",
                    "Puesto tipo",
                    "Mínimo (€ brutos/año)",
                    "Punto medio (€ brutos/año)",
                    "Máximo (€ brutos/año)",
                ],
                "rows": BANDAS_ROWS,
                "widths": [8, 58, 20, 24, 20],
                "formats": {c: "#,##0" for c in "CDE"},
            },
            {
                "name": "Bands UK 2026 (GBP)",
                "header": [
                    "Band",
                    "Role",
                    "Minimum (GBP/year)",
                    "Midpoint (GBP/year)",
                    "Maximum (GBP/year)",
                ],
                "rows": BANDAS_UK_ROWS,
                "widths": [8, 36, 20, 20, 20],
                "formats": {c: "#,##0" for c in "CDE"},
            },
            {
                "name": "Notas",
                "header": ["Nota"],
                "rows": [
                    (
                        "CONFIDENCIAL. Difusión restringida a la Dirección General y a la Dirección de Personas.",
                    ),
                    (
                        "Importes en euros brutos anuales para jornada completa, sin complementos de turno, nocturnidad ni variable.",
                    ),
                    (
                        "La revisión salarial general pactada para 2026 ya está incorporada a estas bandas.",
                    ),
                    (
                        "Las bandas del Reino Unido las fija Cierzo Logistics UK Ltd y se expresan en libras esterlinas.",
                    ),
                    ("Responsable del documento: Pilar Sancho Royo, Directora de Personas.",),
                ],
                "widths": [110],
            },
        ],
        title="Bandas salariales 2026 (CONFIDENCIAL)",
        author="Pilar Sancho Royo",
        subject="Confidencial · Dirección de Personas",
        created=when(2026, 1, 30, 16, 0),
    )

    # ---- finanzas -------------------------------------------------------
    files["finanzas/dietas_y_kilometraje_2026.xlsx"] = xlsx_bytes(
        [
            {
                "name": "Dietas 2026",
                "header": [
                    "Destino",
                    "País",
                    "Dieta completa (€/día)",
                    "Media dieta (€/día)",
                    "Alojamiento máximo (€/noche)",
                ],
                "rows": DIETAS_ROWS,
                "widths": [26, 16, 22, 20, 28],
                "formats": {c: '#,##0 "€"' for c in "CDE"},
            },
            {
                "name": "Kilometraje 2026",
                "header": ["Concepto", "Importe", "Unidad", "Observaciones"],
                "rows": [
                    (
                        "Vehículo propio: turismo",
                        0.26,
                        "€/km",
                        "Ruta más corta según planificador; indicar origen y destino",
                    ),
                    (
                        "Vehículo propio: motocicleta",
                        0.19,
                        "€/km",
                        "Solo trayectos dentro de la provincia",
                    ),
                    ("Peajes y aparcamiento", None, "Importe real", "Con justificante"),
                ],
                "widths": [30, 10, 14, 60],
                "formats": {"B": "0.00"},
            },
            {
                "name": "Notas",
                "header": ["Nota"],
                "rows": [
                    (
                        "Tabla vigente del 1 de enero al 31 de diciembre de 2026. Aprobada por la Dirección Financiera.",
                    ),
                    (
                        "La dieta completa se aplica con pernoctación; la media dieta, sin pernoctación y comiendo fuera del municipio habitual.",
                    ),
                    (
                        "El alojamiento se reserva a través de la agencia concertada; el tope se refiere a habitación individual con desayuno.",
                    ),
                    (
                        "Ver la Política de viajes y gastos de empresa (FIN-POL-003) para el procedimiento de liquidación.",
                    ),
                ],
                "widths": [110],
            },
        ],
        title="Dietas y kilometraje 2026",
        author="Dirección Financiera · Cierzo Logística S.L.",
        subject="Importes de dietas, alojamiento y kilometraje 2026",
        created=when(2025, 12, 22, 9, 15),
    )
    files["finanzas/politica_gastos_viaje.docx"] = docx_bytes(
        GASTOS_VIAJE,
        title="Política de viajes y gastos de empresa",
        author="Iñaki Beltrán Otxoa",
        subject="FIN-POL-003 v2.2",
        lang="es-ES",
        created=when(2026, 1, 9, 13, 0),
        header_text=f"{COMPANY} · Política de viajes y gastos",
        footer_text="FIN-POL-003 v2.2 · Uso interno",
    )
    files["finanzas/informe_resultados_2025.pdf"] = _pdf(
        INFORME_2025,
        title="Informe de resultados del ejercicio 2025",
        author="Dirección Financiera · Cierzo Logística S.L.",
        subject="Resultados 2025 (provisionales)",
        lang="es-ES",
        created=when(2026, 2, 24, 18, 0),
        header_text=f"{COMPANY} · Informe de resultados 2025",
        footer_text="Confidencial · Consejo de Administración",
        pages=3,
    )

    # ---- operaciones ----------------------------------------------------
    informe_tecnico = _pdf(
        INFORME_TECNICO,
        title="Informe técnico OT-2026-0213",
        author="Electromecánica Huerva S.L.",
        subject="Sustitución de grupo electrógeno",
        lang="es-ES",
        created=when(2026, 2, 5, 15, 10),
        header_text="Electromecánica Huerva S.L. · Informe técnico",
        footer_text="OT-2026-0213",
        pages=1,
    )
    presupuesto = xlsx_bytes(
        [
            {
                "name": "Presupuesto",
                "header": ["Concepto", "Cantidad", "Precio unitario (€)", "Importe (€)"],
                "rows": PRESUPUESTO_ROWS,
                "widths": [64, 10, 18, 16],
                "formats": {"C": "#,##0.00", "D": "#,##0.00"},
            }
        ],
        title="Presupuesto OT-2026-0213",
        author="Electromecánica Huerva S.L.",
        subject="Sustitución del grupo electrógeno · Cierzo Logística Zaragoza PLAZA",
        created=when(2026, 2, 4, 8, 30),
    )
    files["operaciones/incidencia_almacen_zaragoza.eml"] = eml_bytes(
        slug="incidencia",
        sender="Sergio Bielsa Aznar <sergio.bielsa@cierzologistica.es>",
        to="Rubén Lacasa Mur <ruben.lacasa@cierzologistica.es>",
        cc=(
            "Iñaki Beltrán Otxoa <inaki.beltran@cierzologistica.es>, "
            "Mantenimiento Zaragoza <mantenimiento.zgz@cierzologistica.es>"
        ),
        subject="Incidencia: corte eléctrico en el almacén de Zaragoza PLAZA y sustitución del grupo electrógeno",
        date=when(2026, 2, 5, 17, 42, 10),
        message_id="<20260205174210.7f3a@cierzologistica.es>",
        text=INCIDENCIA_BODY,
        attachments=(
            ("informe_tecnico_OT-2026-0213.pdf", "application", "pdf", informe_tecnico),
            ("presupuesto_OT-2026-0213.xlsx", *XLSX_MIME, presupuesto),
        ),
    )
    files["operaciones/uk_health_and_safety_handbook.docx"] = docx_bytes(
        HS_HANDBOOK,
        title="Health and Safety Handbook: Daventry Distribution Centre",
        author="Daniel Okafor",
        subject="Health and safety rules, Daventry site",
        lang="en-GB",
        created=when(2026, 1, 14, 11, 0),
        header_text=f"{UK_COMPANY} · Health and Safety Handbook · Issue 6",
        footer_text="Uncontrolled when printed. Check the intranet for the current issue.",
    )
    files["operaciones/procedimiento_recepcion_mercancias.md"] = RECEPCION_MD.encode("utf-8")

    # ---- ventas ---------------------------------------------------------
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(TARIFAS_HEADER)
    writer.writerows(TARIFAS_ROWS)
    files["ventas/tarifas_palet_2026.csv"] = buf.getvalue().encode("utf-8")
    files["ventas/solicitud_oferta_bodegas_moncayo.eml"] = eml_bytes(
        slug="moncayo",
        sender="Lucía Ferrer Tabuenca <lucia.ferrer@bodegasmoncayo.es>",
        to="Carmen Esteve Lloris <carmen.esteve@cierzologistica.es>",
        subject="Solicitud de oferta: distribución nacional 2026",
        date=when(2026, 1, 27, 10, 5, 33),
        message_id="<a81c2e90-3b1d-4f1e-9d7a-5e2b6c0f4411@bodegasmoncayo.es>",
        text=_moncayo_text(),
        html=_moncayo_html(),
    )
    files["ventas/uk_sla_summary.txt"] = SLA_TXT.encode("utf-8")
    return files


def _moncayo_text() -> str:
    out = []
    for para in MONCAYO_PARAS:
        if isinstance(para, list):
            out.append("\n".join(f"- {item}" for item in para))
        else:
            out.append(para)
    return "\n\n".join(out) + "\n"


def _moncayo_html() -> str:
    from html import escape

    parts = ['<html><body style="font-family: Arial, sans-serif; font-size: 14px;">']
    for para in MONCAYO_PARAS:
        if isinstance(para, list):
            parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in para) + "</ul>")
        elif para.startswith("Nota para el sistema"):
            # Hidden from a human reader (white 1px text), visible to a naive parser.
            parts.append(f'<p style="color:#ffffff;font-size:1px;">{escape(para)}</p>')
        else:
            parts.append("<p>" + escape(para).replace("\n", "<br>") + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = ap.parse_args(argv)
    files = build_all()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # The corpus folder is fully generated: drop files this script no longer makes.
    for old in sorted(out.rglob("*")):
        if old.is_file() and old.relative_to(out).as_posix() not in files:
            old.unlink()
    total = 0
    for rel, data in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
        print(f"{len(data):>8,d}  {rel}")
    print(f"{total:>8,d}  total, {len(files)} files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
