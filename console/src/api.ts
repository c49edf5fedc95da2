// The gateway's HTTP API, as the logged-in person. Every call goes through the gateway's one
// path (token, permission table, rate limit, audit); the console never decides access.

import type { Auth } from "./auth";
import type { AnswerExtensions, Citation, UploadDocumentResponse } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const RPC = "/api/v1/rpc/";

async function errorOf(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: string; message?: string };
    detail?: unknown;
  } | null;
  const error = body?.error;
  const message = error?.message || (body?.detail ? JSON.stringify(body.detail) : response.statusText);
  return new ApiError(response.status, String(error?.code ?? response.status), message);
}

/** One event of a streamed answer. */
export type AnswerEvent =
  | { kind: "text"; text: string }
  | { kind: "final"; citations: Citation[]; sentra: AnswerExtensions };

export interface UploadProgress {
  loaded: number;
  total: number;
}

export class Api {
  constructor(private readonly auth: Auth) {}

  private async send(path: string, init: RequestInit = {}, retried = false): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string> | undefined), ...this.auth.headers() };
    const response = await fetch(path, { ...init, headers });
    // An access token that expired meanwhile (the machine slept): refresh once and retry.
    if (response.status === 401 && !retried && !this.auth.development && (await this.auth.refresh())) {
      return this.send(path, init, true);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== "") params.set(key, String(value));
    }
    const encoded = params.toString();
    const suffix = encoded ? `?${encoded}` : "";
    return (await (await this.send(path + suffix)).json()) as T;
  }

  async post<T>(path: string, body: unknown = {}, method = "POST"): Promise<T> {
    const response = await this.send(path, {
      method,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await response.json()) as T;
  }

  async delete(path: string): Promise<void> {
    await this.send(path, { method: "DELETE" });
  }

  /** Any unary RPC of the public API, e.g. rpc("sentra.inference.v1.InferenceService", "ListAdapters"). */
  rpc<T>(service: string, method: string, body: unknown = {}): Promise<T> {
    return this.post<T>(`${RPC}${service}/${method}`, body);
  }

  /** A file to the browser's downloads, fetched with the caller's credentials. */
  async download(path: string, filename: string): Promise<void> {
    const blob = await (await this.send(path)).blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  /** Upload one document (multipart), reporting progress; XMLHttpRequest because fetch
   * reports no upload progress. */
  upload(
    file: File,
    department: string,
    onProgress: (progress: UploadProgress) => void,
  ): { done: Promise<UploadDocumentResponse>; abort: () => void } {
    const xhr = new XMLHttpRequest();
    const done = new Promise<UploadDocumentResponse>((resolve, reject) => {
      xhr.open("POST", "/api/v1/documents");
      for (const [name, value] of Object.entries(this.auth.headers())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => onProgress({ loaded: event.loaded, total: event.total || file.size });
      xhr.onload = () => {
        let body: { error?: { code?: string; message?: string } } & Partial<UploadDocumentResponse> = {};
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* not JSON: the status says enough */
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body as UploadDocumentResponse);
        else reject(new ApiError(xhr.status, body.error?.code ?? String(xhr.status), body.error?.message ?? xhr.statusText));
      };
      xhr.onerror = () => reject(new ApiError(0, "NETWORK", "the gateway cannot be reached"));
      xhr.onabort = () => reject(new ApiError(0, "CANCELLED", "cancelled"));
      const form = new FormData();
      form.append("department", department);
      form.append("file", file, file.name);
      xhr.send(form);
    });
    return { done, abort: () => xhr.abort() };
  }

  /** A question answered from the caller's documents, streamed: the OpenAI-compatible
   * `/v1/chat/completions` with `stream: true` (server-sent events); the citations ride
   * on the last content chunk. */
  async *ask(question: string, departments: string[], signal: AbortSignal): AsyncGenerator<AnswerEvent> {
    const response = await this.send("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({
        model: "sentra",
        stream: true,
        messages: [{ role: "user", content: question }],
        sentra: { departments },
      }),
      signal,
    });
    if (!response.body) throw new ApiError(0, "NETWORK", "the answer has no body");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") return;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new ApiError(0, String(chunk.error.code ?? "ERROR"), chunk.error.message);
          const content: string | undefined = chunk.choices?.[0]?.delta?.content;
          if (content) yield { kind: "text", text: content };
          if (chunk.citations) yield { kind: "final", citations: chunk.citations, sentra: chunk.sentra };
        }
      }
    }
  }
}
