// The console's frame: login screen or header, navigation and the current screen.
import type { ComponentType } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";

import { Api } from "./api";
import type { Auth } from "./auth";
import { allowed } from "./config";
import { type Session, SessionContext } from "./context";
import { type Lang, initialLang, rememberLang, translator, type Key, type Translate } from "./i18n";
import { currentPath, navigate } from "./router";
import type { Principal } from "./types";
import { Message } from "./ui";
import { AdaptersView } from "./views/adapters";
import { AskView } from "./views/ask";
import { AuditView } from "./views/audit";
import { DatasetsView } from "./views/datasets";
import { DocumentsView } from "./views/documents";
import { JobsView } from "./views/jobs";
import { LoginView } from "./views/login";

interface Screen {
  path: string;
  label: Key;
  method: string;
  view: ComponentType;
}

const SCREENS: Screen[] = [
  { path: "documents", label: "nav.documents", method: "IngestionService.ListDocuments", view: DocumentsView },
  { path: "ask", label: "nav.ask", method: "InferenceService.StreamAnswer", view: AskView },
  { path: "adapters", label: "nav.adapters", method: "InferenceService.ListAdapters", view: AdaptersView },
  { path: "datasets", label: "nav.datasets", method: "TrainingService.ListDatasets", view: DatasetsView },
  { path: "jobs", label: "nav.jobs", method: "TrainingService.ListTrainingJobs", view: JobsView },
  { path: "audit", label: "nav.audit", method: "GatewayService.QueryAuditLog", view: AuditView },
];

function LanguageSwitch({ lang, setLang, t }: { lang: Lang; setLang: (lang: Lang) => void; t: Translate }) {
  return (
    <label class="language">
      <span>{t("language.label")}</span>
      <select value={lang} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
        <option value="en" lang="en">
          English
        </option>
        <option value="es" lang="es">
          Español
        </option>
      </select>
    </label>
  );
}

export function Root({ auth, loginError }: { auth: Auth; loginError: string }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [, setVersion] = useState(0);
  const [me, setMe] = useState<Principal | null>(null);
  const [meError, setMeError] = useState<unknown>(null);
  const [path, setPath] = useState(currentPath);
  const [announcement, setAnnouncement] = useState("");
  const t = useMemo(() => translator(lang), [lang]);
  const api = useMemo(() => new Api(auth), [auth]);

  const setLang = (next: Lang) => {
    rememberLang(next);
    setLangState(next);
  };
  useEffect(() => rememberLang(lang), []);
  useEffect(() => auth.subscribe(() => setVersion((v) => v + 1)), [auth]);
  useEffect(() => {
    const onPop = () => setPath(currentPath());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const loggedIn = auth.loggedIn;
  useEffect(() => {
    if (!loggedIn) {
      setMe(null);
      return;
    }
    setMeError(null);
    api
      .get<{ principal: Principal }>("/api/v1/whoami")
      .then((reply) => setMe(reply.principal))
      .catch(setMeError);
  }, [loggedIn, api]);

  if (!loggedIn) {
    return (
      <div class="login-page">
        <LanguageSwitch lang={lang} setLang={setLang} t={t} />
        <LoginView auth={auth} t={t} error={loginError || auth.ended} />
      </div>
    );
  }
  if (me === null) {
    return (
      <main class="login-page">
        {meError ? (
          <>
            <Message error={meError} />
            <button type="button" onClick={() => auth.logout()}>
              {t("nav.logout")}
            </button>
          </>
        ) : (
          <p>{t("common.loading")}</p>
        )}
      </main>
    );
  }

  const roles = me.roles ?? [];
  const session: Session = {
    config: auth.config,
    auth,
    api,
    me,
    can: (method) => allowed(auth.config, method, roles),
    t,
    lang,
    announce: (message) => {
      // Cleared first so the same message is announced again.
      setAnnouncement("");
      window.setTimeout(() => setAnnouncement(message), 50);
    },
  };
  const screens = SCREENS.filter((screen) => session.can(screen.method));
  const screen = screens.find((s) => s.path === path) ?? screens[0];

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        {t("nav.skip")}
      </a>
      {auth.development && (
        <p class="dev-banner" role="note">
          {t("dev.banner", { identity: auth.headers()["x-sentra-dev-identity"] ?? "" })}
        </p>
      )}
      <header class="top">
        <span class="brand">Sentra</span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {screens.map((s) => (
              <li key={s.path}>
                <a
                  href={`/console/${s.path}`}
                  aria-current={s === screen ? "page" : undefined}
                  onClick={(event) => {
                    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
                    event.preventDefault();
                    navigate(s.path);
                  }}
                >
                  {t(s.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <LanguageSwitch lang={lang} setLang={setLang} t={t} />
        <span class="who" data-testid="who">
          {t("nav.signedIn", {
            name: me.display_name || me.subject,
            roles: roles.map((r) => t(`role.${r}` as Key)).join(", ") || "—",
            departments: (me.departments ?? []).join(", ") || "—",
          })}
        </span>
        <button type="button" class="secondary" onClick={() => auth.logout()}>
          {t("nav.logout")}
        </button>
      </header>
      <div class="sr-only" role="status" aria-live="polite">
        {announcement}
      </div>
      <main id="main" tabIndex={-1}>
        {screen ? <screen.view key={screen.path} /> : <Message notice={t("nav.nothing")} />}
      </main>
    </SessionContext.Provider>
  );
}
