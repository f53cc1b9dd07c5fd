import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships CJS and ESM builds; Node loads the CJS one for the libraries, so the tests'
    // own imports must get the same instance or `instanceof GraphQLError` fails across them.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/per-file-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Test files share one database (made fresh for the run); each has its own Redis prefix.
    maxWorkers: 2,
  },
});
