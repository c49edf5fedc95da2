// Logging in: Keycloak's login page (authorization code + PKCE), or — only when the gateway
// runs its development identity — a form that picks who to be.
import { useState } from "preact/hooks";

import type { Auth } from "../auth";
import type { Key, Translate } from "../i18n";
import { currentPath } from "../router";
import { Message, errorText } from "../ui";

const ROLES = ["member", "trainer", "dept-admin", "platform-admin"];

function DevLogin({ auth, t }: { auth: Auth; t: Translate }) {
  const [subject, setSubject] = useState("ana");
  const [departments, setDepartments] = useState("legal");
  const [role, setRole] = useState("dept-admin");
  const [error, setError] = useState("");
  return (
    <form
      class="card"
      onSubmit={(event) => {
        event.preventDefault();
        try {
          auth.devLogin(subject, departments.split(","), [role]);
        } catch (e) {
          setError(errorText(e));
        }
      }}
    >
      <p class="dev-banner" role="note">
        {t("dev.explain")}
      </p>
      <label>
        {t("dev.subject")}
        <input required value={subject} onInput={(e) => setSubject(e.currentTarget.value)} autoComplete="off" />
      </label>
      <label>
        {t("dev.departments")}
        <input value={departments} onInput={(e) => setDepartments(e.currentTarget.value)} autoComplete="off" />
      </label>
      <label>
        {t("dev.role")}
        <select value={role} onChange={(e) => setRole(e.currentTarget.value)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`role.${r}` as Key)}
            </option>
          ))}
        </select>
      </label>
      <Message error={error} />
      <button type="submit">{t("dev.enter")}</button>
    </form>
  );
}

export function LoginView({ auth, t, error }: { auth: Auth; t: Translate; error: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <main class="login" id="main">
      <h1>Sentra</h1>
      <p>{t("login.intro")}</p>
      {error && <Message error={t("login.failed", { reason: error })} />}
      {auth.development ? (
        <DevLogin auth={auth} t={t} />
      ) : (
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            void auth.login(currentPath() || "documents");
          }}
        >
          {t("login.button")}
        </button>
      )}
    </main>
  );
}
