import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.state/**", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      eqeqeq: ["error", "always"],
      "no-console": "off",
    },
  },
  {
    // The dashboard's page script runs in the browser (packages/metal/assets/dashboard).
    files: ["packages/*/assets/**/*.js"],
    languageOptions: {
      globals: {
        document: "readonly",
        navigator: "readonly",
        CSS: "readonly",
        EventSource: "readonly",
      },
    },
  },
);
