// What the gateway tells the console about itself (`/console/config.json`): how people log
// in and which roles may call which method (the gateway's permission table, so the console
// shows only the actions a role may take; the gateway still checks every call).

export type IdentityMode = "keycloak" | "development";

export interface ConsoleConfig {
  identity_mode: IdentityMode;
  issuer: string;
  client_id: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint: string;
  /** "IngestionService.DeleteDocument" → roles allowed (empty: anyone logged in). */
  permissions: Record<string, string[]>;
  roles: string[];
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch("/console/config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`/console/config.json answered ${response.status}`);
  }
  return (await response.json()) as ConsoleConfig;
}

/** May a caller with these roles call this method? */
export function allowed(config: ConsoleConfig, method: string, roles: readonly string[]): boolean {
  const needed = config.permissions[method];
  if (needed === undefined) return false;
  return needed.length === 0 || roles.some((role) => needed.includes(role));
}
