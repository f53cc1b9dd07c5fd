import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { config } from "../config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { isOutage } from "../outages.js";

/**
 * Every connection Closer opens (raw SQL and Prisma alike):
 * - its session runs in UTC, whatever the database's or the server's default: instants written
 *   and read without an offset (Prisma's adapter reads timestamps so) stay the instants they are;
 * - its opening gives up after DATABASE_CONNECT_TIMEOUT_MS, so during an outage a request fails
 *   fast. Set on the client, not the pool: the pool's own option would also bound the wait for a
 *   free connection, failing requests under load as if the database were away.
 */
class ClosersClient extends pg.Client {
  constructor(settings?: pg.ClientConfig) {
    super({
      ...settings,
      options: [settings?.options, "-c TimeZone=UTC"].filter(Boolean).join(" "),
      connectionTimeoutMillis: config().DATABASE_CONNECT_TIMEOUT_MS,
    });
  }

  /**
   * Opens the connection, or fails at once while the last attempt to the same server (the primary
   * and the read replica each have their own) failed moments ago because it was unreachable
   * (FAIL_FAST_MS; not a refusal such as a wrong database name): during an outage the pool's
   * waiting requests are then answered SERVICE_UNAVAILABLE in turn without each waiting out a
   * connect timeout behind the others, and a recovering server is not met by a storm of connections.
   */
  override connect(): Promise<pg.Client>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.Client> | undefined {
    const server = `${this.host}:${this.port}`;
    if (Date.now() - (lastConnectFailure.get(server) ?? 0) < FAIL_FAST_MS) {
      const error = Object.assign(new Error("Connection terminated: the database refused a connection moments ago"), {
        code: "ECONNREFUSED",
      });
      if (callback) {
        process.nextTick(() => (callback as (err: Error) => void)(error));
        return undefined;
      }
      return Promise.reject(error);
    }
    if (callback) {
      super.connect(((error: Error | null, client?: pg.Client) => {
        if (error && isOutage(error)) lastConnectFailure.set(server, Date.now());
        (callback as (err: Error | null, c?: pg.Client) => void)(error, client);
      }) as ConnectCallback);
      return undefined;
    }
    return super.connect().catch((error: unknown) => {
      if (isOutage(error)) lastConnectFailure.set(server, Date.now());
      throw error;
    });
  }
}

type ConnectCallback = ((err: Error) => void) | ((err: null, c: pg.Client) => void);

/** How long after a failed connection attempt new ones fail at once (ClosersClient.connect). */
const FAIL_FAST_MS = 250;
/** When a connection attempt to each server ("host:port") last failed as an outage. */
const lastConnectFailure = new Map<string, number>();

/**
 * A pool of DATABASE_POOL_SIZE connections of Closer's (ClosersClient) to `connectionString`, made
 * by `Pool` (pg.Pool or a subclass); `role` names the server in its log lines.
 */
export function openPool<P extends pg.Pool>(
  connectionString: string,
  Pool: new (settings: pg.PoolConfig) => P,
  role: "primary" | "replica",
): P {
  const opened = new Pool({
    connectionString,
    max: config().DATABASE_POOL_SIZE,
    Client: ClosersClient,
    // No JIT compilation: PostgreSQL compiles a statement whose estimated cost passes
    // jit_above_cost, which pays for long analytical queries only ("JIT ... is beneficial
    // primarily for long-running CPU-bound queries", PostgreSQL 15 docs, 32.1). Ours are short;
    // one whose row estimate went wrong (a partition not yet analyzed) spent 6 s compiling
    // 202 functions to run for 0.1 ms (bench/FINDINGS.md).
    options: "-c jit=off",
  });
  // A connection the server closes (restart, failover, pg_terminate_backend) emits 'error'. The pool
  // listens only while a connection is idle and stops at checkout, so a connection lost inside a
  // transaction would crash the process: every connection gets a listener of its own for its
  // whole life. The query that was running fails with the error; the pool discards the connection.
  // At most one line per pooled connection (DATABASE_POOL_SIZE) per outage.
  opened.on("connect", (client) => {
    client.on("error", (error) =>
      logger.warn({ err: error, database: role }, "database connection lost; the pool opens another on demand"),
    );
  });
  // The pool re-emits an idle connection's error; it must have a listener, and the line above said it.
  opened.on("error", (error) => logger.debug({ err: error, database: role }, "idle database connection discarded"));
  return opened;
}

/** Prisma over a pool of ours, through the driver adapter (no query engine). */
export function prismaOver(over: pg.Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(over) });
}

/** One pool per process on the primary (DATABASE_URL): Prisma and the raw-SQL hot paths share it. */
export const pool = openPool(config().DATABASE_URL, pg.Pool, "primary");

/** Prisma on the primary: what the worker, mutations and subscriptions read through. */
export const db = prismaOver(pool);
