// A document's text (its indexed chunks, in order) in a modal dialog, opened at a citation:
// the cited passage is scrolled into view and takes the focus, the quoted sentence is marked.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

import { useSession } from "../context";
import type { Chunk, Citation, DocumentText } from "../types";
import { Loading, Message } from "../ui";

/** The quote's pieces (a long sentence is quoted with "…") marked inside `text`. */
export function marked(text: string, quote: string): ComponentChildren {
  const pieces = quote
    .split("…")
    .map((p) => p.trim())
    .filter((p) => p.length > 3);
  const ranges: [number, number][] = [];
  for (const piece of pieces) {
    const at = text.indexOf(piece);
    if (at >= 0) ranges.push([at, at + piece.length]);
  }
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  const out: ComponentChildren[] = [];
  let position = 0;
  for (const [start, end] of ranges) {
    if (start < position) continue;
    out.push(text.slice(position, start), <mark>{text.slice(start, end)}</mark>);
    position = end;
  }
  out.push(text.slice(position));
  return out;
}

function where(chunk: Chunk, t: ReturnType<typeof useSession>["t"]): string {
  const parts = [];
  if (chunk.page) parts.push(t("viewer.page", { page: chunk.page }));
  if (chunk.heading) parts.push(chunk.heading);
  return parts.join(" · ");
}

export function DocumentViewer({ citation, onClose }: { citation: Citation; onClose: () => void }) {
  const { api, t } = useSession();
  const dialog = useRef<HTMLDialogElement>(null);
  const cited = useRef<HTMLElement>(null);
  const [text, setText] = useState<DocumentText | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The focus goes back where it was (the source that opened the viewer) once it closes.
  const opener = useRef(document.activeElement as HTMLElement | null);
  useEffect(() => () => opener.current?.focus(), []);

  useEffect(() => {
    dialog.current?.showModal();
    api
      .get<DocumentText>(`/api/v1/documents/${encodeURIComponent(citation.document_id)}/text`)
      .then(setText)
      .catch(setError);
  }, [api, citation.document_id]);
  useEffect(() => {
    if (text && cited.current) {
      cited.current.scrollIntoView({ block: "center" });
      cited.current.focus();
    }
  }, [text]);

  let previous = "";
  return (
    <dialog
      ref={dialog}
      class="viewer"
      aria-labelledby="viewer-title"
      onClose={onClose}
    >
      <header>
        <h2 id="viewer-title">{citation.title || citation.document_id}</h2>
        <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
          {t("common.close")}
        </button>
      </header>
      <Message error={error} />
      {!text && !error && <Loading t={t} />}
      {text && (
        <div class="document-text">
          {text.chunks.map((chunk) => {
            const label = where(chunk, t);
            const heading = label && label !== previous ? label : "";
            previous = label;
            const isCited = chunk.chunk_id === citation.chunk_id;
            return (
              <section
                key={chunk.chunk_id}
                class={isCited ? "chunk cited" : "chunk"}
                data-chunk-id={chunk.chunk_id}
                ref={isCited ? cited : undefined}
                tabIndex={isCited ? -1 : undefined}
                aria-label={isCited ? t("viewer.cited", { number: citation.number }) : undefined}
              >
                {heading && <h3 class="where">{heading}</h3>}
                <p>{isCited ? marked(chunk.text, citation.quote) : chunk.text}</p>
              </section>
            );
          })}
        </div>
      )}
    </dialog>
  );
}
