// Two small catalogues (English, Spanish) with the same keys: `es` is typed by `en`'s keys,
// so a string missing from either stops the build.
import { en, type Messages } from "./en";
import { es } from "./es";

export type Lang = "en" | "es";
export type Key = keyof Messages;
export type Translate = (key: Key, params?: Record<string, string | number>) => string;

const catalogues: Record<Lang, Messages> = { en, es };
const STORAGE_KEY = "sentra.console.lang";

export function initialLang(): Lang {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored === "en" || stored === "es") return stored;
  return navigator.language.toLowerCase().startsWith("es") ? "es" : "en";
}

export function rememberLang(lang: Lang): void {
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
}

export function translator(lang: Lang): Translate {
  const messages = catalogues[lang];
  return (key, params) =>
    messages[key].replace(/\{(\w+)\}/g, (whole, name: string) => (params && name in params ? String(params[name]) : whole));
}
