// Builds the console into the gateway package, which serves it at /console/ (same origin
// as the API, so no CORS and one Content-Security-Policy: no inline script or style).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const outDir = fileURLToPath(new URL("../services/gateway/src/sentra_gateway/console_static", import.meta.url));

export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  // `npm run dev`: the API calls go to a gateway on this machine (SENTRA_GATEWAY_URL).
  server: {
    proxy: Object.fromEntries(
      ["/api", "/v1", "/console/config.json"].map((path) => [
        path,
        { target: process.env.SENTRA_GATEWAY_URL ?? "http://127.0.0.1:8080" },
      ]),
    ),
  },
});
