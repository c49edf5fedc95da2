import { createContext } from "preact";
import { useContext } from "preact/hooks";

import type { Api } from "./api";
import type { Auth } from "./auth";
import type { ConsoleConfig } from "./config";
import type { Lang, Translate } from "./i18n";
import type { Principal } from "./types";

export interface Session {
  config: ConsoleConfig;
  auth: Auth;
  api: Api;
  me: Principal;
  /** May the caller call this method ("IngestionService.DeleteDocument")? */
  can: (method: string) => boolean;
  t: Translate;
  lang: Lang;
  /** Say something to screen readers (a polite live region). */
  announce: (message: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error("no session");
  return session;
}
