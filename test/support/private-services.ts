import { execFile as execFileCallback } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { migrate } from "../../scripts/migrate.js";
import { eventually, freePort, portIsFree } from "./processes.js";

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
 * running the migrations again), or with `migrations` made by scripts/migrate.ts.
 */
export async function startPrivatePostgres(name: string, { migrations = false } = {}): Promise<PrivatePostgres> {
  const version = await postgresVersion();
  const port = await freePort();
  const cluster = `${name.replace(/[^a-z0-9_]/gi, "_")}_${port}`;
  await run("pg_createcluster", [version, cluster, "--port", String(port), "--start", "--", "--auth=trust"]);
  const ctl = (...args: string[]) => run("pg_ctlcluster", ["--skip-systemctl-redirect", version, cluster, ...args]);
  const database = "closer";
  const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
  const admin = `postgresql://postgres@127.0.0.1:${port}/postgres`;

  const template = process.env.TEST_TEMPLATE_DATABASE_URL as string;
  if (migrations) {
    await migrate(url, { quiet: true });
  } else {
    await run("psql", [admin, "-q", "-c", `CREATE DATABASE ${database}`]);
    await run("bash", [
      "-c",
      `pg_dump --no-owner --no-privileges "$0" | psql -q -v ON_ERROR_STOP=1 "$1" >/dev/null`,
      template,
      url,
    ]);
  }

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

export type PrivateReplica = {
  port: number;
  /** URL of the primary's database on the replica. */
  url: string;
  /** What the server wrote to its log: every statement it refused is there, with its error. */
  log(): Promise<string>;
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops applying the primary's WAL (pg_wal_replay_pause): reads see the state of that moment. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary had written when it was called. */
  caughtUp(): Promise<void>;
  /** One statement on the replica's database, on a connection of its own: its rows. */
  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<Row[]>;
  /** Stops the server and removes its data. */
  remove(): Promise<void>;
};

/** One statement on a connection of its own. */
async function queryOnce<Row extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A streaming replica of a private cluster (hot standby), on a free port: a base backup of the
 * primary taken with pg_basebackup -R (which writes the standby's settings), run by pg_ctl as the
 * postgres user, who must own its data directory. Replication is allowed by pg_createcluster's
 * pg_hba (trust); wal_level replica is PostgreSQL's default.
 */
export async function startPrivateReplica(primary: PrivatePostgres): Promise<PrivateReplica> {
  const bin = `/usr/lib/postgresql/${await postgresVersion()}/bin`;
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "closer-replica-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  const asPostgres = (command: string, ...args: string[]) => run("runuser", ["-u", "postgres", "--", command, ...args]);
  const ctl = (...args: string[]) => asPostgres(`${bin}/pg_ctl`, "-D", data, "-w", ...args);
  const start = async () => {
    await ctl("-o", `-p ${port}`, "-l", logFile, "start");
  };
  const remove = async () => {
    await ctl("-m", "immediate", "stop").catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run("chown", ["postgres:postgres", dir]);
    // -c fast: the default, spread checkpoint paces itself over minutes.
    const from = ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres"];
    await asPostgres(`${bin}/pg_basebackup`, ...from, "-D", data, "-R", "-X", "stream", "-c", "fast");
    // Debian keeps a cluster's configuration files in /etc/postgresql: the backup holds none.
    await writeFile(
      join(data, "postgresql.conf"),
      `listen_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\n`,
    );
    await writeFile(join(data, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n");
    await writeFile(join(data, "pg_ident.conf"), "");
    await run("chown", ["-R", "postgres:postgres", data]);
    await start();
  } catch (error) {
    await remove();
    throw error;
  }
  const url = `postgresql://postgres@127.0.0.1:${port}/${primary.database}`;
  const on = async <Row extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
    (await queryOnce<Row>(url, text, values))[0];

  return {
    port,
    url,
    log: () => readFile(logFile, "utf8"),
    query: (text, values) => queryOnce(url, text, values),
    async stop(mode = "fast") {
      await ctl("-m", mode, "stop");
    },
    start,
    async pauseReplay() {
      await on("SELECT pg_wal_replay_pause()");
      // The call asks for a pause; replay stops at its next record.
      const paused = async () => (await on<{ state: string }>("SELECT pg_get_wal_replay_pause_state() AS state")).state;
      await eventually(async () => ((await paused()) === "paused" ? true : undefined), 10_000, "replay paused");
    },
    async resumeReplay() {
      await on("SELECT pg_wal_replay_resume()");
    },
    async caughtUp() {
      const [{ at }] = await queryOnce<{ at: string }>(primary.url, "SELECT pg_current_wal_lsn()::text AS at");
      const replayed = async () =>
        (await on<{ done: boolean }>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [at])).done;
      await eventually(async () => ((await replayed()) ? true : undefined), 15_000, `replica replayed up to ${at}`);
    },
    remove,
  };
}

/** A private primary, its streaming replica and, when asked for, a private Redis (startReplicatedServices). */
export type ReplicatedServices = {
  primary: PrivatePostgres;
  replica: PrivateReplica;
  redis: PrivateRedis | null;
  /** Removes them all: the replica first, then the primary, then Redis. */
  remove(): Promise<void>;
};

/**
 * A migrated private primary with database `name`, a streaming replica of it and, with `redis`, a
 * Redis of its own, their URLs set in process.env (DATABASE_URL, DATABASE_READ_URL, REDIS_URL)
 * with `settings`, for Closer's modules to read: call it in a test file's vi.hoisted, before any
 * module reads the configuration. What was made is removed if a later step fails.
 */
export async function startReplicatedServices(
  name: string,
  { redis: withRedis = false, settings = {} }: { redis?: boolean; settings?: Record<string, string> } = {},
): Promise<ReplicatedServices> {
  const primary = await startPrivatePostgres(name, { migrations: true });
  let replica: PrivateReplica | undefined;
  try {
    replica = await startPrivateReplica(primary);
    const redis = withRedis ? await startPrivateRedis() : null;
    Object.assign(process.env, {
      DATABASE_URL: primary.url,
      DATABASE_READ_URL: replica.url,
      ...(redis ? { REDIS_URL: redis.url } : {}),
      ...settings,
    });
    const made = replica;
    return {
      primary,
      replica,
      redis,
      async remove() {
        await made.remove();
        await primary.remove();
        await redis?.remove();
      },
    };
  } catch (error) {
    await replica?.remove();
    await primary.remove();
    throw error;
  }
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
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      pausedPid = pid;
      process.kill(pid, "SIGSTOP");
      // A signal takes effect when the process is next scheduled: until then it may still answer.
      const state = async () => /^\d+ \(.*\) (\S)/.exec(await readFile(`/proc/${pid}/stat`, "utf8"))?.[1];
      await eventually(async () => ((await state()) === "T" ? true : undefined), 5_000, `Redis ${pid} stopped`, 10);
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

export type PrivateRedisCluster = {
  /** REDIS_URL naming every node (REDIS_CLUSTER follows from it). */
  url: string;
  ports: number[];
  /** The master serving the hash slot of `key` (a key, or a hash tag such as `{prefix}`), and its replica. */
  shardOf(key: string): Promise<{ master: number; replica: number }>;
  /**
   * Hands a master's slots to its replica (CLUSTER FAILOVER on the replica); resolves once every
   * node sees the replica as the master of those slots, followed by the former master.
   */
  failover(replica: number): Promise<void>;
  remove(): Promise<void>;
};

/** Ports for a cluster's nodes: each also takes its port + 10000 (the cluster bus), below the ephemeral range. */
async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 10_000 + Math.floor(Math.random() * 12_000);
    if (ports.includes(port)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) ports.push(port);
  }
  return ports;
}

/**
 * A Redis Cluster of the test's own (3 masters, 3 replicas), started by scripts/redis-cluster.sh
 * on free ports in a directory of its own.
 */
export async function startPrivateRedisCluster(): Promise<PrivateRedisCluster> {
  const ports = await clusterPorts(6);
  const dir = await mkdtemp(join(tmpdir(), "closer-redis-cluster-"));
  const script = new URL("../../scripts/redis-cluster.sh", import.meta.url).pathname;
  const url = (await run(script, ["start", dir, ...ports.map(String)])).trim();
  const cli = (port: number, ...args: string[]) => run("redis-cli", ["-p", String(port), ...args]);
  /** Each node's view, from `cluster nodes`: id, port, role, its master's id and its slot ranges. */
  const nodes = async (port: number) =>
    (await cli(port, "cluster", "nodes"))
      .trim()
      .split("\n")
      .map((line) => {
        const [id, address, flags, masterId, , , , , ...slots] = line.split(" ");
        return {
          id,
          port: Number(/:(\d+)@/.exec(address)?.[1]),
          master: flags.includes("master"),
          masterId,
          slots: slots.map((range) => range.split("-").map(Number)),
        };
      });
  return {
    url,
    ports,
    async shardOf(key) {
      const slot = Number((await cli(ports[0], "cluster", "keyslot", key)).trim());
      const view = await nodes(ports[0]);
      const master = view.find((n) => n.master && n.slots.some(([from, to = from]) => slot >= from && slot <= to));
      const replica = view.find((n) => !n.master && n.masterId === master?.id);
      if (!master || !replica) throw new Error(`no master with a replica for slot ${slot}: ${JSON.stringify(view)}`);
      return { master: master.port, replica: replica.port };
    },
    async failover(replica) {
      await cli(replica, "cluster", "failover");
      await eventually(
        async () => {
          for (const port of ports) {
            const view = await nodes(port);
            const promoted = view.find((n) => n.port === replica);
            if (!promoted?.master || promoted.slots.length === 0) return undefined;
            // The former master follows it.
            if (!view.some((n) => !n.master && n.masterId === promoted.id)) return undefined;
          }
          const states = await Promise.all(ports.map((port) => cli(port, "cluster", "info")));
          return states.every((info) => info.includes("cluster_state:ok")) ? true : undefined;
        },
        20_000,
        `node ${replica} promoted to master in every node's view`,
        100,
      );
    },
    async remove() {
      await run(script, ["stop", dir]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
