import { setTimeout as sleep } from "node:timers/promises";
import type { Closer } from "../closer.js";
import { CpuMeter } from "../cpu.js";
import type { Child } from "../processes.js";
import type { Results, SchedulerRun } from "../report.js";
import { runSchedulerBaseline } from "../scheduler-baseline.js";
import { settings } from "../settings.js";
import { latency, perSecond, ratio } from "../stats.js";

// The delivery scheduler against its plain-pg baseline (scheduler-baseline.ts), on the same
// local providers: first the baseline alone (the scheduler stopped) on a burst of actions due at
// once, then Closer's scheduler on a burst of the same size and pattern, then Closer's scheduler
// at half the baseline's rate (lateness from the actions' latenessMs column). Each has a creator
// of its own: consumers with consent and no quiet hours, a third of the actions each on email,
// WhatsApp and webhooks.

export async function benchScheduler(closer: Closer, results: Results): Promise<void> {
  const { run } = closer;
  // Actions the agents planned earlier in the run are not part of this measurement.
  await closer.pool.query(`UPDATE actions SET status = 'CANCELLED', "updatedAt" = now() WHERE status = 'PLANNED'`);
  const baselineSet = await seedDelivery(closer, "Bench Delivery Baseline");
  const closerSet = await seedDelivery(closer, "Bench Delivery");

  await closer.stopScheduler();
  const { config } = closer;
  const baselineOptions = {
    databaseUrl: closer.databaseUrl,
    poolSize: settings.databasePoolSize,
    batchSize: config.SCHEDULER_BATCH_SIZE,
    concurrency: config.DELIVERY_CONCURRENCY,
    whatsAppUrl: `${closer.sinkUrl}/v19.0`,
    smtpUrl: closer.smtpUrl,
  };
  const baseline = await deliver(closer, results, {
    set: baselineSet,
    label: "baseline burst",
    count: settings.schedulerActions,
    offered: null,
    servers: [],
    async untilDone(planned) {
      await sleep(Math.max(0, planned.dueAt - Date.now()));
      await runSchedulerBaseline(baselineOptions);
    },
  });

  const { host, where } = await closer.ensureScheduler();
  run.log(`scheduler hosted by ${where}`);
  const scheduled = { set: closerSet, servers: [host], untilDone: (planned: Planned) => untilSent(closer, planned) };
  const burst = await deliver(closer, results, {
    ...scheduled,
    label: "burst",
    count: settings.schedulerActions,
    offered: null,
  });
  const pacedRate = Math.max(1, Math.round(baseline.actionsPerSecond / 2));
  const paced = await deliver(closer, results, {
    ...scheduled,
    label: "paced",
    count: Math.round(pacedRate * settings.schedulerPacedSeconds),
    offered: pacedRate,
  });
  results.scheduler = {
    host: where,
    baseline,
    burst,
    paced,
    ratio: ratio(burst.actionsPerSecond, baseline.actionsPerSecond),
  };
  results.notes.push(
    `Closer's scheduler runs in ${where}.`,
    `Scheduler baseline (scheduler-baseline.ts): plain pg, pool of ${settings.databasePoolSize}, claims ${config.SCHEDULER_BATCH_SIZE} due actions at a time with FOR UPDATE SKIP LOCKED, sends ${config.DELIVERY_CONCURRENCY} at once to the same sinks (HTTP for WhatsApp and webhooks, SMTP over 5 pooled connections for email), marks each SENT; it runs in a thread of the bench process (the sinks on its main thread) while Closer's scheduler is stopped.`,
  );
}

type DeliverySet = {
  creatorId: string;
  invocationId: string;
  people: { id: string; email: string; phone: string }[];
  /** Sequence numbers of the invocation's actions used so far. */
  used: number;
};

/** Actions inserted for one measurement: due from dueAt, the invocation's sequences [first, first + count). */
type Planned = { set: DeliverySet; first: number; count: number; dueAt: number; lastDue: number };

/**
 * A creator with `settings.schedulerActions` consumers, each with consent on every channel, a
 * context and an open WhatsApp window, and one invocation to hang actions on. No quiet hours
 * (start equals end), so the time of day does not decide what is sent; default frequency caps
 * (each consumer gets at most one action per channel per measurement, under every cap).
 */
async function seedDelivery(closer: Closer, name: string): Promise<DeliverySet> {
  const { pool } = closer;
  const made = await closer.makeCreator({ name, quietHoursStart: "00:00", quietHoursEnd: "00:00" });
  const creatorId = made.creator.id;
  await pool.query(
    `INSERT INTO consumers ("creatorId", "externalId", email, phone)
     SELECT $1::uuid, 's' || i, 's' || i || '@example.com', '+1415' || (6000000 + i) FROM generate_series(0, $2 - 1) i`,
    [creatorId, settings.schedulerActions],
  );
  await pool.query(
    `INSERT INTO consumer_consents ("consumerId", channel, status, source)
     SELECT c.id, ch, 'GRANTED', 'bench' FROM consumers c CROSS JOIN unnest('{EMAIL,WHATSAPP,WEBHOOK}'::"Channel"[]) ch
      WHERE c."creatorId" = $1`,
    [creatorId],
  );
  await pool.query(
    `INSERT INTO consumer_contexts ("creatorId", "consumerId", stage) SELECT "creatorId", id, 'INTERESTED' FROM consumers WHERE "creatorId" = $1`,
    [creatorId],
  );
  // Each consumer wrote on WhatsApp just now: the customer-service window is open, so free text
  // goes out (outside it the send rules would skip it, which is not what is measured).
  await pool.query(
    `INSERT INTO conversations ("creatorId", "consumerId", channel, "lastInboundAt")
     SELECT "creatorId", id, 'WHATSAPP', now() FROM consumers WHERE "creatorId" = $1`,
    [creatorId],
  );
  const { rows: people } = await pool.query<{ id: string; email: string; phone: string }>(
    `SELECT id, email, phone FROM consumers WHERE "creatorId" = $1 ORDER BY "externalId"`,
    [creatorId],
  );
  // Actions belong to an invocation: one agent, one event, one invocation hold them all. The
  // agent is paused: the email_delivered events the scheduler records are still ingested and
  // enqueued, but no agent run on them competes with the sends being measured.
  const {
    rows: [{ invocationId }],
  } = await pool.query<{ invocationId: string }>(
    `WITH agent AS (
       INSERT INTO agents ("creatorId", name, kind, status, "updatedAt")
       VALUES ($1, 'bench-delivery', 'generic_sales', 'PAUSED', now()) RETURNING id
     ), event AS (
       INSERT INTO events ("creatorId", "consumerId", type, "occurredAt", "processedAt") VALUES ($1, $2, 'page_view', now(), now()) RETURNING id, "receivedAt"
     )
     INSERT INTO agent_invocations ("agentId", "eventId", "eventReceivedAt", "creatorId", "consumerId", status)
     SELECT agent.id, event.id, event."receivedAt", $1, $2, 'COMPLETED' FROM agent, event RETURNING id AS "invocationId"`,
    [creatorId, people[0].id],
  );
  return { creatorId, invocationId, people, used: 0 };
}

const CHANNELS = ["EMAIL", "WHATSAPP", "WEBHOOK"] as const;

/**
 * Inserts `count` actions of the set, due 2 s from now all at once (`offered` null) or spaced at
 * `offered` per second, has them sent (`untilDone`), and reads the figures from their rows.
 * `servers`: the processes sending them, for CPU per action (none for the baseline, which runs
 * in the bench process).
 */
async function deliver(
  closer: Closer,
  results: Results,
  options: {
    set: DeliverySet;
    label: string;
    count: number;
    offered: number | null;
    servers: Child[];
    untilDone(planned: Planned): Promise<void>;
  },
): Promise<SchedulerRun> {
  const { run, pool, sinkUrl } = closer;
  const { set, label, count, offered } = options;
  const first = set.used;
  set.used += count;
  const meter = await CpuMeter.start(pool, options.servers);
  const dueAt = Date.now() + 2_000;
  const spacingMs = offered ? 1000 / offered : 0;
  const items = Array.from({ length: count }, (_, i) => {
    const person = set.people[(first + i) % set.people.length];
    const channel = CHANNELS[(first + i) % CHANNELS.length];
    const text = { message: "Hi, a quick note from the bench.", template: "bench" };
    const payload =
      channel === "EMAIL"
        ? { to: person.email, subject: "Bench", ...text }
        : channel === "WHATSAPP"
          ? { to: person.phone, ...text }
          : { url: `${sinkUrl}/hook`, event: "bench.action", data: { n: first + i } };
    return { person: person.id, channel, payload: JSON.stringify(payload), sendAt: new Date(dueAt + i * spacingMs) };
  });
  await pool.query(
    `INSERT INTO actions ("invocationId", sequence, "creatorId", "consumerId", channel, payload, "sendAt", priority)
     SELECT $1, $2 + ord - 1, $3, consumer, channel, payload, send_at, 1
       FROM unnest($4::uuid[], $5::"Channel"[], $6::jsonb[], $7::timestamptz[]) WITH ORDINALITY AS a(consumer, channel, payload, send_at, ord)`,
    [
      set.invocationId,
      first,
      set.creatorId,
      items.map((a) => a.person),
      items.map((a) => a.channel),
      items.map((a) => a.payload),
      items.map((a) => a.sendAt),
    ],
  );
  if (Date.now() > dueAt)
    results.notes.push(`Scheduler ${label}: inserting the actions took longer than the 2 s lead.`);
  run.log(`scheduler ${label}: ${count} actions due ${offered ? `at ${offered}/s` : "at once"}`);
  const planned: Planned = { set, first, count, dueAt, lastDue: dueAt + (count - 1) * spacingMs };
  await options.untilDone(planned);
  const cpu = await meter.stop(count);
  const inRun = `"invocationId" = $1 AND sequence >= $2 AND sequence < $3`;
  const {
    rows: [s],
  } = await pool.query<{
    sent: number;
    failed: number;
    skipped: number;
    pending: number;
    firstSent: Date | null;
    lastSent: Date | null;
    lateness: number[] | null;
    channels: Record<string, number> | null;
  }>(
    `SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE status IN ('SKIPPED', 'CANCELLED'))::int AS skipped,
            count(*) FILTER (WHERE status IN ('PLANNED', 'SENDING'))::int AS pending,
            min("sentAt") AS "firstSent", max("sentAt") AS "lastSent",
            array_agg("latenessMs") FILTER (WHERE status = 'SENT') AS lateness,
            (SELECT jsonb_object_agg(channel, n) FROM (
               SELECT channel, count(*) AS n FROM actions WHERE ${inRun} AND status = 'SENT' GROUP BY channel) c) AS channels
       FROM actions WHERE ${inRun}`,
    [set.invocationId, first, first + count],
  );
  const last = s.lastSent?.getTime() ?? dueAt;
  const figures: SchedulerRun = {
    actions: count,
    offeredPerSecond: offered,
    sent: s.sent,
    failed: s.failed,
    skipped: s.skipped,
    pending: s.pending,
    actionsPerSecond: perSecond(s.sent, last - dueAt),
    sendingPerSecond: perSecond(s.sent, last - (s.firstSent?.getTime() ?? last)),
    latenessMs: latency(s.lateness ?? []),
    channels: s.channels ?? {},
    cpuMsPerAction: { scheduler: cpu.server, postgres: cpu.postgres, bench: cpu.bench },
  };
  run.log(
    `scheduler ${label}: ${s.sent} sent, ${s.failed} failed, ${s.skipped} skipped, ${s.pending} pending; ${figures.actionsPerSecond} actions/s; lateness p50 ${figures.latenessMs.p50} ms, p99 ${figures.latenessMs.p99} ms; CPU ms per action: scheduler ${cpu.server}, postgres ${cpu.postgres}, bench ${cpu.bench}; ${run.rss()}`,
  );
  return figures;
}

/** Waits until Closer's scheduler has settled every planned action (or 45 s after the last was due). */
async function untilSent(closer: Closer, { set, first, count, lastDue }: Planned): Promise<void> {
  const { run, pool } = closer;
  const deadline = Math.min(lastDue + 45_000, Date.now() + run.remainingMs() - 25_000);
  while (Date.now() < deadline) {
    run.checkNotAborted();
    const { rows } = await pool.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM actions
        WHERE "invocationId" = $1 AND sequence >= $2 AND sequence < $3 AND status IN ('PLANNED', 'SENDING')`,
      [set.invocationId, first, first + count],
    );
    if (rows[0].open === 0) return;
    await sleep(200);
  }
}
