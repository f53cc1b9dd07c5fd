import { execFile as execFileCallback } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { eventually, freePort } from "./processes.js";

// PostgreSQL clusters and Redis servers of a test's own, for tests that stop, restart or cut
// off a service (shared/notes/machine.md): the shared ones on :5432 and :6379 serve every other
// test file and process, and must never be disturbed.

const execFile = promisify(execFileCallback);

async function run(command: string, args: string[]): Promise<string> {
  const { stdout } = await execFile(command, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** The PostgreSQL major version installed (the directory name under /etc/postgresql). */
async function postgresVersion(): Promise<string> {
  return (await run("bash", ["-c", "ls /etc/postgresql | sort -n | tail -n1"])).trim();
}

export type PrivatePostgres = {
  port: number;
  /** URL of the database the test uses on this cluster, migrated like the run's template. */
  url: string;
  database: string;
  restart(mode: "fast" | "immediate"): Promise<void>;
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Drops every connection to the database while the server stays up. Returns how many. */
  terminateBackends(): Promise<number>;
  /** Removes the cluster and its data. */
  remove(): Promise<void>;
};

/**
 * A PostgreSQL cluster of the test's own on a free port, trust auth, holding one database with
 * the schema of the run's migrated template (copied with pg_dump, which is much faster than
 * running the migrations again).
 */
export async function startPrivatePostgres(name: string): Promise<PrivatePostgres> {
  const version = await postgresVersion();
  const port = await freePort();
  const cluster = `${name.replace(/[^a-z0-9_]/gi, "_")}_${port}`;
  await run("pg_createcluster", [version, cluster, "--port", String(port), "--start", "--", "--auth=trust"]);
  const ctl = (...args: string[]) => run("pg_ctlcluster", ["--skip-systemctl-redirect", version, cluster, ...args]);
  const database = "closer";
  const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
  const admin = `postgresql://postgres@127.0.0.1:${port}/postgres`;

  const template = process.env.TEST_TEMPLATE_DATABASE_URL as string;
  await run("psql", [admin, "-q", "-c", `CREATE DATABASE ${database}`]);
  await run("bash", [
    "-c",
    `pg_dump --no-owner --no-privileges "$0" | psql -q -v ON_ERROR_STOP=1 "$1" >/dev/null`,
    template,
    url,
  ]);

  const waitUntilUp = () =>
    eventually(
      async () => {
        const client = new pg.Client({ connectionString: url });
        try {
          await client.connect();
          await client.end();
          return true;
        } catch {
          return undefined;
        }
      },
      15_000,
      `private PostgreSQL on ${port} up`,
      100,
    );

  return {
    port,
    url,
    database,
    async restart(mode) {
      await ctl("restart", "-m", mode);
      await waitUntilUp();
    },
    async stop(mode = "fast") {
      await ctl("stop", "-m", mode);
    },
    async start() {
      await ctl("start");
      await waitUntilUp();
    },
    async terminateBackends() {
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        const { rowCount } = await client.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [database],
        );
        return rowCount ?? 0;
      } finally {
        await client.end();
      }
    },
    async remove() {
      await run("pg_dropcluster", [version, cluster, "--stop"]).catch(() => {});
    },
  };
}

export type PrivateRedis = {
  port: number;
  url: string;
  /** Stops the server at once, keeping nothing (as a crash of our non-persistent Redis would). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, as in a partition. */
  pause(): Promise<void>;
  /** Lets a paused server go on (SIGCONT). */
  resume(): Promise<void>;
  remove(): Promise<void>;
};

/** A Redis server of the test's own on a free port, with no persistence. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "closer-redis-"));
  const ping = async () => (await run("redis-cli", ["-p", String(port), "ping"]).catch(() => "")).trim() === "PONG";
  const start = async () => {
    await run("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--daemonize",
      "yes",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--logfile",
      join(dir, "redis.log"),
    ]);
    await eventually(async () => ((await ping()) ? true : undefined), 10_000, `private Redis on ${port} up`);
  };
  const stop = async () => {
    await run("redis-cli", ["-p", String(port), "shutdown", "nosave"]).catch(() => {});
    // Gone once it no longer answers; a server that takes longer is left to the next step.
    await eventually(async () => ((await ping()) ? undefined : true), 5_000, `private Redis on ${port} down`).catch(
      () => {},
    );
  };
  await start();
  let pausedPid: number | null = null;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async pause() {
      const info = await run("redis-cli", ["-p", String(port), "info", "server"]);
      pausedPid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      process.kill(pausedPid, "SIGSTOP");
    },
    async resume() {
      if (pausedPid) process.kill(pausedPid, "SIGCONT");
      pausedPid = null;
    },
    async remove() {
      if (pausedPid) process.kill(pausedPid, "SIGCONT");
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
