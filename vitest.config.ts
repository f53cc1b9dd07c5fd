import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

/** Test files that stop or restart PostgreSQL or Redis and time the answers meanwhile. */
const DRILLS = ["test/outage-*.test.ts"];

export default defineConfig({
  resolve: {
    // graphql ships CJS and ESM builds; Node loads the CJS one for the libraries, so the tests'
    // own imports must get the same instance or `instanceof GraphQLError` fails across them.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/per-file-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each test file has a database of its own, copied from the run's migrated template, and a
    // Redis prefix of its own (test/support/per-file-setup.ts).
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "suite", include: ["test/**/*.test.ts"], exclude: DRILLS, sequence: { groupOrder: 0 } },
      },
      {
        // The outage drills bound how fast errors are answered while PostgreSQL or Redis restart:
        // timings of a 2-core machine, so they run after the rest, one file at a time, on a quiet
        // machine rather than beside whatever CPU-heavy file happens to run with them.
        extends: true,
        test: { name: "drills", include: DRILLS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
