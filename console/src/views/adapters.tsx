// Adapters of the caller's departments and the aliases answers use; activate, deactivate
// and roll back for the roles that may (InferenceService through /api/v1/rpc).
import { useCallback, useEffect, useState } from "preact/hooks";

import { useSession } from "../context";
import type { Key } from "../i18n";
import type { ListAdaptersResponse } from "../types";
import { Badge, Message, PageTitle, enumWord, formatDate } from "../ui";

const INFERENCE = "sentra.inference.v1.InferenceService";

export function AdaptersView() {
  const { api, t, lang, can, announce } = useSession();
  const [reply, setReply] = useState<ListAdaptersResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setReply(await api.rpc<ListAdaptersResponse>(INFERENCE, "ListAdapters"));
    } catch (e) {
      setError(e);
    }
  }, [api]);
  useEffect(() => void load(), [load]);

  const act = async (method: string, body: object, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await api.rpc(INFERENCE, method, body);
      announce(done);
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const aliases = reply?.aliases ?? [];
  const adapters = reply?.adapters ?? [];
  return (
    <section>
      <PageTitle>{t("adapters.title")}</PageTitle>
      {reply?.base_model && <p>{t("adapters.base", { model: reply.base_model })}</p>}
      <Message error={error} />
      <h2>{t("adapters.aliases")}</h2>
      {reply && aliases.length === 0 && <Message notice={t("adapters.noAliases")} />}
      {aliases.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("adapters.alias")}</th>
              <th scope="col">{t("documents.department")}</th>
              <th scope="col">{t("adapters.serves")}</th>
              <th scope="col">{t("adapters.previous")}</th>
              <th scope="col">{t("common.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {aliases.map((alias) => (
              <tr key={alias.alias}>
                <td>{alias.alias}</td>
                <td>{alias.department}</td>
                <td>
                  {alias.active ? `${alias.adapter}@${alias.version}` : <Badge word="INACTIVE" label={t("adapters.off")} />}
                </td>
                <td>{alias.previous_version ? `${alias.adapter}@${alias.previous_version}` : "—"}</td>
                <td class="actions">
                  {alias.active && can("InferenceService.DeactivateAdapter") && (
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => act("DeactivateAdapter", { name: alias.alias }, t("adapters.deactivated", { name: alias.alias }))}
                    >
                      {t("adapters.deactivate")}
                    </button>
                  )}
                  {alias.previous_version && can("InferenceService.RollbackAdapter") ? (
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => act("RollbackAdapter", { name: alias.alias }, t("adapters.rolledBack", { name: alias.alias }))}
                    >
                      {t("adapters.rollback", { version: alias.previous_version })}
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>{t("adapters.versions")}</h2>
      {reply && adapters.length === 0 && <Message notice={t("adapters.none")} />}
      {adapters.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("adapters.name")}</th>
              <th scope="col">{t("documents.department")}</th>
              <th scope="col">{t("documents.state")}</th>
              <th scope="col">{t("adapters.metrics")}</th>
              <th scope="col">{t("adapters.created")}</th>
              <th scope="col">{t("common.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {adapters.map((adapter) => {
              const word = enumWord(adapter.state, "ADAPTER_STATE_");
              const label = `${adapter.name}@${adapter.version ?? 0}`;
              const serving = aliases.some((a) => a.active && a.adapter === adapter.name && a.version === adapter.version);
              return (
                <tr key={label}>
                  <td>{label}</td>
                  <td>{adapter.department}</td>
                  <td>
                    <Badge word={word} label={t(`adapterState.${word}` as Key)} />
                    {adapter.error && <div class="reason">{adapter.error}</div>}
                  </td>
                  <td>
                    {Object.entries(adapter.metrics ?? {})
                      .slice(0, 4)
                      .map(([k, v]) => `${k} ${Number(v).toFixed(3)}`)
                      .join(" · ") || "—"}
                  </td>
                  <td>{formatDate(adapter.created_at, lang)}</td>
                  <td class="actions">
                    {!serving && word !== "FAILED" && can("InferenceService.ActivateAdapter") && (
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() =>
                          act("ActivateAdapter", { name: adapter.name, version: adapter.version }, t("adapters.activated", { name: label }))
                        }
                      >
                        {t("adapters.activate")}
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
