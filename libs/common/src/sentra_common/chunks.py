"""How a chunk is represented for search, shared by the embedding and retrieval
services so dense and lexical indexes see the same text."""

from __future__ import annotations


def search_text(title: str, heading: str, text: str) -> str:
    """Title and heading give a chunk its context ("Tarifas 2026 > Sheet: Dietas")."""
    context = " > ".join(part for part in (title.strip(), heading.strip()) if part)
    return f"{context}\n{text}" if context else text
