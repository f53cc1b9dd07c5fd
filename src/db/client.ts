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
   * Opens the connection, or fails at once while the last attempt failed moments ago because the
   * server was unreachable (FAIL_FAST_MS; not a refusal such as a wrong database name): during an outage the pool's waiting requests are then answered
   * SERVICE_UNAVAILABLE in turn without each waiting out a connect timeout behind the others, and
   * a recovering server is not met by a storm of connections.
   */
  override connect(): Promise<pg.Client>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.Client> | undefined {
    if (Date.now() - lastConnectFailure < FAIL_FAST_MS) {
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
        if (error && isOutage(error)) lastConnectFailure = Date.now();
        (callback as (err: Error | null, c?: pg.Client) => void)(error, client);
      }) as ConnectCallback);
      return undefined;
    }
    return super.connect().catch((error: unknown) => {
      if (isOutage(error)) lastConnectFailure = Date.now();
      throw error;
    });
  }
}

type ConnectCallback = ((err: Error) => void) | ((err: null, c: pg.Client) => void);

/** How long after a failed connection attempt new ones fail at once (ClosersClient.connect). */
const FAIL_FAST_MS = 250;
let lastConnectFailure = 0;

/** One pool per process: Prisma and the raw-SQL hot paths share it. */
export const pool = new pg.Pool({
  connectionString: config().DATABASE_URL,
  max: config().DATABASE_POOL_SIZE,
  Client: ClosersClient,
});

// A connection the server closes (restart, failover, pg_terminate_backend) emits 'error'. The pool
// listens only while a connection is idle and stops at checkout, so a connection lost inside a
// transaction would crash the process: every connection gets a listener of its own for its
// whole life. The query that was running fails with the error; the pool discards the connection.
// At most one line per pooled connection (DATABASE_POOL_SIZE) per outage.
pool.on("connect", (client) => {
  client.on("error", (error) =>
    logger.warn({ err: error }, "database connection lost; the pool opens another on demand"),
  );
});
// The pool re-emits an idle connection's error; it must have a listener, and the line above said it.
pool.on("error", (error) => logger.debug({ err: error }, "idle database connection discarded"));

export const db = new PrismaClient({ adapter: new PrismaPg(pool) });
