// Training jobs of the caller's departments: state, progress, the promotion decision;
// cancel a queued or running one.
import { useCallback, useEffect, useState } from "preact/hooks";

import { useSession } from "../context";
import type { Key } from "../i18n";
import type { TrainingJob } from "../types";
import { Badge, Message, PageTitle, enumWord, formatDate, usePolling } from "../ui";

const TRAINING = "sentra.training.v1.TrainingService";
const ACTIVE = new Set(["QUEUED", "RUNNING", "EVALUATING"]);

export function JobsView() {
  const { api, t, lang, can, announce } = useSession();
  const [jobs, setJobs] = useState<TrainingJob[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setJobs((await api.rpc<{ jobs?: TrainingJob[] }>(TRAINING, "ListTrainingJobs")).jobs ?? []);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api]);
  useEffect(() => void load(), [load]);
  usePolling((jobs ?? []).some((j) => ACTIVE.has(enumWord(j.state, "JOB_STATE_"))), 3000, () => void load());

  const cancel = async (job: TrainingJob) => {
    try {
      await api.rpc(TRAINING, "CancelTrainingJob", { job_id: job.job_id });
      announce(t("jobs.cancelled", { adapter: job.adapter_name ?? "" }));
      await load();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section>
      <PageTitle>{t("jobs.title")}</PageTitle>
      <Message error={error} />
      {jobs && jobs.length === 0 && <Message notice={t("jobs.none")} />}
      {jobs && jobs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("jobs.adapter")}</th>
              <th scope="col">{t("documents.department")}</th>
              <th scope="col">{t("documents.state")}</th>
              <th scope="col">{t("jobs.progress")}</th>
              <th scope="col">{t("jobs.decision")}</th>
              <th scope="col">{t("jobs.created")}</th>
              <th scope="col">{t("common.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => {
              const word = enumWord(job.state, "JOB_STATE_");
              const total = job.total_steps ?? 0;
              return (
                <tr key={job.job_id}>
                  <td>
                    {job.adapter_name}
                    {job.adapter_version ? `@${job.adapter_version}` : ""}
                  </td>
                  <td>{job.department}</td>
                  <td>
                    <Badge word={word} label={t(`jobState.${word}` as Key)} />
                    {word === "QUEUED" && job.queue_position ? ` #${job.queue_position}` : ""}
                    {job.failure_reason && <div class="reason">{job.failure_reason}</div>}
                  </td>
                  <td>
                    {total > 0 && (
                      <progress
                        max={total}
                        value={job.step ?? 0}
                        aria-label={t("jobs.steps", { step: job.step ?? 0, total })}
                      />
                    )}{" "}
                    {total > 0 ? t("jobs.steps", { step: job.step ?? 0, total }) : "—"}
                    {job.loss ? ` · loss ${job.loss.toFixed(3)}` : ""}
                  </td>
                  <td>
                    {job.promoted ? t("jobs.promoted") : ""} {job.decision}
                  </td>
                  <td>
                    {job.created_by} · {formatDate(job.created_at, lang)}
                  </td>
                  <td class="actions">
                    {ACTIVE.has(word) && can("TrainingService.CancelTrainingJob") && (
                      <button type="button" onClick={() => void cancel(job)}>
                        {t("jobs.cancel")}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
