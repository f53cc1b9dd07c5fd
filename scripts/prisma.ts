// Runs the Prisma CLI the offline way (shared/notes/prisma-offline.md): the query engine library is
// never loaded with engineType "client", but `generate` wants one to exist, so any file will do.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cli = require.resolve("prisma/build/index.js");

/**
 * Prisma 6.19 warns on every command that the datasource's `url` is overridden by the driver
 * adapter; the CLI's schema validation still needs the `url` (shared/notes/prisma-offline.md),
 * so the warning is expected and means nothing to a reader: it is left out of the output.
 */
const ADAPTER_WARNING =
  /\n?WARNING: Your schema specifies the following datasource properties but you are using a Driver Adapter[\s\S]*?We recommend you to remove those properties from your schema to avoid confusion if you are only using driver adapters\.\n?/;

/**
 * Runs the Prisma CLI with `args`; its output is printed, or with `quiet` only when it fails, and
 * answered either way. Throws when the CLI exits with an error.
 */
export function runPrisma(args: string[], env: NodeJS.ProcessEnv = process.env, { quiet = false } = {}): string {
  const result = spawnSync(process.execPath, [cli, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...env,
      PRISMA_QUERY_ENGINE_LIBRARY: env.PRISMA_QUERY_ENGINE_LIBRARY ?? require.resolve("prisma/package.json"),
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
    },
  });
  const stdout = result.stdout.replace(ADAPTER_WARNING, "\n");
  if (!quiet || result.status !== 0) {
    process.stdout.write(stdout);
    process.stderr.write(result.stderr.replace(ADAPTER_WARNING, "\n"));
  }
  if (result.status !== 0) throw new Error(`prisma ${args.join(" ")} failed with exit code ${result.status}`);
  return stdout;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    runPrisma(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
