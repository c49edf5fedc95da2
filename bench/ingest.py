"""Ingestion throughput and memory: the whole pipeline against the embedding model alone.

    python bench/ingest.py                 # 1000 documents, then a second batch of 500
    python bench/ingest.py --docs 300      # fewer documents
    python bench/ingest.py --quick         # 150 documents, one batch
    python bench/ingest.py --docs 150 --batches 1 --paragraphs 20-60   # documents of a few pages

1. Generates N deterministic, realistic short-to-medium documents (Markdown and TXT,
   Spanish and English, 1-6 paragraphs or `--paragraphs MIN-MAX`; --seed) in a temporary
   directory.
2. Baseline, the model alone: chunks every document in this process exactly as the
   ingestion service does (parse_document + chunk_sections with the service's settings,
   title as the service computes it) and times the service's default embedding backend
   (`build_backend(EmbeddingSettings())`: onnx unless SENTRA_EMBEDDING_BACKEND says otherwise) over the texts the
   embedding service embeds (search_text(title, heading, text)) in batches of 32 (the
   pipeline's event batch size) -> chunks/s. Same torch thread setting as the service.
3. Pipeline: starts a platform, uploads every document through the UploadDocument RPC
   (a few uploads in flight) and waits until none is PROCESSING. Wall time runs from
   the first upload to the last document's INDEXED -> chunks/s, and the ratio to 2.
4. Memory: VmRSS of nats-server and each service (and, separately, their child
   processes: the ingestion parser workers) every 0.2 s; idle after start-up, at 25, 50,
   75 and 100 % of the documents indexed, and peaks. A second batch of N/2 new documents
   shows whether memory grows with the number of documents processed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

from benchlib import (
    RssSampler,
    Stubs,
    banner,
    cpu_seconds,
    machine_cpu_seconds,
    machine_summary,
    mib,
    ratio,
    table,
    temporary_platform,
    test_support,
    write_results,
)
from sentra.ingestion.v1 import ingestion_pb2
from sentra_common.chunks import search_text
from sentra_common.principal import Principal
from sentra_embedding.app import build_backend
from sentra_embedding.config import EmbeddingSettings
from sentra_ingestion.app import build_limits
from sentra_ingestion.config import IngestionSettings
from sentra_ingestion.domain.parsing import chunk_sections, parse_document, safe_filename

DEPARTMENTS = ("legal", "rrhh", "finanzas", "operaciones", "ventas")
ADMIN = Principal("bench-admin", departments=DEPARTMENTS, roles=("platform-admin",))
UPLOADS_IN_FLIGHT = 4
CHECKPOINTS = (25, 50, 75, 100)
DEFAULT_PARAGRAPHS = (1, 6)


def paragraph_range(text: str) -> tuple[int, int]:
    try:
        least, most = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected MIN-MAX, e.g. 20-60") from None
    if not 1 <= least <= most:
        raise argparse.ArgumentTypeError("expected 1 <= MIN <= MAX")
    return least, most

# --------------------------------------------------------------------------------------
# Document generator

ES = {
    "topics": [
        ("Política de viajes", ["Reservas", "Dietas", "Anticipos", "Excepciones"]),
        ("Procedimiento de vacaciones", ["Solicitud", "Aprobación", "Saldo de días", "Festivos"]),
        ("Gastos de representación", ["Límites", "Justificantes", "Reembolso"]),
        ("Seguridad de la información", ["Contraseñas", "Dispositivos", "Incidentes", "Clasificación"]),
        ("Mantenimiento de la flota", ["Revisiones", "Averías", "Neumáticos", "Registro"]),
        ("Contrato marco de transporte", ["Objeto", "Tarifas", "Penalizaciones", "Resolución"]),
        ("Atención al cliente", ["Reclamaciones", "Plazos de respuesta", "Escalado"]),
        ("Compras y proveedores", ["Homologación", "Pedidos", "Facturación", "Pagos"]),
        ("Plan de prevención de riesgos", ["Evaluación", "Formación", "Equipos de protección"]),
        ("Teletrabajo", ["Requisitos", "Horario", "Material", "Seguimiento"]),
    ],
    "subjects": [
        "el empleado", "la persona responsable del área", "el departamento de finanzas", "el equipo de operaciones",
        "el proveedor", "la dirección general", "cada jefe de equipo", "el conductor asignado",
        "el comité de seguridad", "recursos humanos", "el cliente", "el gestor de cuentas",
    ],
    "verbs": [
        "deberá registrar", "tiene que comunicar", "revisará", "aprobará", "podrá solicitar", "enviará",
        "conservará", "validará", "actualizará", "notificará", "archivará", "documentará",
    ],
    "objects": [
        "la solicitud en el portal interno", "los justificantes originales", "el informe mensual de actividad",
        "las incidencias detectadas", "el presupuesto aprobado", "la hoja de ruta del vehículo",
        "los datos personales del solicitante", "el inventario de equipos", "la factura con el número de pedido",
        "el parte de accidente", "las horas extraordinarias", "el certificado de formación",
    ],
    "times": [
        "antes del día {d} de cada mes", "en un plazo de {n} días hábiles", "dentro de las {n} horas siguientes",
        "al cierre del trimestre", "antes de iniciar el viaje", "cada {n} semanas", "en la primera semana de {m}",
    ],
    "reasons": [
        "para evitar retrasos en la liquidación", "según lo previsto en el convenio colectivo",
        "conforme al procedimiento {c}", "salvo autorización expresa de la dirección",
        "para cumplir la normativa de protección de datos", "con el fin de garantizar la trazabilidad",
        "cuando el importe supere {e} euros", "si el destino está fuera de la Unión Europea",
    ],
    "openers": ["Además,", "En todo caso,", "Como norma general,", "Por otra parte,", "Excepcionalmente,", ""],
    "months": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "septiembre", "octubre", "noviembre"],
    "extra": [
        "La tarifa aplicable en {y} es de {e} euros por día, IVA no incluido.",
        "Las consultas se dirigen a la extensión {n}{n} o al buzón interno del área.",
        "El incumplimiento reiterado se comunicará al comité de dirección.",
        "Esta norma sustituye a la versión publicada en {m} de {y}.",
        "El expediente {c} recoge los casos tratados durante el último ejercicio.",
    ],
}

EN = {
    "topics": [
        ("Travel policy", ["Bookings", "Per diem", "Advances", "Exceptions"]),
        ("Annual leave procedure", ["Requests", "Approval", "Leave balance", "Public holidays"]),
        ("Expense reimbursement", ["Limits", "Receipts", "Payment"]),
        ("Information security", ["Passwords", "Devices", "Incidents", "Data classification"]),
        ("Fleet maintenance", ["Inspections", "Breakdowns", "Tyres", "Logbook"]),
        ("Master transport agreement", ["Scope", "Rates", "Penalties", "Termination"]),
        ("Customer support", ["Complaints", "Response times", "Escalation"]),
        ("Procurement and suppliers", ["Approval", "Purchase orders", "Invoicing", "Payments"]),
        ("Health and safety plan", ["Risk assessment", "Training", "Protective equipment"]),
        ("Remote work", ["Eligibility", "Working hours", "Equipment", "Follow-up"]),
    ],
    "subjects": [
        "the employee", "the area manager", "the finance team", "the operations team", "the supplier",
        "senior management", "each team lead", "the assigned driver", "the security committee",
        "human resources", "the customer", "the account manager",
    ],
    "verbs": [
        "must record", "has to report", "will review", "will approve", "may request", "will send",
        "keeps", "validates", "updates", "notifies", "archives", "documents",
    ],
    "objects": [
        "the request in the internal portal", "the original receipts", "the monthly activity report",
        "any incidents found", "the approved budget", "the vehicle route sheet", "the applicant's personal data",
        "the equipment inventory", "the invoice with the purchase order number", "the accident report",
        "overtime hours", "the training certificate",
    ],
    "times": [
        "before day {d} of each month", "within {n} working days", "within {n} hours",
        "at the end of the quarter", "before the trip starts", "every {n} weeks", "in the first week of {m}",
    ],
    "reasons": [
        "to avoid delays in settlement", "as set out in the collective agreement", "under procedure {c}",
        "unless management explicitly authorises otherwise", "to comply with data protection law",
        "so that every step can be traced", "when the amount exceeds {e} euros",
        "if the destination is outside the European Union",
    ],
    "openers": ["In addition,", "In any case,", "As a rule,", "On the other hand,", "Exceptionally,", ""],
    "months": ["January", "February", "March", "April", "May", "June", "September", "October", "November"],
    "extra": [
        "The applicable rate in {y} is {e} euros per day, excluding VAT.",
        "Questions go to extension {n}{n} or to the team's internal mailbox.",
        "Repeated breaches are reported to the management committee.",
        "This rule replaces the version published in {m} {y}.",
        "Case file {c} lists the cases handled during the last financial year.",
    ],
}


@dataclass(frozen=True)
class GeneratedDoc:
    filename: str
    department: str
    language: str
    data: bytes


def _fill(rng: random.Random, vocab: dict, template: str) -> str:
    return template.format(
        d=rng.randint(1, 28), n=rng.randint(2, 30), m=rng.choice(vocab["months"]), y=rng.randint(2019, 2026),
        e=rng.choice([50, 75, 120, 300, 600, 1500, 3000]),
        c=f"{rng.choice('ABCDGKLPRT')}{rng.choice('ABCDGKLPRT')}-{rng.randint(1000, 9999)}",
    )


def _sentence(rng: random.Random, vocab: dict) -> str:
    if rng.random() < 0.2:
        return _fill(rng, vocab, rng.choice(vocab["extra"]))
    opener = rng.choice(vocab["openers"])
    subject = rng.choice(vocab["subjects"])
    if opener:
        body = f"{opener} {subject}"
    else:
        body = subject[0].upper() + subject[1:]
    parts = [body, rng.choice(vocab["verbs"]), rng.choice(vocab["objects"])]
    parts.append(_fill(rng, vocab, rng.choice(vocab["times"])))
    if rng.random() < 0.6:
        parts.append(_fill(rng, vocab, rng.choice(vocab["reasons"])))
    return " ".join(parts) + "."


def _paragraph(rng: random.Random, vocab: dict) -> str:
    return " ".join(_sentence(rng, vocab) for _ in range(rng.randint(1, 4)))


def generate(n: int, seed: int, start: int = 0, paragraphs: tuple[int, int] = (1, 6)) -> list[GeneratedDoc]:
    """`n` documents numbered from `start`, each of `paragraphs` (least, most) paragraphs;
    the same seed gives the same bytes."""
    docs = []
    for i in range(start, start + n):
        rng = random.Random(f"{seed}:{i}")
        spanish = rng.random() < 0.6
        vocab = ES if spanish else EN
        topic, headings = rng.choice(vocab["topics"])
        title = f"{topic} {rng.choice(['2024', '2025', '2026', 'v2', 'v3', ''])}".strip()
        body = [_paragraph(rng, vocab) for _ in range(rng.randint(*paragraphs))]
        slug = topic.lower().replace(" ", "_")
        markdown = rng.random() < 0.5
        if markdown:
            lines = [f"# {title}", ""]
            free_headings = list(headings)
            rng.shuffle(free_headings)
            for p in body:
                if free_headings and rng.random() < 0.5:
                    lines += [f"## {free_headings.pop()}", ""]
                if rng.random() < 0.15:
                    lines += [f"- {_sentence(rng, vocab)}" for _ in range(rng.randint(2, 4))] + [""]
                lines += [p, ""]
            text = "\n".join(lines)
            filename = f"{i:05d}_{slug}.md"
        else:
            text = title + "\n\n" + "\n\n".join(body) + "\n"
            filename = f"{i:05d}_{slug}.txt"
        language = "es" if spanish else "en"
        docs.append(GeneratedDoc(filename, DEPARTMENTS[i % len(DEPARTMENTS)], language, text.encode("utf-8")))
    return docs


# --------------------------------------------------------------------------------------
# The model alone


@dataclass
class Chunked:
    texts: list[str]  # what the embedding service embeds, in pipeline order
    per_document: list[int]  # chunks per document


def chunk_like_the_service(docs: list[GeneratedDoc]) -> Chunked:
    # Code defaults: the platform strips SENTRA_INGESTION_* variables of this environment from
    # the services it starts, so these are the settings they run with.
    limits = build_limits(IngestionSettings.model_construct())
    max_text_chars = EmbeddingSettings.model_fields["max_text_chars"].default
    texts: list[str] = []
    counts: list[int] = []
    for doc in docs:
        filename = safe_filename(doc.filename)
        stem = PurePath(filename).stem
        title = (stem or filename)[:500]
        parsed = parse_document(doc.data, filename, limits.parse)
        chunks = chunk_sections(parsed.sections, limits.chunking)
        if parsed.title and title == stem:
            title = parsed.title[:500]
        counts.append(len(chunks))
        texts.extend(search_text(title, c.heading, c.text)[:max_text_chars] for c in chunks)
    return Chunked(texts, counts)


async def model_baseline(chunked: Chunked, batch: int, torch_threads: int, sample_every: int = 8) -> dict[str, float]:
    """chunks/s of the default embedding backend's embed over every chunk text in batches of `batch` (the
    baseline), plus a diagnostic on a sample of the documents (every `sample_every`-th
    group of 20): the same texts in batches of `batch` vs one call per document (how the
    pipeline's events reach the model), alternating which goes first so both see the
    same machine load."""
    import torch

    # the service's default backend (onnx since issue 12; SENTRA_EMBEDDING_BACKEND=local for PyTorch)
    backend = build_backend(EmbeddingSettings(torch_threads=torch_threads))
    await backend.start()
    print(f"model loaded: {backend.model} ({backend.name} backend), torch threads {torch.get_num_threads()} "
          f"(interop {torch.get_num_interop_threads()})", flush=True)

    async def batched(texts: list[str]) -> float:
        t = time.perf_counter()
        for start in range(0, len(texts), batch):
            await backend.embed(texts[start : start + batch])
        return time.perf_counter() - t

    async def per_document(groups: list[list[str]]) -> float:
        t = time.perf_counter()
        for texts in groups:
            for start in range(0, len(texts), batch):
                await backend.embed(texts[start : start + batch])
        return time.perf_counter() - t

    try:
        await backend.embed(chunked.texts[:batch])  # warm-up
        full_s = await batched(chunked.texts)
        docs: list[list[str]] = []
        offset = 0
        for count in chunked.per_document:
            docs.append(chunked.texts[offset : offset + count])
            offset += count
        sample_batched = sample_per_doc = 0.0
        sample_chunks = 0
        for g, start in enumerate(range(0, len(docs), 20)):
            if g % sample_every:
                continue
            group = docs[start : start + 20]
            flat = [t for d in group for t in d]
            sample_chunks += len(flat)
            if (g // sample_every) % 2:
                sample_per_doc += await per_document(group)
                sample_batched += await batched(flat)
            else:
                sample_batched += await batched(flat)
                sample_per_doc += await per_document(group)
    finally:
        await backend.close()
    return {
        "backend": backend.name, "batched_s": full_s, "batched_cps": len(chunked.texts) / full_s,
        "sample_chunks": sample_chunks,
        "sample_batched_cps": sample_chunks / sample_batched, "sample_per_doc_cps": sample_chunks / sample_per_doc,
    }


# --------------------------------------------------------------------------------------
# The pipeline


@dataclass
class BatchResult:
    docs: int
    chunks: int
    failed: int
    wall_s: float
    upload_s: float
    checkpoints: dict[int, dict[str, int]]
    checkpoint_s: dict[int, float]
    peak: dict[str, int]
    cpu_s: dict[str, float]


async def indexed_count(stubs: Stubs) -> tuple[int, int]:
    reply = await stubs.ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(page_size=1))
    counts = dict(reply.state_counts)
    return counts.get("INDEXED", 0), counts.get("FAILED", 0)


async def run_batch(api, stubs: Stubs, sampler: RssSampler, docs: list[GeneratedDoc], label: str) -> BatchResult:
    already, already_failed = await indexed_count(stubs)
    sampler.reset_peaks()
    cpu_before, machine_before, own_before = sampler.cpu(), machine_cpu_seconds(), cpu_seconds(os.getpid())
    checkpoints: dict[int, dict[str, int]] = {}
    checkpoint_s: dict[int, float] = {}
    t0_wall = time.time()
    t0 = time.perf_counter()
    done = asyncio.Event()

    async def watch() -> None:
        pending = list(CHECKPOINTS)
        while pending and not done.is_set():
            indexed, failed = await indexed_count(stubs)
            settled = indexed - already + failed - already_failed
            while pending and settled * 100 >= pending[0] * len(docs):
                checkpoints[pending[0]] = sampler.snapshot()
                checkpoint_s[pending[0]] = time.perf_counter() - t0
                pending.pop(0)
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch())
    semaphore = asyncio.Semaphore(UPLOADS_IN_FLIGHT)

    async def upload(doc: GeneratedDoc) -> str:
        async with semaphore:
            reply = await api.upload(doc.data, doc.filename, doc.department, source_uri=f"bench:{doc.filename}")
            return reply.document.document_id

    ids = await asyncio.gather(*(upload(d) for d in docs))
    upload_s = time.perf_counter() - t0
    print(f"  {label}: {len(ids)} uploads accepted in {upload_s:.1f} s; waiting for the pipeline...", flush=True)
    records = await api.wait_settled(ids, timeout=3600)
    done.set()
    try:
        await asyncio.wait_for(watcher, timeout=5)
    except TimeoutError:
        watcher.cancel()
    final = sampler.snapshot()
    cpu_after = sampler.cpu()
    cpu_s = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    cpu_s["this benchmark"] = cpu_seconds(os.getpid()) - own_before
    cpu_s["machine"] = machine_cpu_seconds() - machine_before
    for pct in CHECKPOINTS:  # reached between two polls at the very end
        checkpoints.setdefault(pct, final)
    indexed = [r for r in records.values() if r.state == ingestion_pb2.DOCUMENT_STATE_INDEXED]
    failed = [r for r in records.values() if r.state != ingestion_pb2.DOCUMENT_STATE_INDEXED]
    for r in failed[:5]:
        print(f"  FAILED {r.filename}: {r.failure_stage}: {r.failure_reason}")
    last = max((r.updated_at.seconds + r.updated_at.nanos / 1e9 for r in indexed), default=time.time())
    wall = last - t0_wall
    for pct in CHECKPOINTS:
        checkpoint_s.setdefault(pct, wall)
    return BatchResult(
        docs=len(docs), chunks=sum(r.chunk_count for r in indexed), failed=len(failed), wall_s=wall,
        upload_s=upload_s, checkpoints=checkpoints, checkpoint_s=checkpoint_s, peak=dict(sampler.peak),
        cpu_s=cpu_s,
    )


def print_cpu(batches: list[tuple[str, BatchResult]]) -> None:
    """Where the CPU time went: seconds per process over each batch, and per document."""
    label, first = batches[0]
    names = [n for n, v in first.cpu_s.items() if v >= 0.05 and n != "machine"]
    accounted = sum(first.cpu_s[n] for n in names)
    rows = [[n, f"{first.cpu_s[n]:.1f}", f"{first.cpu_s[n] * 1000 / first.docs:.1f}",
             f"{first.cpu_s[n] * 1000 / max(first.chunks, 1):.1f}"]
            for n in sorted(names, key=lambda n: -first.cpu_s[n])]
    machine = first.cpu_s["machine"]
    rows.append(["machine (all processes)", f"{machine:.1f}", f"{machine * 1000 / first.docs:.1f}",
                 f"{machine * 1000 / max(first.chunks, 1):.1f}"])
    rows.append(["  not accounted above", f"{machine - accounted:.1f}", "", ""])
    table(["process", "CPU s", "ms per document", "ms per chunk"], rows,
          f"Where the CPU time of {label} went ({first.docs} documents, {first.chunks} chunks, "
          f"{first.wall_s:.0f} s wall on {os.cpu_count()} CPUs)")


def print_memory(sampler: RssSampler, idle: dict[str, int], batches: list[tuple[str, BatchResult]]) -> None:
    names = [n for n in sampler.names if idle.get(n) or any(b.peak.get(n) for _, b in batches)]
    headers = ["process", "idle"]
    for label, _ in batches:
        headers += [f"{label} @{p}%" for p in CHECKPOINTS] + [f"{label} peak"]
    headers += ["peak ÷ idle"]
    rows = []
    for name in names:
        row = [name, mib(idle.get(name, 0))]
        for _, b in batches:
            row += [mib(b.checkpoints[p].get(name, 0)) for p in CHECKPOINTS] + [mib(b.peak.get(name, 0))]
        top = max(b.peak.get(name, 0) for _, b in batches)
        row.append(ratio(top, idle[name]) if idle.get(name) else "")
        rows.append(row)
    total = ["TOTAL", mib(sum(idle.get(n, 0) for n in names))]
    for _, b in batches:
        total += [mib(sum(b.checkpoints[p].get(n, 0) for n in names)) for p in CHECKPOINTS]
        total += [mib(sum(b.peak.get(n, 0) for n in names))]
    total.append("")
    rows.append(total)
    table(headers, rows, "Resident memory, MiB (VmRSS sampled every 0.2 s; '<service> children' = its child "
          "processes, e.g. the ingestion parser workers)")
    print(f"\nidle footprint of the platform right after start-up: {mib(sum(idle.get(n, 0) for n in names))} MiB "
          f"({', '.join(f'{n} {mib(idle[n])}' for n in names if idle.get(n))})")
    if len(batches) >= 2:
        b1, b2 = batches[0][1], batches[1][1]
        print(f"flatness: after {b1.docs} documents the platform held "
              f"{mib(sum(b1.checkpoints[100].get(n, 0) for n in names))} MiB, after {b1.docs + b2.docs} "
              f"{mib(sum(b2.checkpoints[100].get(n, 0) for n in names))} MiB; per process at 100 %:")
        for n in names:
            a, b = b1.checkpoints[100].get(n, 0), b2.checkpoints[100].get(n, 0)
            per_doc = (b - a) / max(b2.docs, 1)
            print(f"  {n:<22} {mib(a):>6} -> {mib(b):>6} MiB  ({(b - a) / 1024:+.1f} MiB, "
                  f"{per_doc:+.1f} KiB per extra document; peak {mib(b1.peak.get(n, 0))} -> {mib(b2.peak.get(n, 0))})")


async def run(args) -> None:
    banner("Sentra ingestion benchmark: pipeline throughput vs the embedding model alone, and memory")
    print(machine_summary())
    print("Timings are wall-clock on a shared 2-core machine (other work may run at the same time): read them as "
          "rough.")
    batch = IngestionSettings.model_fields["chunking"].default.batch_size
    with tempfile.TemporaryDirectory(prefix="sentra-bench-docs-") as tmp:
        docs = generate(args.docs, args.seed, paragraphs=args.paragraphs)
        n_second = (args.second_docs or max(args.docs // 2, 1)) if args.batches > 1 else 0
        second = generate(n_second, args.seed, start=args.docs, paragraphs=args.paragraphs)
        for d in docs + second:  # on disk too, for inspection while it runs
            (Path(tmp) / d.filename).write_bytes(d.data)
        sizes = [len(d.data) for d in docs]
        md = sum(1 for d in docs if d.filename.endswith(".md"))
        es = sum(1 for d in docs if d.language == "es")
        print(f"generated {len(docs)} documents (+{len(second)} for batch 2) in {tmp}: {md} Markdown, "
              f"{len(docs) - md} TXT; {es} Spanish, {len(docs) - es} English; "
              f"{statistics.fmean(sizes):.0f} bytes on average "
              f"(min {min(sizes)}, max {max(sizes)}), seed {args.seed}")

        banner("1. The model alone (in this process, before the platform starts)")
        t = time.perf_counter()
        chunked = chunk_like_the_service(docs)
        chunk_s = time.perf_counter() - t
        lengths = [len(x) for x in chunked.texts]
        print(f"chunked in-process like the service: {len(chunked.texts)} chunks in {chunk_s:.2f} s "
              f"({statistics.fmean(chunked.per_document):.2f} per document, {statistics.fmean(lengths):.0f} chars "
              f"embedded per chunk on average)")
        model = await model_baseline(chunked, batch, args.torch_threads)
        table(
            ["what", "chunks", "chunks/s", "÷ baseline"],
            [
                [f"{model['backend']} backend .embed, all chunks, batches of {batch} (BASELINE)", len(chunked.texts),
                 f"{model['batched_cps']:.1f}", "1.00x"],
                [f"  sample: batches of {batch}", model["sample_chunks"], f"{model['sample_batched_cps']:.1f}",
                 ratio(model["sample_batched_cps"], model["batched_cps"])],
                ["  sample: one call per document (as the pipeline's events)", model["sample_chunks"],
                 f"{model['sample_per_doc_cps']:.1f}", ratio(model["sample_per_doc_cps"], model["batched_cps"])],
            ],
            f"Model alone ({model['batched_s']:.1f} s for all chunks; the sample rows alternate order on 1/8 of the "
            "documents)",
        )

        env = {"SENTRA_EMBEDDING_TORCH_THREADS": str(args.torch_threads)} if args.torch_threads else {}
        banner("2. The pipeline: UploadDocument RPC -> parse/chunk -> embed -> index -> INDEXED")
        with temporary_platform(env) as platform:
            state = platform.load_state()
            processes = {"nats-server": state.nats.pid} | {name: info.pid for name, info in state.services.items()}
            sampler = RssSampler(processes).start()
            stubs = Stubs(platform, ADMIN)
            api = test_support().Api(platform, ADMIN)
            try:
                await asyncio.sleep(3)  # let start-up settle
                idle = sampler.snapshot()
                results = [("batch 1", await run_batch(api, stubs, sampler, docs, "batch 1"))]
                if second:
                    results.append(("batch 2", await run_batch(api, stubs, sampler, second, "batch 2")))
            finally:
                sampler.stop()
                await api.close()
                await stubs.close()

    rows = []
    for label, r in results:
        cps = r.chunks / r.wall_s
        expected = len(chunked.texts) if label == "batch 1" else sum(chunk_like_the_service(second).per_document)
        rows.append([
            label, r.docs, r.failed, r.chunks, expected, "yes" if r.chunks == expected else "NO",
            f"{r.upload_s:.1f}", f"{r.wall_s:.1f}", f"{r.docs / r.wall_s:.1f}", f"{cps:.1f}",
            ratio(cps, model["batched_cps"]),
        ])
    table(
        ["run", "docs", "failed", "chunks (service)", "chunks (in-process)", "equal", "uploads s", "wall s",
         "docs/s", "chunks/s", "÷ model"],
        rows,
        "Pipeline throughput (wall time: first upload -> last INDEXED; baseline: the model alone, batches of "
        f"{batch}, {model['batched_cps']:.1f} chunks/s)",
    )
    first = results[0][1]
    print("progress of batch 1 (seconds after the first upload): "
          + ", ".join(f"{p}% {first.checkpoint_s[p]:.1f} s" for p in CHECKPOINTS))
    verdict = "MET" if first.chunks / first.wall_s >= 0.85 * model["batched_cps"] else "NOT MET"
    share = first.chunks / first.wall_s / model["batched_cps"]
    print(f"target pipeline/model >= 0.85 (issue 12): {share:.2f} -> {verdict}")
    print_cpu(results)
    banner("3. Memory")
    print_memory(sampler, idle, results)
    name = "ingest" if args.paragraphs == DEFAULT_PARAGRAPHS else "ingest_paragraphs_{}_{}".format(*args.paragraphs)
    write_results(name, {
        "docs": args.docs, "paragraphs_per_document": list(args.paragraphs), "batches": args.batches,
        "second_docs": len(second), "seed": args.seed,
        "torch_threads": args.torch_threads or "torch default", "event_batch": batch,
    }, {
        "model_alone_chunks_per_s": round(model["batched_cps"], 2),
        "batches": {label: {
            "docs": r.docs, "failed": r.failed, "chunks": r.chunks, "wall_s": round(r.wall_s, 2),
            "chunks_per_s": round(r.chunks / r.wall_s, 2),
            "pipeline_over_model": round(r.chunks / r.wall_s / model["batched_cps"], 3),
            "peak_rss_mib": {name: round(kib / 1024) for name, kib in r.peak.items()},
            "cpu_ms_per_document": {name: round(v * 1000 / r.docs, 1) for name, v in r.cpu_s.items() if v >= 0.05},
        } for label, r in results},
        "idle_rss_mib": {name: round(kib / 1024) for name, kib in idle.items()},
    })


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=1000, help="documents per batch (default 1000)")
    parser.add_argument("--batches", type=int, default=2, choices=(1, 2),
                        help="2: a second batch of new documents, to show memory stays flat (default)")
    parser.add_argument("--second-docs", type=int, default=0, help="documents in batch 2 (default: half of --docs)")
    parser.add_argument("--quick", action="store_true", help="150 documents, one batch")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--paragraphs", type=paragraph_range, default=DEFAULT_PARAGRAPHS, metavar="MIN-MAX",
                        help="paragraphs per document (default 1-6, ~2.5 chunks; 20-60 is a policy of a few "
                             "pages, ~25 chunks); figures go to results/ingest.json for the default, "
                             "results/ingest_paragraphs_MIN_MAX.json otherwise")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch threads for the model in both the baseline and the service (0: torch default)")
    args = parser.parse_args()
    if args.quick:
        args.docs, args.batches = min(args.docs, 150), 1
    started = time.perf_counter()
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        sys.exit("interrupted; the platform was stopped")
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
