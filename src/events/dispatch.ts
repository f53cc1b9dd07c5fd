import { pool } from "../db/client.js";
import { logger } from "../logger.js";
import { agentRunJobOptions, enqueueWithin, jobIds, QUEUES, queue } from "../queues.js";

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

async function addAgentRuns(events: Dispatchable[]): Promise<boolean> {
  try {
    const options = agentRunJobOptions();
    await enqueueWithin(
      queue(QUEUES.agentRuns).addBulk(
        events.map((e) => ({
          name: "agent-run",
          data: { eventId: e.id, creatorId: e.creatorId },
          opts: { ...options, jobId: jobIds.agentRun(e.id) },
        })),
      ),
    );
    return true;
  } catch (error) {
    logger.warn({ err: error, events: events.length }, "enqueue failed; the dispatch sweeper will retry");
    return false;
  }
}

/**
 * Re-enqueues events no worker has processed for a while: their enqueue failed, or their job
 * was lost. Jobs still in the queue keep their id, so this adds nothing for them.
 */
export async function sweepUnprocessedEvents(olderThanMs: number, limit = 1000): Promise<number> {
  const { rows } = await pool.query<Dispatchable>(
    `SELECT id, "creatorId" FROM events
      WHERE "processedAt" IS NULL AND "receivedAt" < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY "receivedAt" LIMIT $2`,
    [olderThanMs, limit],
  );
  if (rows.length > 0 && (await enqueueAgentRuns(rows))) {
    logger.info({ events: rows.length }, "sweeper enqueued unprocessed events");
  }
  return rows.length;
}
