"""Hostile and broken documents, generated in memory."""

from __future__ import annotations

import io
import zipfile


def text_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(text_pdf(["Confidential board minutes."]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def textless_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def zip_bomb(kind: str, uncompressed_mb: int = 300) -> bytes:
    """A DOCX/XLSX-shaped zip whose one entry inflates to hundreds of MB of zeros."""
    inner = "word/document.xml" if kind == "docx" else "xl/worksheets/sheet1.xml"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        if kind == "xlsx":
            zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open(inner, "w", force_zip64=True) as fh:
            block = b"\0" * (1024 * 1024)
            for _ in range(uncompressed_mb):
                fh.write(block)
    return buf.getvalue()


def malformed_mime() -> bytes:
    return (
        b"From: =?utf-8?q?Jos=C3=A9?= <jose@example.invalid>\r\n"
        b"Subject: Incidencia \xff\xfe sin cerrar\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
        b"--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"El montacargas 3 del muelle norte pierde aceite hidr\xc3\xa1ulico.\r\n"
        b"--BOUNDARY\r\nContent-Type: application/pdf; name=\"roto.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
        # no closing boundary
    )


def mime_without_its_boundary() -> bytes:
    return (
        b"From: ana@example.invalid\r\nSubject: Factura marzo\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="NUNCA"\r\n\r\n'
        b"Content-Type: application/pdf\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0Zp\r\n"
    )


def meaningless_csv(columns: int = 20000) -> bytes:
    """One line of thousands of meaningless columns."""
    import random

    rnd = random.Random(5)
    return ",".join("".join(rnd.choice("0123456789abcdef") for _ in range(rnd.randint(3, 12)))
                    for _ in range(columns)).encode()


def cases() -> list[tuple[str, str, bytes, str]]:
    """(id, filename, content, expectation): expectation is INDEXED or a substring of
    the FAILED reason."""
    six_mb = b"a" * (6 * 1024 * 1024)
    return [
        ("truncated-pdf", "informe.pdf", text_pdf(["Informe anual " * 50] * 3)[:600], "PDF"),
        ("encrypted-pdf", "actas.pdf", encrypted_pdf("s3cret"), "encrypted"),
        ("empty-password-pdf", "abierto.pdf", encrypted_pdf(""), "INDEXED"),
        ("textless-pdf", "escaneo.pdf", textless_pdf(), "no extractable text"),
        ("zero-bytes", "vacio.txt", b"", "empty"),
        ("pdf-named-docx", "informe.docx", text_pdf(["Plan de continuidad del negocio 2026."]), "INDEXED"),
        ("random-named-docx", "contrato.docx", bytes(range(256)) * 40, "DOCX"),
        ("truncated-docx", "acta.docx", zip_bomb("docx", 1)[:300], "DOCX"),
        ("zip-bomb-docx", "bomba.docx", zip_bomb("docx"), "zip bomb"),
        ("zip-bomb-xlsx", "bomba.xlsx", zip_bomb("xlsx"), "zip bomb"),
        ("invalid-utf8", "notas.txt", b"Reuni\xf3n del comit\xe9 \xff\xfe de seguridad: 14 asistentes.", "INDEXED"),
        ("nul-binary", "datos.txt", b"\0\x01\x02\0\0\0" * 2000, "binary"),
        ("nul-sparse", "acta.txt", b"Acta de la reuni\xc3\xb3n\0 de presupuesto 2026 aprobada.", "INDEXED"),
        ("malformed-mime", "incidencia.eml", malformed_mime(), "INDEXED"),
        ("boundary-never-appears", "factura.eml", mime_without_its_boundary(), "boundary never appears"),
        ("meaningless-csv", "columnas.csv", meaningless_csv(), "no words of a known language"),
        ("one-token", "relleno.txt", b"lorem " * 5000, "one token"),
        ("over-limit", "enorme.txt", six_mb, "upload limit"),
        ("path-traversal", "../../../etc/passwd.txt", b"root:x:0:0:nota inofensiva sobre cuentas", "INDEXED"),
    ]
