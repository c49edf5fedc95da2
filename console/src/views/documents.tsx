// Documents of the caller's departments: state, why one failed, its per-stage log; upload,
// retry, delete and download for the roles that may.
import { useCallback, useEffect, useState } from "preact/hooks";

import { useSession } from "../context";
import type { Key } from "../i18n";
import type { GetDocumentResponse, ListDocumentsResponse, SentraDocument } from "../types";
import { Badge, Message, PageTitle, enumWord, formatBytes, formatDate, usePolling } from "../ui";
import { Uploader } from "./upload";

const STATES = ["", "processing", "indexed", "failed"];
const STATE_PREFIX = "DOCUMENT_STATE_";

export function StateBadge({ doc }: { doc: SentraDocument }) {
  const { t } = useSession();
  const word = enumWord(doc.state, STATE_PREFIX);
  return <Badge word={word} label={t(`state.${word}` as Key)} />;
}

function DocumentDetails({
  doc,
  onChanged,
}: {
  doc: SentraDocument;
  onChanged: () => void;
}) {
  const { api, t, lang, can, announce } = useSession();
  const [details, setDetails] = useState<GetDocumentResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = doc.document_id;
  const title = doc.title || doc.filename || id;

  const load = useCallback(async () => {
    try {
      setDetails(await api.get<GetDocumentResponse>(`/api/v1/documents/${encodeURIComponent(id)}`));
    } catch (e) {
      setError(e);
    }
  }, [api, id]);
  useEffect(() => void load(), [load, doc.state, doc.updated_at]);

  const act = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      announce(done);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const current = details?.document ?? doc;
  const failed = current.state === "DOCUMENT_STATE_FAILED";

  return (
    <div class="details" id={`document-${id}`}>
      <dl class="facts">
        <dt>{t("documents.file")}</dt>
        <dd>{current.filename}</dd>
        <dt>{t("documents.size")}</dt>
        <dd>{formatBytes(current.size_bytes)}</dd>
        <dt>{t("documents.version")}</dt>
        <dd>{current.version ?? 1}</dd>
        <dt>{t("documents.pages")}</dt>
        <dd>{current.page_count ?? 0}</dd>
        <dt>{t("documents.access")}</dt>
        <dd>{current.access_list?.length ? current.access_list.join(", ") : t("documents.wholeDepartment")}</dd>
        <dt>{t("documents.id")}</dt>
        <dd>
          <code>{id}</code>
        </dd>
      </dl>
      {failed && current.failure_reason && (
        <p class="message error">
          {t("documents.failedAt", { stage: current.failure_stage || "?", reason: current.failure_reason })}
        </p>
      )}
      <div class="actions">
        <button
          type="button"
          disabled={busy}
          onClick={() => act(() => api.download(`/api/v1/documents/${encodeURIComponent(id)}/content`, current.filename || id), t("documents.downloaded", { title }))}
        >
          {t("documents.download")}
        </button>
        {failed && can("IngestionService.RetryDocument") && (
          <button
            type="button"
            disabled={busy}
            onClick={() => act(() => api.post(`/api/v1/documents/${encodeURIComponent(id)}/retry`), t("documents.retried", { title }))}
          >
            {t("documents.retry")}
          </button>
        )}
        {can("IngestionService.DeleteDocument") && (
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => {
              if (window.confirm(t("documents.confirmDelete", { title }))) {
                void act(() => api.delete(`/api/v1/documents/${encodeURIComponent(id)}`), t("documents.deleted", { title }));
              }
            }}
          >
            {t("documents.delete")}
          </button>
        )}
      </div>
      <Message error={error} />
      <table class="stages">
        <caption>{t("documents.stageLog")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("documents.version")}</th>
            <th scope="col">{t("documents.stage")}</th>
            <th scope="col">{t("documents.status")}</th>
            <th scope="col">{t("documents.when")}</th>
            <th scope="col">{t("documents.duration")}</th>
            <th scope="col">{t("documents.detail")}</th>
          </tr>
        </thead>
        <tbody>
          {(details?.stages ?? []).map((stage, index) => (
            <tr key={index} class={stage.status === "failed" ? "failed" : undefined}>
              <td>{stage.version}</td>
              <td>{stage.stage}</td>
              <td>{stage.status}</td>
              <td>{formatDate(stage.at, lang)}</td>
              <td>{stage.duration_ms ? `${stage.duration_ms} ms` : "—"}</td>
              <td>{stage.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function DocumentsView() {
  const { api, t, lang, can, me } = useSession();
  const [department, setDepartment] = useState("");
  const [state, setState] = useState("");
  const [list, setList] = useState<ListDocumentsResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setList(await api.get<ListDocumentsResponse>("/api/v1/documents", { department, state, page_size: 1000 }));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api, department, state]);
  useEffect(() => void load(), [load]);
  const documents = list?.documents ?? [];
  usePolling(documents.some((d) => d.state === "DOCUMENT_STATE_PROCESSING"), 2000, () => void load());

  const counts = list?.state_counts ?? {};
  return (
    <section>
      <PageTitle>{t("documents.title")}</PageTitle>
      {can("IngestionService.UploadDocument") && <Uploader onUploaded={() => void load()} />}
      <div class="filters">
        <label>
          {t("documents.department")}
          <select value={department} onChange={(e) => setDepartment(e.currentTarget.value)}>
            <option value="">{t("common.all")}</option>
            {(me.departments ?? []).map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("documents.state")}
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s ? t(`state.${s.toUpperCase()}` as Key) : t("common.all")}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary" onClick={() => void load()}>
          {t("common.refresh")}
        </button>
        <p class="counts">
          {["INDEXED", "PROCESSING", "FAILED"]
            .map((word) => `${t(`state.${word}` as Key)}: ${counts[`DOCUMENT_STATE_${word}`] ?? counts[word] ?? 0}`)
            .join(" · ")}
        </p>
      </div>
      <Message error={error} />
      {list && documents.length === 0 && <Message notice={t("documents.none")} />}
      {documents.length > 0 && (
        <table class="documents">
          <caption class="sr-only">{t("documents.title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("documents.name")}</th>
              <th scope="col">{t("documents.department")}</th>
              <th scope="col">{t("documents.state")}</th>
              <th scope="col">{t("documents.chunks")}</th>
              <th scope="col">{t("documents.updated")}</th>
            </tr>
          </thead>
          <tbody>
            {documents.map((doc) => {
              const expanded = open === doc.document_id;
              return [
                <tr key={doc.document_id} data-document-id={doc.document_id} data-state={enumWord(doc.state, STATE_PREFIX)}>
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-expanded={expanded}
                      aria-controls={`document-${doc.document_id}`}
                      onClick={() => setOpen(expanded ? null : doc.document_id)}
                    >
                      {doc.title || doc.filename}
                    </button>
                    {doc.title && doc.filename && doc.title !== doc.filename && <div class="sub">{doc.filename}</div>}
                  </td>
                  <td>{doc.department}</td>
                  <td>
                    <StateBadge doc={doc} />
                    {doc.failure_reason && <div class="reason">{doc.failure_reason}</div>}
                  </td>
                  <td>{doc.chunk_count ?? 0}</td>
                  <td>{formatDate(doc.updated_at, lang)}</td>
                </tr>,
                expanded && (
                  <tr key={`${doc.document_id}-details`} class="expanded">
                    <td colSpan={5}>
                      <DocumentDetails
                        doc={doc}
                        onChanged={() => {
                          void load();
                        }}
                      />
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      )}
      {list?.next_page_token && <Message notice={t("documents.more")} />}
    </section>
  );
}
