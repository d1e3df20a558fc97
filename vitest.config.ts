import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    coverage: {
      provider: "v8",
      include: ["model/**/*.ts", "impl/**/*.ts", "props/**/*.ts", "schema/**/*.ts", "cli/**/*.ts"],
      reporter: ["text-summary", "html", "lcov", "json-summary", "json"],
      reportsDirectory: "coverage/tests",
    },
  },
});
