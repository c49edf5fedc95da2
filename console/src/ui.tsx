// Small shared pieces: messages, state badges, dates and sizes.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

import { ApiError } from "./api";
import type { Lang, Translate } from "./i18n";

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** An error (role=alert: read out at once) or a notice. */
export function Message({ error, notice }: { error?: unknown; notice?: string }) {
  if (error) {
    return (
      <p class="message error" role="alert">
        {errorText(error)}
      </p>
    );
  }
  if (notice) return <p class="message notice">{notice}</p>;
  return null;
}

const STATE_CLASS: Record<string, string> = {
  INDEXED: "ok",
  READY: "ok",
  SUCCEEDED: "ok",
  ACTIVE: "ok",
  OK: "ok",
  PROCESSING: "busy",
  GENERATING: "busy",
  RUNNING: "busy",
  QUEUED: "busy",
  EVALUATING: "busy",
  REGISTERED: "idle",
  INACTIVE: "idle",
  PENDING: "idle",
  FAILED: "bad",
  CANCELLED: "idle",
  APPROVED: "ok",
  REJECTED: "bad",
  WITHDRAWN: "idle",
};

/** The last word of an enum name: DOCUMENT_STATE_INDEXED → INDEXED. */
export function enumWord(value: string | undefined, prefix: string): string {
  return (value ?? "").replace(prefix, "") || "UNSPECIFIED";
}

export function Badge({ word, label }: { word: string; label: string }) {
  return <span class={`badge ${STATE_CLASS[word] ?? "idle"}`}>{label}</span>;
}

export function formatDate(value: string | undefined, lang: Lang): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleString(lang === "es" ? "es-ES" : "en-GB", { dateStyle: "short", timeStyle: "medium" });
}

export function formatBytes(value: string | number | undefined): string {
  const bytes = Number(value ?? 0);
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A page heading that takes the focus when the screen opens, so keyboard and screen-reader
 * users start at the top of the new screen. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

export function Loading({ t }: { t: Translate }) {
  return <p class="loading">{t("common.loading")}</p>;
}

/** Run `tick` every `ms` while `active`. */
export function usePolling(active: boolean, ms: number, tick: () => void): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return undefined;
    const id = window.setInterval(() => latest.current(), ms);
    return () => window.clearInterval(id);
  }, [active, ms]);
}
