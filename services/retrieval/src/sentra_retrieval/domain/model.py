"""Types shared by the retrieval domain and the vector-store adapters."""

from __future__ import annotations

from dataclasses import dataclass

from sentra_retrieval.domain.lexical import SparseVec

# Stored in the "acl" payload of a point whose access list is empty: visible to the whole
# department. Every scope matches it, so the same filter works in both engines.
PUBLIC_ACL = "*"


@dataclass(frozen=True)
class IndexedPoint:
    """One chunk to store; ``chunk_id`` (a UUID string) is the point id."""

    chunk_id: str
    document_id: str
    version: int
    chunk_index: int
    text: str
    page: int
    heading: str
    title: str
    department: str
    access_list: tuple[str, ...]  # empty = whole department
    source_uri: str
    dense: list[float]
    sparse: SparseVec


@dataclass(frozen=True)
class ScopeFilter:
    """Who may see what. Applied inside the vector query, never after it.

    A point matches when its department is one of ``departments`` (any department when
    ``all_departments``), its access list is empty or shares a principal with
    ``principals``, and, if ``document_ids`` is given, its document is one of them.
    """

    departments: tuple[str, ...]  # empty tuple = nothing matches
    principals: tuple[str, ...] = ()  # e.g. ("user:alice", "group:legal-partners")
    document_ids: tuple[str, ...] = ()  # optional narrowing
    all_departments: bool = False  # platform admin: no department restriction

    @property
    def matches_nothing(self) -> bool:
        return not self.all_departments and not self.departments

    @property
    def acl_values(self) -> list[str]:
        """Values of which a point's "acl" payload must contain at least one."""
        return [PUBLIC_ACL, *dict.fromkeys(self.principals)]


@dataclass(frozen=True)
class StoredHit:
    """A chunk found by a search, with its score."""

    chunk_id: str
    document_id: str
    version: int
    chunk_index: int
    text: str
    page: int
    heading: str
    title: str
    department: str
    source_uri: str
    score: float
