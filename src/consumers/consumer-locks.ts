import type { Sql } from "../db/transaction.js";

/**
 * Takes the per-consumer transaction locks that order an agent's plan or hand-off against the
 * send rules' check of the agent's messages to the same consumer: an agent's outcome transaction
 * takes them "exclusive" for the consumers it plans for or hands off, the scheduler's send rules
 * "shared" for the consumers of the agents' messages they check (two schedulers never wait for each
 * other). A hand-off may create the conversation, a row no FOR SHARE could lock before it existed:
 * with this lock the rules either see it or run before it. Call it first in the transaction; the
 * ids are locked in sorted order, so two transactions sharing consumers wait instead of
 * deadlocking. Held until the transaction ends.
 */
export async function lockConsumers(tx: Sql, consumerIds: string[], mode: "exclusive" | "shared"): Promise<void> {
  const sorted = [...new Set(consumerIds)].sort();
  if (sorted.length === 0) return;
  const lock = mode === "exclusive" ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared";
  // unnest yields the array in order, so the locks are taken in the order sorted here.
  await tx.query(`SELECT ${lock}(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k`, [sorted]);
}
