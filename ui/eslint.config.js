// ESLint for the web UI, run by `make lint` (npm run lint): JavaScript's and
// typescript-eslint's recommended rules, and React's rules of hooks with
// the React Compiler's checks (eslint-plugin-react-hooks). Warnings fail
// the lint too (--max-warnings 0): a rule worth having is worth obeying.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig([
  // dist is the build's output; schema.d.ts is generated (make ui-api).
  globalIgnores(["dist/", "node_modules/", "src/api/schema.d.ts"]),
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    rules: {
      // Arguments a signature needs but a body does not use are named
      // with a leading underscore.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // The end-to-end scripts and benchmarks run in Node.js.
    files: ["e2e/**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: {
      // Node.js's, and the browser's for the functions run in the page.
      globals: Object.fromEntries(
        ["console", "process", "setTimeout", "URL", "URLSearchParams", "window", "document", "performance", "requestAnimationFrame", "MutationObserver", "fetch"].map((g) => [g, "readonly"]),
      ),
    },
  },
]);
