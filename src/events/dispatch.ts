import { pool } from "../db/client.js";
import { logger } from "../logger.js";
import { addAgentRunJobs, jobIds, jobsMissing, QUEUES } from "../queues.js";

type Dispatchable = { id: string; creatorId: string };

/** Requests waiting for the next enqueue round trip. */
let waiting: { events: Dispatchable[]; settle: (enqueued: boolean) => void }[] = [];

/**
 * Enqueues one agent job per event, by event id, so enqueueing twice runs the event once.
 * Requests that commit in the same turn of the event loop share one Redis round trip. A failure
 * here loses nothing: the event row stays unprocessed and the sweeper enqueues it.
 */
export function enqueueAgentRuns(events: Dispatchable[]): Promise<boolean> {
  return new Promise((settle) => {
    waiting.push({ events, settle });
    if (waiting.length === 1) setImmediate(flushWaiting);
  });
}

async function flushWaiting(): Promise<void> {
  const batch = waiting;
  waiting = [];
  const enqueued = await addAgentRuns(batch.flatMap((w) => w.events));
  for (const w of batch) w.settle(enqueued);
}

/** Enqueues fail one after another while Redis is away: the first failure is logged, then the recovery. */
let enqueueFailing = false;

async function addAgentRuns(events: Dispatchable[]): Promise<boolean> {
  try {
    await addAgentRunJobs(events.map((e) => ({ eventId: e.id, creatorId: e.creatorId })));
    if (enqueueFailing) logger.info("agent jobs enqueue again");
    enqueueFailing = false;
    return true;
  } catch (error) {
    if (!enqueueFailing)
      logger.warn({ err: error, events: events.length }, "enqueue failed; the dispatch sweeper will retry");
    else logger.debug({ err: error, events: events.length }, "enqueue failed");
    enqueueFailing = true;
    return false;
  }
}

/**
 * Enqueues events left unprocessed for `olderThanMs` that have no job in the queue: their enqueue
 * failed, their job was lost with Redis, or it ended on an outage. Events whose job still waits
 * (or waits for a retry) are left to it. Returns how many it enqueued; throws when PostgreSQL or
 * Redis does not answer (the next sweep tries again).
 */
export async function sweepUnprocessedEvents(olderThanMs: number, limit = 1000): Promise<number> {
  const { rows } = await pool.query<Dispatchable>(
    `SELECT id, "creatorId" FROM events
      WHERE "processedAt" IS NULL AND "failedAt" IS NULL
        AND "receivedAt" < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY "receivedAt" LIMIT $2`,
    [olderThanMs, limit],
  );
  if (rows.length === 0) return 0;
  const missing = await jobsMissing(
    QUEUES.agentRuns,
    rows.map((e) => jobIds.agentRun(e.id)),
  );
  const stranded = rows.filter((_, i) => missing[i]);
  if (stranded.length === 0) return 0;
  if (!(await enqueueAgentRuns(stranded))) throw new Error("Redis unavailable: unprocessed events not enqueued");
  logger.info({ events: stranded.length }, "sweeper enqueued unprocessed events");
  return stranded.length;
}
