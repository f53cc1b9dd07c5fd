import type { PoolClient } from "pg";
import { pool } from "./client.js";

/** Unique violation, serialization failure, deadlock: a concurrent transaction won a race. */
const RACE_LOST = new Set(["23505", "40001", "40P01"]);

/**
 * Runs `work` in one transaction on a pooled connection (raw SQL hot paths). With `attempts` > 1,
 * a transaction that lost a race to a concurrent one is run again from the start.
 */
export async function inTransaction<T>(work: (client: PoolClient) => Promise<T>, { attempts = 1 } = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      const code = (error as { code?: string }).code;
      if (attempt < attempts && code && RACE_LOST.has(code)) continue;
      throw error;
    } finally {
      client.release();
    }
  }
}
