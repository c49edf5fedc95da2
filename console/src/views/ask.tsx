// Ask: a question answered from the caller's documents, streamed as it is written, with its
// sources; opening a source shows the document at the quoted place.
import { useRef, useState } from "preact/hooks";

import { useSession } from "../context";
import type { AnswerExtensions, Citation } from "../types";
import { Message, PageTitle, errorText } from "../ui";
import { DocumentViewer } from "./viewer";

interface Exchange {
  key: number;
  question: string;
  text: string;
  citations: Citation[];
  sentra: AnswerExtensions | null;
  error: string;
  streaming: boolean;
}

let nextKey = 1;

function Sources({ citations, onOpen }: { citations: Citation[]; onOpen: (c: Citation) => void }) {
  const { t } = useSession();
  if (citations.length === 0) return null;
  return (
    <section class="sources">
      <h3>{t("ask.sources")}</h3>
      <ol>
        {citations.map((citation) => (
          <li key={citation.number} value={citation.number}>
            <button type="button" class="citation" onClick={() => onOpen(citation)} data-citation={citation.number}>
              <q>{citation.quote}</q>
              <span class="where">
                {citation.title}
                {citation.page ? ` · ${t("viewer.page", { page: citation.page })}` : ""}
                {citation.heading ? ` · ${citation.heading}` : ""}
              </span>
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** The answer's text with each "[n]" that names a source as a button opening it. */
function AnswerText({ text, citations, onOpen }: { text: string; citations: Citation[]; onOpen: (c: Citation) => void }) {
  const { t } = useSession();
  if (citations.length === 0) return <>{text}</>;
  return (
    <>
      {text.split(/(\[\d+\])/).map((part) => {
        const number = /^\[(\d+)\]$/.exec(part)?.[1];
        const citation = citations.find((c) => String(c.number) === number);
        if (!citation) return part;
        return (
          <button type="button" class="cite" aria-label={t("ask.openSource", { number: citation.number })} onClick={() => onOpen(citation)}>
            {part}
          </button>
        );
      })}
    </>
  );
}

export function AskView() {
  const { api, t, me, announce } = useSession();
  const [question, setQuestion] = useState("");
  const [department, setDepartment] = useState("");
  const [exchanges, setExchanges] = useState<Exchange[]>([]);
  const [opened, setOpened] = useState<Citation | null>(null);
  const controller = useRef<AbortController | null>(null);
  const streaming = exchanges.some((e) => e.streaming);

  const update = (key: number, change: (e: Exchange) => Partial<Exchange>) =>
    setExchanges((all) => all.map((e) => (e.key === key ? { ...e, ...change(e) } : e)));

  const ask = async (event: Event) => {
    event.preventDefault();
    const text = question.trim();
    if (!text || streaming) return;
    const key = nextKey++;
    setExchanges((all) => [
      { key, question: text, text: "", citations: [], sentra: null, error: "", streaming: true },
      ...all,
    ]);
    setQuestion("");
    const abort = new AbortController();
    controller.current = abort;
    try {
      for await (const part of api.ask(text, department ? [department] : [], abort.signal)) {
        if (part.kind === "text") update(key, (e) => ({ text: e.text + part.text }));
        else update(key, () => ({ citations: part.citations, sentra: part.sentra }));
      }
      update(key, () => ({ streaming: false }));
      announce(t("ask.done"));
    } catch (error) {
      const stopped = abort.signal.aborted;
      update(key, () => ({ streaming: false, error: stopped ? t("ask.stopped") : errorText(error) }));
    }
  };

  return (
    <section>
      <PageTitle>{t("ask.title")}</PageTitle>
      <form class="card ask" onSubmit={ask}>
        <label for="question">{t("ask.question")}</label>
        <textarea
          id="question"
          rows={3}
          value={question}
          onInput={(e) => setQuestion(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void ask(e);
          }}
          aria-describedby="question-hint"
        />
        <p id="question-hint" class="hint">
          {t("ask.hint")}
        </p>
        <div class="row">
          <label>
            {t("ask.department")}
            <select value={department} onChange={(e) => setDepartment(e.currentTarget.value)}>
              <option value="">{t("common.all")}</option>
              {(me.departments ?? []).map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="primary" disabled={streaming || !question.trim()}>
            {t("ask.submit")}
          </button>
          {streaming && (
            <button type="button" class="secondary" onClick={() => controller.current?.abort()}>
              {t("ask.stop")}
            </button>
          )}
        </div>
      </form>
      {exchanges.map((exchange) => (
        <article class="card exchange" key={exchange.key} aria-labelledby={`q-${exchange.key}`}>
          <h2 id={`q-${exchange.key}`} class="question">
            {exchange.question}
          </h2>
          <div class="answer" aria-live="polite" aria-busy={exchange.streaming} data-testid="answer">
            {exchange.text ? (
              <AnswerText text={exchange.text} citations={exchange.citations} onOpen={setOpened} />
            ) : exchange.streaming ? (
              t("ask.thinking")
            ) : (
              ""
            )}
          </div>
          {exchange.sentra?.not_found && <Message notice={t("ask.notFound")} />}
          {exchange.sentra?.adapter && <p class="hint">{t("ask.adapter", { adapter: exchange.sentra.adapter })}</p>}
          <Message error={exchange.error} />
          <Sources citations={exchange.citations} onOpen={setOpened} />
        </article>
      ))}
      {opened && <DocumentViewer citation={opened} onClose={() => setOpened(null)} />}
    </section>
  );
}
