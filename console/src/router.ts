// Paths under /console/ (the gateway answers every one of them with the console, so a
// reload or a shared link opens the same screen).

export const BASE = "/console/";

export function currentPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  return path.replace(/\/+$/, "");
}

export function navigate(path: string): void {
  if (currentPath() === path) return;
  history.pushState(null, "", BASE + path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}
