import { config } from "../config.js";
import { logger } from "../logger.js";
import {
  dropEventPartitionsBefore,
  eventPartitions,
  holds,
  makeEventPartitions,
  monthStart,
} from "./event-partition-store.js";

// The upkeep of the events table's monthly partitions (event-partition-store.ts says why by
// month): months made ahead, months past the retention dropped, and an insert that never finds
// its month missing.

/**
 * Months made ahead of the current one (UTC): with the worker's hourly run, a worker may stay
 * stopped this long before ingestion has to make a month itself (coverReceivedAt).
 */
export const MONTHS_AHEAD = 3;

/** How often the worker maintains the partitions: a month starts at most every 28 days, so an hour is plenty. */
const MAINTENANCE_INTERVAL_MS = 60 * 60_000;

const DAY_MS = 24 * 3_600_000;

/** What one maintenance did: the partitions made and dropped, by name. */
export type PartitionUpkeep = { made: string[]; dropped: string[] };

/**
 * Makes the partitions of the month holding `now` and the MONTHS_AHEAD after it that are missing,
 * then, with `retentionDays` above 0, drops the partitions whose every receipt is more than
 * `retentionDays` days before `now`, with what refers to their events (their invocations and
 * those invocations' actions, their idempotency keys: README "Event partitions and retention").
 * Safe to run from several workers at once. `signal` stops a drop between statements. Throws what
 * PostgreSQL raises; what was done before stays done.
 */
export async function maintainEventPartitions({
  now = new Date(),
  retentionDays = config().EVENT_RETENTION_DAYS,
  signal,
}: {
  now?: Date;
  retentionDays?: number;
  signal?: AbortSignal;
} = {}): Promise<PartitionUpkeep> {
  const made = await makeEventPartitions(now, monthStart(now, MONTHS_AHEAD));
  const dropped =
    retentionDays > 0 ? await dropEventPartitionsBefore(new Date(now.getTime() - retentionDays * DAY_MS), signal) : [];
  if (made.length > 0 || dropped.length > 0) logger.info({ made, dropped }, "event partitions maintained");
  return { made, dropped };
}

/**
 * Runs maintainEventPartitions now and every MAINTENANCE_INTERVAL_MS, one run at a time; a failed
 * run is logged (once until one succeeds) and tried again at the next. `stop` ends the loop and
 * waits for the run under way, which stops between statements.
 */
export function startEventPartitionMaintenance(): { stop(): Promise<void> } {
  const stopping = new AbortController();
  let running: Promise<void> | null = null;
  let failing = false;
  const run = () => {
    running ??= maintainEventPartitions({ signal: stopping.signal })
      .then(() => {
        if (failing) logger.info("event partition maintenance succeeds again");
        failing = false;
      })
      .catch((error) => {
        if (!failing) logger.warn({ err: error }, "event partition maintenance failed; retrying every hour");
        failing = true;
      })
      .finally(() => {
        running = null;
      });
  };
  run();
  const timer = setInterval(run, MAINTENANCE_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}

/** Receipts from now until this instant (ms) have a partition to go to, as this process last found. */
let coveredUntil = Number.NEGATIVE_INFINITY;
let covering: Promise<void> | null = null;

/**
 * Makes sure a partition holds the receipt instant `at` before events received then are
 * inserted: the insert-time guarantee, for a month the worker has not made ahead (no worker ran
 * for MONTHS_AHEAD months, or it started after its month began). Known months cost nothing: the
 * catalog is read once per month and process. Call it before the inserting transaction, never
 * inside one: making a partition locks the tables its foreign keys name (consumers, creators...),
 * which that transaction may hold. Throws what PostgreSQL raises.
 */
export async function coverReceivedAt(at: Date): Promise<void> {
  while (at.getTime() >= coveredUntil) {
    covering ??= cover(at).finally(() => {
      covering = null;
    });
    await covering;
  }
}

async function cover(at: Date): Promise<void> {
  let partition = (await eventPartitions()).find((p) => holds(p, at));
  if (!partition) {
    await makeEventPartitions(at, at);
    partition = (await eventPartitions()).find((p) => holds(p, at));
  }
  if (!partition) throw new Error(`no partition of events holds ${at.toISOString()} after making it`);
  coveredUntil = partition.to?.getTime() ?? Number.POSITIVE_INFINITY;
}
