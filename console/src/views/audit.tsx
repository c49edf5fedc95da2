// The audit log (admins): who called what, when, with which result and documents.
import { useCallback, useEffect, useState } from "preact/hooks";

import { useSession } from "../context";
import type { AuditEntry, QueryAuditLogResponse } from "../types";
import { Badge, Message, PageTitle, formatDate } from "../ui";

interface Filters {
  subject: string;
  method: string;
  result: string;
  document_id: string;
}

const EMPTY: Filters = { subject: "", method: "", result: "", document_id: "" };

export function AuditView() {
  const { api, t, lang } = useSession();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(
    async (pageToken = "") => {
      try {
        const reply = await api.get<QueryAuditLogResponse>("/api/v1/audit", {
          ...filters,
          page_size: 100,
          page_token: pageToken,
        });
        setEntries((old) => (pageToken ? [...old, ...(reply.entries ?? [])] : reply.entries ?? []));
        setNext(reply.next_page_token ?? "");
        setError(null);
      } catch (e) {
        setError(e);
      } finally {
        setLoaded(true);
      }
    },
    [api, filters],
  );
  useEffect(() => void load(), [load]);

  const field = (name: keyof Filters, label: string) => (
    <label>
      {label}
      <input value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
    </label>
  );

  return (
    <section>
      <PageTitle>{t("audit.title")}</PageTitle>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        {field("subject", t("audit.subject"))}
        {field("method", t("audit.method"))}
        {field("result", t("audit.result"))}
        {field("document_id", t("audit.document"))}
        <button type="submit">{t("common.filter")}</button>
      </form>
      <Message error={error} />
      {loaded && entries.length === 0 && !error && <Message notice={t("audit.none")} />}
      {entries.length > 0 && (
        <table class="audit">
          <thead>
            <tr>
              <th scope="col">{t("audit.when")}</th>
              <th scope="col">{t("audit.subject")}</th>
              <th scope="col">{t("audit.method")}</th>
              <th scope="col">{t("audit.result")}</th>
              <th scope="col">{t("documents.department")}</th>
              <th scope="col">{t("audit.documents")}</th>
              <th scope="col">{t("audit.detail")}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.id}>
                <td>{formatDate(entry.at, lang)}</td>
                <td>{entry.subject || "—"}</td>
                <td>
                  <code>{(entry.method ?? "").split("/").slice(-2).join(".")}</code>
                </td>
                <td>
                  <Badge word={entry.result === "OK" ? "OK" : "FAILED"} label={entry.result ?? ""} />
                </td>
                <td>{entry.department || "—"}</td>
                <td>{(entry.document_ids ?? []).length || "—"}</td>
                <td class="detail">{entry.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" class="secondary" onClick={() => void load(next)}>
          {t("common.more")}
        </button>
      )}
    </section>
  );
}
