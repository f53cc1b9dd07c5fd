import type { ReadSql } from "../db/reads.js";

// A consumer's timeline: what happened to them, from every table that records it, in one keyset
// query. It writes nothing; each entry is then loaded by its owner's type.

/** What a timeline entry is: an event of the consumer, an agent's decision on one, or a message to them. */
export type TimelineKind = "EVENT" | "DECISION" | "MESSAGE";

/**
 * One entry: its kind, its row's id and its time (UTC). An event's time is when it occurred, a
 * decision's when the agent run was queued, a message's when it was planned (its due and sent
 * times are on the Action): a time that never changes, so a page never shows an entry twice.
 */
export type TimelineEntry = { kind: TimelineKind; id: string; at: Date };

/** Where a page starts: strictly after this entry in the timeline's order (newest first). */
export type TimelinePosition = { at: Date; kind: TimelineKind; id: string };

/**
 * Up to `limit` entries of the consumer, newest first (ties by kind, then id), after `after` when
 * given, read through `sql` (the operation's reads: the read replica for a query). Each branch takes its own first `limit` rows past the position, in order, on an index
 * that leads with the consumer and its time (events (creatorId, consumerId, occurredAt),
 * agent_invocations (consumerId, queuedAt), actions (consumerId, createdAt)), so a page reads a
 * page's worth of each table however long the consumer's history.
 */
export async function timelineOf(
  sql: ReadSql,
  creatorId: string,
  consumerId: string,
  kinds: readonly TimelineKind[],
  after: TimelinePosition | null,
  limit: number,
): Promise<TimelineEntry[]> {
  // Within a branch the kind is fixed, so "after (at, kind, id)" is: an earlier time; or the same
  // time and a smaller kind; or the same time and kind and a smaller id.
  const past = (kind: TimelineKind, at: string) =>
    `($4::timestamptz IS NULL OR ${at} < $4 OR (${at} = $4 AND ('${kind}' < $5::text OR ('${kind}' = $5::text AND id < $6::uuid))))`;
  return sql.read<TimelineEntry>(
    `SELECT kind, id, at FROM (
       (SELECT 'EVENT' AS kind, id, "occurredAt" AS at FROM events
         WHERE "creatorId" = $1 AND "consumerId" = $2 AND 'EVENT' = ANY($3::text[]) AND ${past("EVENT", '"occurredAt"')}
         ORDER BY "occurredAt" DESC, id DESC LIMIT $7)
       UNION ALL
       (SELECT 'DECISION', id, "queuedAt" FROM agent_invocations
         WHERE "consumerId" = $2 AND "creatorId" = $1 AND 'DECISION' = ANY($3::text[]) AND ${past("DECISION", '"queuedAt"')}
         ORDER BY "queuedAt" DESC, id DESC LIMIT $7)
       UNION ALL
       (SELECT 'MESSAGE', id, "createdAt" FROM actions
         WHERE "consumerId" = $2 AND "creatorId" = $1 AND 'MESSAGE' = ANY($3::text[]) AND ${past("MESSAGE", '"createdAt"')}
         ORDER BY "createdAt" DESC, id DESC LIMIT $7)
     ) t
     ORDER BY at DESC, kind DESC, id DESC
     LIMIT $7`,
    [creatorId, consumerId, kinds, after?.at ?? null, after?.kind ?? null, after?.id ?? null, limit],
  );
}
