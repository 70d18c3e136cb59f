// Lint of the TypeScript sources (npm test runs it with the type check): typescript-eslint's type-aware
// recommended rules, so promises are awaited and `any` does not leak into public types.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", ".build/", ".local/", ".pulumi/", "toolchain/", "**/*.js", "**/*.mjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
        },
    },
    {
        // jest's asymmetric matchers (expect.any, expect.stringMatching) are typed `any` by @types/jest
        files: ["tests/**/*.ts"],
        rules: { "@typescript-eslint/no-unsafe-assignment": "off" },
    },
);
