// Runs the Prisma CLI the offline way (shared/notes/prisma-offline.md): the query engine library is
// never loaded with engineType "client", but `generate` wants one to exist, so any file will do.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cli = require.resolve("prisma/build/index.js");

export function runPrisma(args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(process.execPath, [cli, ...args], {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...env,
      PRISMA_QUERY_ENGINE_LIBRARY: env.PRISMA_QUERY_ENGINE_LIBRARY ?? require.resolve("prisma/package.json"),
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
    },
  });
  if (result.status !== 0) throw new Error(`prisma ${args.join(" ")} failed with exit code ${result.status}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    runPrisma(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
