import type { Pool, QueryResultRow } from "pg";
import { isOutage } from "../outages.js";
import { pool } from "./client.js";

/**
 * What every store function writes through: the connection of a transaction (inTransaction), or
 * the pool for a single statement. Closer's one transaction type: Prisma serves the GraphQL reads,
 * every write is SQL of its table's store module, on this.
 */
export type Sql = {
  query<Row extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Row[]; rowCount: number | null }>;
};

/** Unique violation, serialization failure, deadlock: a concurrent transaction won a race. */
const RACE_LOST = new Set(["23505", "40001", "40P01"]);

/**
 * Runs `work` in one transaction on a connection of the primary's pool (or of `on`: the read
 * replica's, for a read-only snapshot, db/reads.ts). With `attempts` > 1, a transaction that lost
 * a race to a concurrent one is run again from the start.
 */
export async function inTransaction<T>(
  work: (tx: Sql) => Promise<T>,
  { attempts = 1, on = pool }: { attempts?: number; on?: Pool } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await on.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      // A connection that failed mid-transaction is discarded, not handed to the next caller.
      if (isOutage(error)) broken = error as Error;
      else await client.query("ROLLBACK").catch((rollbackError) => (broken = rollbackError));
      const code = (error as { code?: string }).code;
      if (attempt < attempts && code && RACE_LOST.has(code)) continue;
      throw error;
    } finally {
      client.release(broken);
    }
  }
}
