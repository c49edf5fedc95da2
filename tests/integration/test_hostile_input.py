"""Hostile input on real processes: each document ends FAILED with a clear reason, or
is safely indexed where that is right; the services keep running and a normal
document uploaded afterwards is unaffected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sentra_common.principal import Principal

from tests.support.hostile import cases
from tests.support.platform import FAILED, INDEXED, Api

pytestmark = pytest.mark.integration

CASES = cases()


@pytest.fixture(scope="module")
async def outcomes(sqlite_platform):
    api = Api(sqlite_platform)
    ids = {}
    for case_id, filename, data, _ in CASES:
        reply = await api.upload(data, filename, "legal", source_uri=f"test:hostile/{case_id}")
        ids[case_id] = reply.document.document_id
    docs = await api.wait_settled(ids.values(), timeout=300)
    yield api, {case_id: docs[doc_id] for case_id, doc_id in ids.items()}
    await api.close()


@pytest.mark.parametrize(("case_id", "expectation"), [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
async def test_each_hostile_document_ends_with_a_clear_outcome(outcomes, case_id, expectation):
    _, docs = outcomes
    doc = docs[case_id]
    if expectation == "INDEXED":
        assert doc.state == INDEXED, doc.failure_reason
    else:
        assert doc.state == FAILED
        assert expectation.lower() in doc.failure_reason.lower(), doc.failure_reason
        assert len(doc.failure_reason) > 20  # a sentence a person can act on


async def test_path_traversal_name_is_only_a_name(outcomes, sqlite_platform):
    _, docs = outcomes
    doc = docs["path-traversal"]
    assert "/" not in doc.filename and ".." not in doc.filename
    assert not (sqlite_platform.data_dir / "etc").exists()


async def test_services_still_serve_after_hostile_input(outcomes, sqlite_platform):
    api, _ = outcomes
    assert all(sqlite_platform.running().values())
    reply = await api.upload(
        "Plan de evacuación: el punto de reunión es el aparcamiento sur.".encode(), "evacuacion.txt", "legal",
        source_uri="test:hostile/after",
    )
    doc = (await api.wait_settled([reply.document.document_id]))[reply.document.document_id]
    assert doc.state == INDEXED
    member = Api(sqlite_platform, Principal("eva", departments=("legal",)))
    hits = await member.search("punto de reunión evacuación")
    await member.close()
    assert hits[0].document_id == doc.document_id


async def test_the_platforms_parsers_wait_in_a_bubblewrap_sandbox(outcomes, sqlite_platform):
    """The ingestion service of a real platform keeps its next parser ready inside
    bubblewrap, without network, as its own user when run as root, with nothing of the
    data directory (keys, blobs) in view."""
    ingestion = sqlite_platform.load_state().services["ingestion"].pid
    sandboxes = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(") ", 1)[1].split()[1]) == ingestion and argv[0].endswith(b"bwrap"):
            sandboxes.append([a.decode() for a in argv if a])
    assert sandboxes, "no parser process inside bubblewrap under the ingestion service"
    for argv in sandboxes:
        assert "--unshare-net" in argv and "--clearenv" in argv
        binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]
        assert not [b for b in binds if str(sqlite_platform.data_dir) in b]
        assert "--bind" not in argv  # nothing writable but its own /tmp
        if os.geteuid() == 0:
            assert '"uid": 61000' in argv[-1]
