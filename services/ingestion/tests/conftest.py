"""Fixtures for the ingestion tests: builders that generate documents in memory
(no binary fixtures are committed)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest


def _pdf(pages: list[str], title: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def _encrypt_pdf(data: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    """make_pdf(["page 1 text", "page 2 text"], title=None) -> PDF bytes."""
    return _pdf


@pytest.fixture
def encrypt_pdf() -> Callable[..., bytes]:
    """encrypt_pdf(pdf_bytes, user_password, owner_password="owner") -> PDF bytes."""
    return _encrypt_pdf


@pytest.fixture
def make_xlsx() -> Callable[[dict[str, list[list[object]]]], bytes]:
    """make_xlsx({"Sheet": [[header...], [row...]]}) -> XLSX bytes."""
    return _xlsx
