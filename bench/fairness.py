"""Fairness of ingestion: how long a small document of one department waits while a large
document of another is being embedded, with the bulk lane (large documents embedded
beside the rest) and, as the baseline in the same run, without it (one queue: the
bulk threshold raised above the large document's size).

Each mode gets its own platform: the large document (`--chunks`, ~8,000 by default) is
uploaded, then `--tries` small documents (5 chunks, another department) one after the
other while it is still in flight; the wait of each small one until INDEXED is recorded.

    python bench/fairness.py [--chunks 8000] [--tries 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from benchlib import banner, percentile, table, temporary_platform, test_support, write_results

CLIENTES = ["Hortalia", "Frutas del Sur", "Logística Norte", "Almacenes Iberia", "Conservas Atlántico"]


def large_document(chunks: int) -> bytes:
    """About `chunks` chunks of plausible Spanish (700-character chunks: five of these
    ~150-character sentences each; four a chunk gave 6,400 chunks for 8,000)."""
    rnd = random.Random(11)
    sentences = [
        f"El pedido {i} de {rnd.choice(CLIENTES)} sale el día {rnd.randint(1, 28)} con {rnd.randint(2, 40)} palés "
        f"y el transportista confirma la entrega en {rnd.randint(1, 5)} días laborables."
        for i in range(chunks * 5)
    ]
    return "\n\n".join(sentences).encode()


def small_document(i: int) -> bytes:
    return "\n\n".join(
        f"Aviso {i}.{n}: la oficina de recursos humanos atiende las consultas sobre nóminas de 9 a 14 horas, "
        f"y las solicitudes de vacaciones se envían con quince días de antelación al responsable del equipo."
        for n in range(5)
    ).encode() * 2


async def until(api, document_id: str, done, every: float):
    """Poll a document until `done(document)`; returns it."""
    while True:
        doc = (await api.document(document_id)).document
        if done(doc):
            return doc
        await asyncio.sleep(every)


async def measure(platform, chunks: int, tries: int) -> dict:
    support = test_support()
    api = support.Api(platform)
    try:
        big = (await api.upload(large_document(chunks), "pedidos.txt", "operaciones", source_uri="bench:big")).document
        doc = await until(api, big.document_id, lambda d: d.chunk_count > 0, 0.5)  # parsed and announced
        waits, overlapped = [], 0
        for i in range(tries):
            started = time.monotonic()
            small = (await api.upload(small_document(i), f"aviso_{i}.txt", "rrhh",
                                      source_uri=f"bench:small{i}")).document
            await until(api, small.document_id, lambda d: d.state != support.PROCESSING, 0.1)
            waits.append(time.monotonic() - started)
            overlapped += (await api.document(big.document_id)).document.state == support.PROCESSING
        wait = {"p50": round(percentile(waits, 50), 2), "p95": round(percentile(waits, 95), 2),
                "max": round(max(waits), 2)}
        return {"large_chunks": doc.chunk_count, "small_wait_s": wait, "tries_with_large_in_flight": overlapped,
                "tries": tries}
    finally:
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=8000)
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    banner("ingestion fairness: a small document while a large one is embedded")
    base = {"SENTRA_INGESTION_LIMITS__MAX_CHUNKS_PER_DOCUMENT": str(args.chunks * 2),
            "SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES": str(64 * 1024 * 1024)}
    results = {}
    for mode, threshold in (("bulk lane", "256"), ("one queue (baseline)", str(args.chunks * 10))):
        env = {**base, "SENTRA_INGESTION_CHUNKING__BULK_THRESHOLD_CHUNKS": threshold}
        with temporary_platform(env) as platform:
            results[mode] = asyncio.run(measure(platform, args.chunks, args.tries))
    table(["mode", "large doc chunks", "small wait p50 s", "p95 s", "max s", "tries overlapped"],
          [(m, r["large_chunks"], r["small_wait_s"]["p50"], r["small_wait_s"]["p95"], r["small_wait_s"]["max"],
            f"{r['tries_with_large_in_flight']}/{r['tries']}") for m, r in results.items()])
    lane, queue = results["bulk lane"]["small_wait_s"]["p95"], results["one queue (baseline)"]["small_wait_s"]["p95"]
    print(f"p95 wait, one queue / bulk lane: {queue / lane:.1f}x")
    write_results("fairness", {"chunks": args.chunks, "tries": args.tries, "bulk_threshold": 256}, results)


if __name__ == "__main__":
    main()
