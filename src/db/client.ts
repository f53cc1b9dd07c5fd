import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { config } from "../config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { logger } from "../logger.js";

/** One pool per process: Prisma and the raw-SQL hot paths share it. */
export const pool = new pg.Pool({
  connectionString: config().DATABASE_URL,
  max: config().DATABASE_POOL_SIZE,
});

// An idle connection that the server closes (restart, failover) must not crash the process:
// the pool drops it and opens another when needed.
pool.on("error", (error) => logger.warn({ err: error }, "idle database connection lost"));

export const db = new PrismaClient({ adapter: new PrismaPg(pool) });

export type Db = typeof db;
export type Tx = Parameters<Parameters<Db["$transaction"]>[0]>[0];
