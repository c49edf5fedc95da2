// Datasets (trainers and admins): versions of the caller's departments, their generation,
// and the review of their items — approve, reject, edit, approve by score — and export.
import { useCallback, useEffect, useState } from "preact/hooks";

import { useSession } from "../context";
import type { Key } from "../i18n";
import type { Dataset, DatasetItem, ListDatasetItemsResponse } from "../types";
import { Badge, Message, PageTitle, enumWord, formatDate, usePolling } from "../ui";

const STATUSES = ["", "pending", "approved", "rejected", "withdrawn"];

function ItemRow({ item, onReview, onEdit, busy }: {
  item: DatasetItem;
  onReview: (decision: string) => void;
  onEdit: (question: string, answer: string) => void;
  busy: boolean;
}) {
  const { t } = useSession();
  const [editing, setEditing] = useState(false);
  const [question, setQuestion] = useState(item.question ?? "");
  const [answer, setAnswer] = useState(item.answer ?? "");
  const word = enumWord(item.status, "ITEM_STATUS_");
  const open = word === "PENDING" || word === "APPROVED" || word === "REJECTED";
  return (
    <tr data-item-id={item.item_id}>
      <td>
        {editing ? (
          <form
            class="edit"
            onSubmit={(e) => {
              e.preventDefault();
              onEdit(question, answer);
              setEditing(false);
            }}
          >
            <label>
              {t("datasets.question")}
              <textarea rows={2} value={question} onInput={(e) => setQuestion(e.currentTarget.value)} />
            </label>
            <label>
              {t("datasets.answer")}
              <input value={answer} onInput={(e) => setAnswer(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={busy}>
              {t("common.save")}
            </button>
            <button type="button" class="secondary" onClick={() => setEditing(false)}>
              {t("common.cancel")}
            </button>
          </form>
        ) : (
          <>
            <p class="question">{item.question}</p>
            <p>
              <strong>{t("datasets.answer")}:</strong> {item.answer}
            </p>
            {item.context && (
              <details>
                <summary>{t("datasets.context", { title: item.document_title ?? "" })}</summary>
                <p class="context">{item.context}</p>
              </details>
            )}
          </>
        )}
      </td>
      <td>{item.split}</td>
      <td>{(item.score ?? 0).toFixed(2)}</td>
      <td>
        <Badge word={word} label={t(`itemStatus.${word}` as Key)} />
        {item.edited && <div class="sub">{t("datasets.edited")}</div>}
      </td>
      <td class="actions">
        {open && word !== "APPROVED" && (
          <button type="button" disabled={busy} onClick={() => onReview("approved")}>
            {t("datasets.approve")}
          </button>
        )}
        {open && word !== "REJECTED" && (
          <button type="button" disabled={busy} onClick={() => onReview("rejected")}>
            {t("datasets.reject")}
          </button>
        )}
        {open && !editing && (
          <button type="button" class="secondary" disabled={busy} onClick={() => setEditing(true)}>
            {t("datasets.edit")}
          </button>
        )}
      </td>
    </tr>
  );
}

function DatasetItems({ dataset, onChanged }: { dataset: Dataset; onChanged: () => void }) {
  const { api, t, can, announce } = useSession();
  const [status, setStatus] = useState("pending");
  const [text, setText] = useState("");
  const [reply, setReply] = useState<ListDatasetItemsResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [minScore, setMinScore] = useState("0.8");
  const path = `/api/v1/datasets/${encodeURIComponent(dataset.dataset_id)}`;
  const mayReview = can("TrainingService.ReviewDatasetItems");

  const load = useCallback(async () => {
    try {
      setReply(await api.get<ListDatasetItemsResponse>(`${path}/items`, { status, text, page_size: 200 }));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api, path, status, text]);
  useEffect(() => void load(), [load]);

  const act = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    try {
      await what();
      announce(done);
      await load();
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="card">
      <h2>{t("datasets.items", { department: dataset.department ?? "", version: dataset.version ?? 0 })}</h2>
      <div class="filters">
        <label>
          {t("datasets.status")}
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s ? t(`itemStatus.${s.toUpperCase()}` as Key) : t("common.all")}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("datasets.search")}
          <input value={text} onChange={(e) => setText(e.currentTarget.value)} />
        </label>
        {mayReview && (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act(
                () => api.post(`${path}/review`, { decision: "approved", min_score: Number(minScore) }),
                t("datasets.approvedByScore", { score: minScore }),
              );
            }}
          >
            <label>
              {t("datasets.minScore")}
              <input type="number" min="0" max="1" step="0.05" value={minScore} onInput={(e) => setMinScore(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={busy}>
              {t("datasets.approveByScore")}
            </button>
          </form>
        )}
        <button
          type="button"
          class="secondary"
          onClick={() => void act(() => api.download(`${path}/export`, `dataset-${dataset.dataset_id}.jsonl`), t("datasets.exported"))}
        >
          {t("datasets.export")}
        </button>
      </div>
      <Message error={error} />
      {reply && <p class="counts">{t("datasets.total", { total: reply.total ?? 0 })}</p>}
      {(reply?.items ?? []).length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("datasets.question")}</th>
              <th scope="col">{t("datasets.split")}</th>
              <th scope="col">{t("datasets.score")}</th>
              <th scope="col">{t("datasets.status")}</th>
              <th scope="col">{t("common.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {(reply?.items ?? []).map((item) => (
              <ItemRow
                key={item.item_id}
                item={item}
                busy={busy || !mayReview}
                onReview={(decision) =>
                  void act(() => api.post(`${path}/review`, { decision, item_ids: [item.item_id] }), t(`datasets.${decision}` as Key))
                }
                onEdit={(question, answer) =>
                  void act(
                    () => api.post(`${path}/items/${encodeURIComponent(item.item_id)}`, { question, answer }, "PATCH"),
                    t("datasets.saved"),
                  )
                }
              />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function DatasetsView() {
  const { api, t, lang, me, can, announce } = useSession();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [department, setDepartment] = useState(me.departments?.[0] ?? "");

  const load = useCallback(async () => {
    try {
      setDatasets((await api.get<{ datasets?: Dataset[] }>("/api/v1/datasets")).datasets ?? []);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api]);
  useEffect(() => void load(), [load]);
  usePolling((datasets ?? []).some((d) => d.state === "DATASET_STATE_GENERATING"), 3000, () => void load());

  const create = async (event: Event) => {
    event.preventDefault();
    try {
      await api.post("/api/v1/datasets", { department });
      announce(t("datasets.created", { department }));
      await load();
    } catch (e) {
      setError(e);
    }
  };
  const current = (datasets ?? []).find((d) => d.dataset_id === selected);

  return (
    <section>
      <PageTitle>{t("datasets.title")}</PageTitle>
      {can("TrainingService.CreateDataset") && (
        <form class="filters" onSubmit={create}>
          <label>
            {t("documents.department")}
            <select value={department} onChange={(e) => setDepartment(e.currentTarget.value)}>
              {(me.departments ?? []).map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">{t("datasets.create")}</button>
        </form>
      )}
      <Message error={error} />
      {datasets && datasets.length === 0 && <Message notice={t("datasets.none")} />}
      {datasets && datasets.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("datasets.version")}</th>
              <th scope="col">{t("documents.state")}</th>
              <th scope="col">{t("datasets.review")}</th>
              <th scope="col">{t("datasets.splits")}</th>
              <th scope="col">{t("datasets.createdBy")}</th>
            </tr>
          </thead>
          <tbody>
            {datasets.map((d) => {
              const word = enumWord(d.state, "DATASET_STATE_");
              return (
                <tr key={d.dataset_id} aria-selected={selected === d.dataset_id}>
                  <td>
                    <button type="button" class="link" onClick={() => setSelected(d.dataset_id)}>
                      {d.department} v{d.version}
                    </button>
                  </td>
                  <td>
                    <Badge word={word} label={t(`datasetState.${word}` as Key)} />
                    {word === "GENERATING" && ` ${d.chunks_done ?? 0}/${d.chunks_total ?? 0}`}
                    {d.failure_reason && <div class="reason">{d.failure_reason}</div>}
                  </td>
                  <td>
                    {t("datasets.reviewCounts", {
                      pending: d.pending ?? 0,
                      approved: d.approved ?? 0,
                      rejected: d.rejected ?? 0,
                    })}
                  </td>
                  <td>
                    {d.train_examples ?? 0} / {d.validation_examples ?? 0} / {d.test_examples ?? 0}
                  </td>
                  <td>
                    {d.created_by} · {formatDate(d.created_at, lang)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {current && <DatasetItems key={current.dataset_id} dataset={current} onChanged={() => void load()} />}
    </section>
  );
}
