import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { config } from "../config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { logger } from "../logger.js";

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
}

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
