// The UI builds into ui/dist, which ui/embed.go embeds in the kargo binary;
// the API server serves it at /. `npm run dev` proxies the API to a running
// `kargo local` (KARGO_API, default http://127.0.0.1:7070).
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No source maps in the binary: they would double its UI's size.
    sourcemap: false,
  },
  server: {
    proxy: { "/api": process.env.KARGO_API ?? "http://127.0.0.1:7070" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
    // A component test that renders sixty Stages in jsdom takes about a
    // second alone and several on a busy machine: the limit is for a
    // test that hangs, not a speed target (those are benchmarks).
    testTimeout: 60_000,
  },
});
