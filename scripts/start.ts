// `npm start`: applies migrations, then runs the API and the worker side by side. A part that
// exits unexpectedly is started again after a backoff (1 s, doubling to 30 s; back to 1 s once
// it has run for a minute), with a log line each time; Ctrl-C or SIGTERM stops both, each
// draining its own work first. Built (`npm run build`, dist/) it runs the parts' JavaScript on
// plain node; from source (`npm run dev`) through tsx, which compiles at every start.
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { loadConfigOrExit } from "../src/config.js";
import { isOutage } from "../src/outages.js";
import { heapLimitArguments } from "./heap-limit.js";
import { migrate } from "./migrate.js";

loadConfigOrExit();
process.env.CLOSER_PROCESS ??= "closer-start";
const { logger } = await import("../src/logger.js");

/** A part still running this long after SIGTERM is killed: stopping never hangs. */
const STOP_GRACE_MS = 60_000;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A part that ran this long before exiting is restarted after the first backoff again. */
const STABLE_AFTER_MS = 60_000;

type Part = { name: string; entry: string; child: ChildProcess | null; backoffMs: number; timer?: NodeJS.Timeout };

let stopping = false;
const parts: Part[] = [
  { name: "closer-api", entry: "src/server.ts", child: null, backoffMs: FIRST_BACKOFF_MS },
  { name: "closer-worker", entry: "worker/main.ts", child: null, backoffMs: FIRST_BACKOFF_MS },
];

const heapArguments = (() => {
  try {
    return heapLimitArguments();
  } catch (error) {
    logger.fatal((error as Error).message);
    process.exit(1);
  }
})();

/** This file compiled (dist/scripts/start.js): the parts are compiled beside it. */
const compiled = import.meta.url.endsWith(".js");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** node's arguments for a part: its compiled file, or its source through tsx as a loader. */
function nodeArguments(entry: string): string[] {
  // tsx as a loader keeps each part one process, so signals reach it directly.
  const source = compiled ? [join(root, entry.replace(/\.ts$/, ".js"))] : ["--import", "tsx", entry];
  return [...heapArguments, ...source];
}

function run(part: Part): void {
  const startedAt = Date.now();
  const child = spawn(process.execPath, nodeArguments(part.entry), {
    stdio: "inherit",
    env: { ...process.env, CLOSER_PROCESS: part.name },
  });
  part.child = child;
  child.on("error", (error) => logger.error({ err: error, part: part.name }, `${part.name} could not be started`));
  child.on("exit", (code, signal) => {
    part.child = null;
    if (stopping) return;
    if (Date.now() - startedAt >= STABLE_AFTER_MS) part.backoffMs = FIRST_BACKOFF_MS;
    logger.warn(
      { part: part.name, code, signal, restartInMs: part.backoffMs },
      `${part.name} exited unexpectedly; restarting it`,
    );
    part.timer = setTimeout(() => run(part), part.backoffMs);
    part.backoffMs = Math.min(MAX_BACKOFF_MS, part.backoffMs * 2);
  });
}

function stop() {
  if (stopping) return;
  stopping = true;
  for (const part of parts) clearTimeout(part.timer);
  const running = parts.map((p) => p.child).filter((c): c is ChildProcess => c !== null && c.exitCode === null);
  for (const child of running) child.kill("SIGTERM");
  setTimeout(() => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, STOP_GRACE_MS).unref();
  Promise.all(running.map((c) => new Promise((r) => c.once("exit", r)))).then(() => process.exit(0));
}

// Signals are handled from the start: a stop during migration exits cleanly, starting nothing.
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// PostgreSQL may come up after Closer (a machine booting): the migration waits for it.
for (let delayMs = FIRST_BACKOFF_MS; !stopping; delayMs = Math.min(delayMs * 2, MAX_BACKOFF_MS)) {
  try {
    await migrate(undefined, { quiet: true });
    break;
  } catch (error) {
    if (!isOutage(error)) throw error;
    logger.warn({ err: error, retryInMs: delayMs }, "PostgreSQL unavailable: migrations wait for it");
    await sleep(delayMs);
  }
}
if (!stopping) for (const part of parts) run(part);
