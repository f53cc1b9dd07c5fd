import { type ChildProcess, execFile as execFileCallback, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, freePort, waitForHttp } from "./support/processes.js";

// `npm start` as deployed on one machine: scripts/start.ts migrates (a no-op on this file's
// database, copied from the migrated template), then supervises the API and the worker. A part
// that dies is started again; the other part is left alone; SIGTERM stops everything.

const execFile = promisify(execFileCallback);
const root = fileURLToPath(new URL("..", import.meta.url));
const TEST_MS = 120_000;
const RESTART_LINE = "closer-worker exited unexpectedly; restarting it";

let supervisor: ChildProcess;
const output: string[] = [];
let apiUrl: string;
let workerUrl: string;
/** Every child of the supervisor seen, by pid, with its command line. */
const seen = new Map<number, string>();

/** The supervisor's children (pid and command line), by part. */
async function parts(): Promise<{ api?: number; worker?: number; all: number[]; listing: string }> {
  const { stdout } = await execFile("ps", ["-o", "pid=,args=", "--ppid", String(supervisor.pid)]).catch(
    // ps exits 1 when the process has no children.
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
  );
  const rows = stdout
    .split("\n")
    .map((line) => line.trim().match(/^(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2] }));
  for (const { pid, args } of rows) seen.set(pid, args);
  return {
    // The compiled parts, on plain node: no tsx compiling at each (re)start.
    api: rows.find((r) => /dist\/src\/server\.js$/.test(r.args) && !r.args.includes("tsx"))?.pid,
    worker: rows.find((r) => /dist\/worker\/main\.js$/.test(r.args) && !r.args.includes("tsx"))?.pid,
    all: rows.map((r) => r.pid),
    listing: stdout,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The supervisor's and its children's JSON log lines. */
function logLines(): Record<string, unknown>[] {
  return output
    .join("")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(10_000) })).ok;
  } catch {
    return false;
  }
}

/** Everything the supervisor printed, for a failure's message. */
const printed = () => `supervisor output:\n${output.join("")}`;

beforeAll(async () => {
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${apiPort}/health`;
  workerUrl = `http://127.0.0.1:${workerPort}/health`;
  // As `npm start` runs it: built (so this run's code), then the compiled supervisor on plain node.
  await execFile("npm", ["run", "-s", "build"], { cwd: root });
  supervisor = spawn(process.execPath, ["dist/scripts/start.js"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(apiPort),
      WORKER_METRICS_PORT: String(workerPort),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  supervisor.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  supervisor.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  // Migrating first, then starting two processes: many seconds on a loaded 2-core machine.
  await Promise.all([waitForHttp(apiUrl, 100_000), waitForHttp(workerUrl, 100_000)]);
}, TEST_MS);

/** The command line of a running process, or null. */
async function commandOf(pid: number): Promise<string | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ").trim();
  } catch {
    return null;
  }
}

afterAll(async () => {
  // Whatever a failed test left running, by pid: the supervisor's children first, then the
  // supervisor. A child seen earlier is killed only if its pid still runs the same command.
  if (supervisor?.pid && supervisor.exitCode === null && supervisor.signalCode === null) await parts();
  for (const [pid, args] of seen) {
    if ((await commandOf(pid)) === args) process.kill(pid, "SIGKILL");
  }
  if (supervisor?.pid && supervisor.exitCode === null && supervisor.signalCode === null) {
    const exited = new Promise((resolve) => supervisor.once("exit", resolve));
    supervisor.kill("SIGKILL");
    await exited;
  }
});

describe("npm start", () => {
  it(
    "restarts a worker that was killed, with a log line, while the API keeps serving",
    async () => {
      const before = await parts();
      expect(before.api, printed()).toBeDefined();
      expect(before.worker, printed()).toBeDefined();
      const apiPid = before.api as number;
      const killedWorker = before.worker as number;

      // The API's /health, asked without pause from before the kill until the worker is back.
      let watching = true;
      const probes = { answered: 0, failed: 0 };
      const apiWatch = (async () => {
        while (watching) {
          if (await healthy(apiUrl)) probes.answered++;
          else probes.failed++;
          await sleep(50);
        }
      })();

      const killedAt = Date.now();
      process.kill(killedWorker, "SIGKILL");
      try {
        const restartLine = await eventually(
          async () => logLines().find((line) => line.msg === RESTART_LINE),
          10_000,
          `the line "${RESTART_LINE}"`,
        );
        expect(restartLine).toMatchObject({
          level: 40,
          service: "closer-start",
          part: "closer-worker",
          code: null,
          signal: "SIGKILL",
          restartInMs: 1_000,
        });
        // A new worker process, then its /health.
        const worker = await eventually(
          async () => {
            const { worker } = await parts();
            return worker !== undefined && worker !== killedWorker ? worker : undefined;
          },
          10_000,
          "a new worker process",
        );
        // Started after the first backoff (1 s), not at once. The margin allows for the event loop's
        // cached clock, from which the supervisor's timer counts.
        const respawnedMs = Date.now() - killedAt;
        expect(respawnedMs).toBeGreaterThanOrEqual(900);
        // Then it loads and serves: as long as any start of a process on this machine (waitForHttp).
        await waitForHttp(workerUrl);
        const backMs = Date.now() - killedAt;
        expect(isAlive(killedWorker)).toBe(false);
        expect(isAlive(worker)).toBe(true);

        // The API was never restarted and never stopped answering.
        watching = false;
        await apiWatch;
        const after = await parts();
        expect(after.api).toBe(apiPid);
        expect(logLines().filter((line) => String(line.msg).includes("exited unexpectedly"))).toHaveLength(1);
        expect(probes.failed, printed()).toBe(0);
        expect(probes.answered).toBeGreaterThan(0);
        console.log(
          `supervisor: worker ${killedWorker} killed, worker ${worker} running ${respawnedMs} ms later ` +
            `(backoff 1000 ms) and serving ${backMs} ms later; API ${apiPid} answered ${probes.answered} of ${probes.answered} health checks meanwhile`,
        );
      } finally {
        watching = false;
        await apiWatch;
      }
    },
    TEST_MS,
  );

  it(
    "stops both parts on SIGTERM and exits 0",
    async () => {
      const running = await parts();
      expect(running.api, printed()).toBeDefined();
      expect(running.worker, printed()).toBeDefined();
      const partPids = [running.api as number, running.worker as number];

      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        supervisor.once("exit", (code, signal) => resolve({ code, signal })),
      );
      const stoppingAt = Date.now();
      supervisor.kill("SIGTERM");
      expect(await exited, printed()).toEqual({ code: 0, signal: null });
      const stoppedMs = Date.now() - stoppingAt;

      // The supervisor waited for its parts: both are gone, not left behind as orphans.
      expect(partPids.filter(isAlive)).toEqual([]);
      // So is anything else it ran.
      await eventually(
        async () => (running.all.filter(isAlive).length === 0 ? true : undefined),
        5_000,
        `no child of the supervisor left running, of:\n${running.listing}`,
      );
      expect(await healthy(apiUrl)).toBe(false);
      expect(await healthy(workerUrl)).toBe(false);
      // Stopping is not a failure: no restart was attempted.
      expect(logLines().filter((line) => String(line.msg).includes("exited unexpectedly"))).toHaveLength(1);
      console.log(`supervisor: stopped with both parts in ${stoppedMs} ms, exit code 0`);
    },
    TEST_MS,
  );
});
