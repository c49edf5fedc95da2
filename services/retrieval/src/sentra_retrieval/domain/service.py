"""Search and chunk listing with the caller's scope applied inside the vector query, and
the pipeline stage chunks.embedded → indexed (idempotent, version-aware)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sentra_common.access import validate_department
from sentra_common.chunks import search_text
from sentra_common.errors import InvalidArgument, PermissionDenied
from sentra_common.principal import Principal

from sentra_retrieval.domain.lexical import SparseEncoder, detect_language, tokenize
from sentra_retrieval.domain.model import IndexedPoint, ScopeFilter, StoredHit
from sentra_retrieval.domain.ports import QueryEmbedder, VectorStore
from sentra_retrieval.domain.search import SearchMode, hybrid_search

logger = logging.getLogger(__name__)


class ChunkFields(Protocol):
    chunk_id: str
    document_id: str
    version: int
    chunk_index: int
    text: str
    page: int
    heading: str
    title: str
    department: str
    access_list: Sequence[str]
    source_uri: str


class EmbeddedChunk(Protocol):
    """A chunk and its dense vector, as the pipeline and the IndexChunks RPC bring them."""

    chunk: ChunkFields
    dense: Sequence[float]


@dataclass(frozen=True)
class BatchIndexed:
    stored: int  # points written by this batch
    complete: bool  # every chunk of the version is stored now
    stale: bool  # the batch belonged to a superseded version and was ignored


# ListChunks: the documents of one request and the chunks of one page (as the proto says).
MAX_LIST_DOCUMENTS = 1000
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ChunkPage:
    chunks: list[StoredHit]  # score 0
    next_page_token: str  # empty on the last page


def scope_for(principal: Principal, departments: list[str], document_ids: list[str]) -> ScopeFilter:
    """The caller's scope: a request may narrow it, never widen it."""
    everything = principal.is_platform_admin
    departments = [validate_department(d) for d in departments]
    if departments:
        outside = [d for d in departments if not everything and d not in principal.departments]
        if outside:
            raise PermissionDenied(f"you are not a member of {', '.join(sorted(outside))}; search your own departments")
        allowed = tuple(departments)
    else:
        allowed = tuple(principal.departments)
    return ScopeFilter(
        departments=allowed,
        principals=principal.access_tokens(),
        document_ids=tuple(document_ids),
        all_departments=everything and not departments,
    )


TRAINING_SERVICE = "service:training"


def _schedule_scope(principal: Principal, departments: list[str], department_wide_only: bool,
                    documents: list[str]) -> ScopeFilter:
    """The one case a service principal reads chunks (identity.SERVICE_CALLS): the training
    service's schedules, for one named department, only what the whole department may read."""
    if principal.subject != TRAINING_SERVICE:
        raise PermissionDenied("a service principal sees no department's chunks")
    if not department_wide_only or len(departments) != 1:
        raise PermissionDenied("the training service lists one named department's department-wide chunks only "
                               "(department_wide_only, one department)")
    return ScopeFilter(departments=(validate_department(departments[0]),), principals=(),
                       document_ids=tuple(documents))


class RetrievalService:
    def __init__(
        self, store: VectorStore, embedder: QueryEmbedder, encoder: SparseEncoder, *,
        candidates: int, rrf_k: int, weights: tuple[float, float], max_top_k: int, max_query_chars: int,
        model_languages: tuple[str, ...] = ("en",), other_language_dense_factor: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.encoder = encoder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = weights
        self.max_top_k = max_top_k
        self.max_query_chars = max_query_chars
        self.model_languages = model_languages
        self.other_language_dense_factor = other_language_dense_factor
        # One writer at a time: the completion check must see its own batch.
        self._write_lock = asyncio.Lock()

    async def search(
        self, principal: Principal, query: str, *, top_k: int, mode: SearchMode,
        departments: list[str], document_ids: list[str],
    ) -> list[StoredHit]:
        query = query.strip()
        if not query:
            raise InvalidArgument("the query is empty; type what you are looking for")
        if len(query) > self.max_query_chars:
            raise InvalidArgument(f"the query is longer than {self.max_query_chars} characters; shorten it")
        top_k = top_k or 10
        if not 1 <= top_k <= self.max_top_k:
            raise InvalidArgument(f"top_k must be between 1 and {self.max_top_k}")
        scope = scope_for(principal, departments, document_ids)
        dense = await self.embedder.embed_query(query) if mode is not SearchMode.LEXICAL else None
        sparse = self.encoder.encode_query(query) if mode is not SearchMode.DENSE else None
        return await asyncio.to_thread(
            hybrid_search, self.store, dense=dense, sparse=sparse, scope=scope, top_k=top_k,
            mode=mode, candidates=max(self.candidates, top_k), rrf_k=self.rrf_k,
            weights=self.fusion_weights(query),
        )

    async def list_chunks(
        self, principal: Principal, document_ids: Sequence[str], departments: list[str],
        page_size: int, page_token: str, department_wide_only: bool = False,
    ) -> ChunkPage:
        """The chunks of ``document_ids`` the caller may see, document by document in the
        order given (repeats dropped), each in chunk order; of each document only its newest
        stored version; with `department_wide_only`, only chunks with an empty access list
        (readable by the whole department). A page token is the position of the next page's
        first chunk (document, chunk index), bound to the list of documents."""
        documents = _document_list(document_ids)
        page_size = page_size or DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE} (0 for {DEFAULT_PAGE_SIZE})")
        if principal.is_service:
            scope = _schedule_scope(principal, departments, department_wide_only, documents)
        else:
            scope = scope_for(principal, departments, documents)
        if department_wide_only:  # no principal matches a restricted access list
            scope = dataclasses.replace(scope, principals=())
        position, start = _decode_page_token(page_token, documents) if page_token else (0, 0)
        if scope.matches_nothing:
            return ChunkPage([], "")
        chunks, following = await asyncio.to_thread(self._chunk_page, scope, documents, position, start, page_size)
        token = _encode_page_token(*following, documents) if following else ""
        return ChunkPage(chunks, token)

    def _chunk_page(
        self, scope: ScopeFilter, documents: list[str], position: int, start: int, page_size: int,
    ) -> tuple[list[StoredHit], tuple[int, int] | None]:
        """One page from (document position, chunk index) on, and where the next page
        starts, or None when nothing visible follows. One chunk more than fits is asked
        for, so a token is only handed out when there is something after it."""
        page: list[StoredHit] = []
        while position < len(documents):
            wanted = page_size + 1 - len(page)
            chunks = self._document_chunks(scope, documents[position], start, wanted)
            if len(chunks) == wanted:
                page.extend(chunks[:-1])
                return page, (position, chunks[-1].chunk_index)
            page.extend(chunks)
            position, start = position + 1, 0
        return page, None

    def _document_chunks(self, scope: ScopeFilter, document_id: str, start: int, limit: int) -> list[StoredHit]:
        # The newest version, whoever may see it: while a new version is being indexed
        # beside the old one, only the new one is listed, and a caller it excludes sees
        # neither (an older version's access list is no longer the document's).
        version = self.store.max_version(document_id)
        if version is None:
            return []
        narrowed = dataclasses.replace(scope, document_ids=(document_id,))
        return self.store.scroll(narrowed, limit, start, version=version)

    def fusion_weights(self, query: str) -> tuple[float, float]:
        """(dense, lexical) weights: the dense ranking counts less for a query in a
        language the embedding model was not trained on."""
        dense, lexical = self.weights
        language = detect_language(tokenize(query))
        if language is not None and language not in self.model_languages:
            dense *= self.other_language_dense_factor
        return dense, lexical

    def _points(self, chunks: Sequence[EmbeddedChunk]) -> list[IndexedPoint]:
        points = []
        for item in chunks:
            c = item.chunk
            points.append(IndexedPoint(
                chunk_id=c.chunk_id, document_id=c.document_id, version=c.version,
                chunk_index=c.chunk_index, text=c.text, page=c.page, heading=c.heading, title=c.title,
                department=c.department, access_list=tuple(c.access_list), source_uri=c.source_uri,
                dense=list(item.dense),
                sparse=self.encoder.encode_document(search_text(c.title, c.heading, c.text)),
            ))
        return points

    async def index_chunks(self, chunks: Sequence[EmbeddedChunk]) -> int:
        """Direct indexing (IndexChunks RPC)."""
        points = self._points(chunks)
        async with self._write_lock:
            await asyncio.to_thread(self.store.upsert, points)
        return len(points)

    async def index_batch(self, document_id: str, version: int, chunks: Sequence[EmbeddedChunk],
                          total_chunks: int) -> BatchIndexed:
        """Pipeline stage: store one batch of a document version; when the version is
        complete, drop older versions. A batch of a version older than the stored one is
        ignored (`stale`)."""
        points = await asyncio.to_thread(self._points, chunks)
        async with self._write_lock:
            newest = await asyncio.to_thread(self.store.max_version, document_id)
            if newest is not None and newest > version:
                logger.info("skipping a stale batch", extra={"document_id": document_id, "version": version})
                return BatchIndexed(stored=0, complete=False, stale=True)
            await asyncio.to_thread(self.store.upsert, points)
            stored = await asyncio.to_thread(self.store.count, document_id, version)
            complete = stored >= total_chunks
            if complete:
                await asyncio.to_thread(self.store.delete_other_versions, document_id, version)
            await asyncio.to_thread(self.store.flush)
        return BatchIndexed(stored=len(points), complete=complete, stale=False)

    async def delete_document(self, document_id: str) -> None:
        async with self._write_lock:
            await asyncio.to_thread(self.store.delete_document, document_id)
            await asyncio.to_thread(self.store.flush)

    async def count(self, document_id: str | None) -> int:
        return await asyncio.to_thread(self.store.count, document_id)


def _document_list(document_ids: Sequence[str]) -> list[str]:
    if not document_ids:
        raise InvalidArgument("document_ids is empty; give the ids of the documents whose chunks you want")
    if len(document_ids) > MAX_LIST_DOCUMENTS:
        raise InvalidArgument(
            f"{len(document_ids)} document ids in one request; give at most {MAX_LIST_DOCUMENTS} and split the rest"
        )
    for i, document_id in enumerate(document_ids):
        if not document_id.strip():
            raise InvalidArgument(f"document_ids[{i}] is empty; give a document id")
    return list(dict.fromkeys(document_ids))


_BAD_TOKEN = ("page_token is not valid for this request; pass the next_page_token of the previous response "
              "with the same document_ids, or none to start from the beginning")


def _documents_digest(documents: list[str]) -> str:
    return hashlib.sha256("\n".join(documents).encode()).hexdigest()[:16]


def _encode_page_token(position: int, chunk_index: int, documents: list[str]) -> str:
    raw = f"{position}:{chunk_index}:{_documents_digest(documents)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_page_token(token: str, documents: list[str]) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        position_text, index_text, digest = raw.split(":")
        position, chunk_index = int(position_text), int(index_text)
    except ValueError:  # bad base64 or UTF-8 (both ValueErrors), or not three fields
        raise InvalidArgument(_BAD_TOKEN) from None
    if digest != _documents_digest(documents) or not 0 <= position < len(documents) or chunk_index < 0:
        raise InvalidArgument(_BAD_TOKEN)
    return position, chunk_index
