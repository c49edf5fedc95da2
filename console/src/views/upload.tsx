// Upload: drop files or choose them (several at once), each with its own progress bar; the
// phase of each upload (uploading, processing, failed) is read out by screen readers.
import { useRef, useState } from "preact/hooks";

import { useSession } from "../context";
import { errorText } from "../ui";

interface UploadItem {
  key: number;
  name: string;
  size: number;
  loaded: number;
  phase: "uploading" | "done" | "failed";
  message: string;
}

let nextKey = 1;

export function Uploader({ onUploaded }: { onUploaded: () => void }) {
  const { api, t, me } = useSession();
  const departments = me.departments ?? [];
  const [department, setDepartment] = useState(departments[0] ?? "");
  const [items, setItems] = useState<UploadItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const update = (key: number, change: Partial<UploadItem>) =>
    setItems((all) => all.map((item) => (item.key === key ? { ...item, ...change } : item)));

  const start = (files: Iterable<File>) => {
    for (const file of files) {
      const key = nextKey++;
      setItems((all) => [
        { key, name: file.name, size: file.size, loaded: 0, phase: "uploading", message: t("upload.uploading") },
        ...all,
      ]);
      const { done } = api.upload(file, department, (progress) => update(key, { loaded: progress.loaded, size: progress.total }));
      done
        .then((reply) => {
          const outcome = (reply.outcome ?? "").replace("UPLOAD_OUTCOME_", "");
          const message = outcome === "UNCHANGED" ? t("upload.unchanged") : t("upload.processing");
          setItems((all) => all.map((item) => (item.key === key ? { ...item, loaded: item.size, phase: "done", message } : item)));
          onUploaded();
        })
        .catch((error) => update(key, { phase: "failed", message: t("upload.failed", { reason: errorText(error) }) }));
    }
  };

  return (
    <section class="card upload" aria-labelledby="upload-title">
      <h2 id="upload-title">{t("upload.title")}</h2>
      <label>
        {t("upload.department")}
        <select value={department} onChange={(e) => setDepartment(e.currentTarget.value)} required>
          {departments.map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
      </label>
      <div
        class={dragging ? "dropzone over" : "dropzone"}
        data-testid="dropzone"
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault();
          setDragging(false);
          if (event.dataTransfer?.files.length) start(Array.from(event.dataTransfer.files));
        }}
      >
        <p>{t("upload.drop")}</p>
        <label class="button file">
          {t("upload.choose")}
          <input
            ref={input}
            type="file"
            multiple
            onChange={(event) => {
              const files = event.currentTarget.files;
              if (files?.length) start(Array.from(files));
              if (input.current) input.current.value = "";
            }}
          />
        </label>
      </div>
      {items.length > 0 && (
        <ul class="uploads" aria-live="polite" aria-label={t("upload.list")}>
          {items.map((item) => (
            <li key={item.key} class={item.phase} data-upload={item.name} data-phase={item.phase}>
              <span class="name">{item.name}</span>
              <progress
                max={Math.max(item.size, 1)}
                value={item.loaded}
                aria-label={t("upload.progress", { name: item.name })}
              />
              <span class="phase">{item.message}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
