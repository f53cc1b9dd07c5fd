import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import { addToDelta, type ContextDelta, emptyDelta } from "../src/consumers/context-delta.js";
import { CONTEXT_UPSERT, contextUpsertParams } from "../src/consumers/context-store.js";
import type { BenchEvent } from "./workload.js";

// The baseline: the rows one ingestion writes (find or create the consumer, insert the event,
// upsert the consumer's context with the same SQL and SQL functions), with plain `pg` in one
// transaction per request, no GraphQL, HTTP, auth, validation, rate limit or enqueue.

export class Baseline {
  readonly pool: pg.Pool;

  constructor(
    url: string,
    poolSize: number,
    private readonly creatorId: string,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: poolSize });
  }

  /** Stores the events in one transaction, as one ingestEvents request would. */
  async ingest(events: BenchEvent[]): Promise<void> {
    const receivedAt = new Date();
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const externalIds = [...new Set(events.map((e) => e.consumer.externalId))];
      const find = async () =>
        new Map(
          (
            await client.query<{ id: string; externalId: string }>(
              `SELECT id, "externalId" FROM consumers WHERE "creatorId" = $1 AND "externalId" = ANY($2)`,
              [this.creatorId, externalIds],
            )
          ).rows.map((r) => [r.externalId, r.id]),
        );
      let consumers = await find();
      const missing = externalIds.filter((id) => !consumers.has(id));
      if (missing.length > 0) {
        await client.query(
          `INSERT INTO consumers ("creatorId", "externalId") SELECT $1::uuid, * FROM unnest($2::text[]) ON CONFLICT DO NOTHING`,
          [this.creatorId, missing],
        );
        consumers = await find();
      }
      const consumerIds = events.map((e) => consumers.get(e.consumer.externalId) as string);
      await client.query(
        `INSERT INTO events (id, "creatorId", "consumerId", type, payload, "occurredAt", "receivedAt", "bodyHash")
         SELECT id, $1::uuid, consumer_id, type, payload, $2::timestamptz, $2::timestamptz, hash
         FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::jsonb[], $7::text[]) AS e(id, consumer_id, type, payload, hash)`,
        [
          this.creatorId,
          receivedAt,
          events.map(() => randomUUID()),
          consumerIds,
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.payload ?? {})),
          events.map((e) => createHash("sha256").update(JSON.stringify(e)).digest("hex")),
        ],
      );
      const deltas = new Map<string, ContextDelta>();
      for (const [i, e] of events.entries()) {
        const delta = deltas.get(consumerIds[i]) ?? emptyDelta(consumerIds[i], receivedAt);
        addToDelta(delta, e, receivedAt);
        deltas.set(consumerIds[i], delta);
      }
      const sorted = [...deltas.values()].sort((a, b) => a.consumerId.localeCompare(b.consumerId));
      await client.query(CONTEXT_UPSERT, contextUpsertParams(this.creatorId, sorted));
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
