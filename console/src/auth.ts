// Who the console calls the API as.
//
// Keycloak: the authorization-code flow with PKCE (S256) for the public client
// `sentra-console`. Tokens live in memory only (a reload logs in again, silently while the
// realm's session lasts); the access token is refreshed with the refresh token before it
// expires. Only the PKCE verifier and the state cross the redirect, in sessionStorage, and
// are removed as soon as the code is exchanged.
//
// Development identity (the gateway's `development` mode, loopback only): there is no
// login; the person picks who to be and every call asserts it in `x-sentra-dev-identity`.

import type { ConsoleConfig } from "./config";

const PENDING_KEY = "sentra.console.login";
const REFRESH_MARGIN_SECONDS = 30;

interface Tokens {
  access: string;
  refresh?: string;
  idToken?: string;
  expiresAt: number; // epoch ms
}

interface PendingLogin {
  verifier: string;
  state: string;
  returnTo: string;
}

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
}

export class LoginError extends Error {}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri(): string {
  return `${location.origin}/console/callback`;
}

export class Auth {
  private tokens: Tokens | null = null;
  private devIdentity: string | null = null;
  private timer: number | undefined;
  private readonly listeners = new Set<() => void>();
  /** Why the session ended, when it ended on its own (refresh refused). */
  ended = "";

  constructor(readonly config: ConsoleConfig) {}

  get development(): boolean {
    return this.config.identity_mode === "development";
  }

  get loggedIn(): boolean {
    return this.tokens !== null || this.devIdentity !== null;
  }

  /** The headers that say who calls: a bearer token, or the development identity. */
  headers(): Record<string, string> {
    if (this.devIdentity !== null) return { "x-sentra-dev-identity": this.devIdentity };
    if (this.tokens !== null) return { Authorization: `Bearer ${this.tokens.access}` };
    return {};
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  // Development identity -----------------------------------------------------------------

  /** `subject:dept1,dept2:role1,role2`, as the gateway parses it. */
  devLogin(subject: string, departments: string[], roles: string[]): void {
    if (!this.development) throw new LoginError("the gateway does not run a development identity");
    const clean = (values: string[]) => values.map((v) => v.trim()).filter(Boolean).join(",");
    this.devIdentity = `${subject.trim()}:${clean(departments)}:${clean(roles)}`;
    this.ended = "";
    this.changed();
  }

  // Keycloak -----------------------------------------------------------------------------

  /** Send the browser to the realm's login page; it comes back to /console/callback. */
  async login(returnTo: string): Promise<void> {
    const pending: PendingLogin = { verifier: randomString(48), state: randomString(), returnTo };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const params = new URLSearchParams({
      client_id: this.config.client_id,
      redirect_uri: redirectUri(),
      response_type: "code",
      // openid: the gateway confirms each session with the realm's userinfo endpoint.
      scope: "openid",
      state: pending.state,
      code_challenge: await challengeOf(pending.verifier),
      code_challenge_method: "S256",
    });
    location.assign(`${this.config.authorization_endpoint}?${params}`);
  }

  /** Finish a login on /console/callback: check the state, exchange the code. Returns the
   * console path to go back to. */
  async completeLogin(url: URL): Promise<string> {
    const raw = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    const error = url.searchParams.get("error");
    if (error) {
      throw new LoginError(url.searchParams.get("error_description") || error);
    }
    const code = url.searchParams.get("code");
    const pending = raw ? (JSON.parse(raw) as PendingLogin) : null;
    if (!code || !pending || url.searchParams.get("state") !== pending.state) {
      throw new LoginError("the login answer does not belong to this page; log in again");
    }
    await this.tokenRequest({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
    });
    return pending.returnTo;
  }

  private async tokenRequest(form: Record<string, string>): Promise<void> {
    const response = await fetch(this.config.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.config.client_id, ...form }),
    });
    const body = (await response.json().catch(() => ({}))) as Partial<TokenResponse> & {
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !body.access_token) {
      throw new LoginError(body.error_description || body.error || `the realm answered ${response.status}`);
    }
    this.tokens = {
      access: body.access_token,
      refresh: body.refresh_token ?? this.tokens?.refresh,
      idToken: body.id_token ?? this.tokens?.idToken,
      expiresAt: Date.now() + (body.expires_in ?? 60) * 1000,
    };
    this.ended = "";
    this.scheduleRefresh();
    this.changed();
  }

  private scheduleRefresh(): void {
    window.clearTimeout(this.timer);
    if (!this.tokens?.refresh) return;
    const wait = Math.max(5_000, this.tokens.expiresAt - Date.now() - REFRESH_MARGIN_SECONDS * 1000);
    this.timer = window.setTimeout(() => void this.refresh(), wait);
  }

  /** A new access token from the refresh token; false (and logged out) when the realm
   * refuses it (session ended, user disabled). */
  async refresh(): Promise<boolean> {
    const refresh = this.tokens?.refresh;
    if (!refresh) return false;
    try {
      await this.tokenRequest({ grant_type: "refresh_token", refresh_token: refresh });
      return true;
    } catch (error) {
      this.clear(error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  private clear(reason = ""): void {
    window.clearTimeout(this.timer);
    this.tokens = null;
    this.devIdentity = null;
    this.ended = reason;
    this.changed();
  }

  /** Forget the tokens and end the realm's session (back to the console's start). */
  logout(): void {
    const idToken = this.tokens?.idToken;
    const keycloak = this.tokens !== null;
    this.clear();
    if (keycloak) {
      const params = new URLSearchParams({
        client_id: this.config.client_id,
        post_logout_redirect_uri: `${location.origin}/console/`,
      });
      if (idToken) params.set("id_token_hint", idToken);
      location.assign(`${this.config.end_session_endpoint}?${params}`);
    }
  }
}
