import { pool } from "../db/client.js";

// A consumer's timeline: what happened to them, from every table that records it, in one keyset
// query. It writes nothing; each entry is then loaded by its owner's type.

/** What a timeline entry is: an event of the consumer, an agent's decision on one, or a message to them. */
export type TimelineKind = "EVENT" | "DECISION" | "MESSAGE";

/**
 * One entry: its kind, its row's id and its time (UTC). An event's time is when it occurred, a
 * decision's when the agent run was queued, a message's when it was sent, else when it is due.
 */
export type TimelineEntry = { kind: TimelineKind; id: string; at: Date };

/** Where a page starts: strictly after this entry in the timeline's order (newest first). */
export type TimelinePosition = { at: Date; kind: TimelineKind; id: string };

/**
 * Up to `limit` entries of the consumer, newest first (ties by kind, then id), after `after` when
 * given. Each branch reads its table by consumer on an index: events (creatorId, consumerId,
 * occurredAt), agent_invocations (consumerId, queuedAt), actions (consumerId, channel, sentAt).
 */
export async function timelineOf(
  creatorId: string,
  consumerId: string,
  kinds: readonly TimelineKind[],
  after: TimelinePosition | null,
  limit: number,
): Promise<TimelineEntry[]> {
  const { rows } = await pool.query<TimelineEntry>(
    `SELECT kind, id, at FROM (
       SELECT 'EVENT' AS kind, id, "occurredAt" AS at FROM events
        WHERE "creatorId" = $1 AND "consumerId" = $2 AND 'EVENT' = ANY($3::text[])
       UNION ALL
       SELECT 'DECISION', id, "queuedAt" FROM agent_invocations
        WHERE "consumerId" = $2 AND "creatorId" = $1 AND 'DECISION' = ANY($3::text[])
       UNION ALL
       SELECT 'MESSAGE', id, COALESCE("sentAt", "sendAt") FROM actions
        WHERE "consumerId" = $2 AND "creatorId" = $1 AND 'MESSAGE' = ANY($3::text[])
     ) t
     WHERE $4::timestamptz IS NULL OR (at, kind, id) < ($4::timestamptz, $5::text, $6::uuid)
     ORDER BY at DESC, kind DESC, id DESC
     LIMIT $7`,
    [creatorId, consumerId, kinds, after?.at ?? null, after?.kind ?? null, after?.id ?? null, limit],
  );
  return rows;
}
