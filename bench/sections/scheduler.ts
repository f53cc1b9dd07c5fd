import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Closer } from "../closer.js";
import { CpuMeter } from "../cpu.js";
import type { Child } from "../processes.js";
import type { Results, SchedulerRun } from "../report.js";
import { settings } from "../settings.js";
import { latency, perSecond } from "../stats.js";

// The delivery scheduler: due actions sent to the local providers, by the worker process when
// worker/worker.ts starts the scheduler, else by bench/scheduler-process.ts. Consumers with consent
// and no quiet hours; lateness from the actions' latenessMs column.

export async function benchScheduler(closer: Closer, results: Results): Promise<void> {
  const { run } = closer;
  const wired = /\bstartScheduler\s*\(/.test(readFileSync(new URL("../../worker/worker.ts", import.meta.url), "utf8"));
  let hasScheduler = true;
  try {
    await import("../../src/delivery/scheduler.js");
  } catch {
    hasScheduler = false;
  }
  if (!hasScheduler) {
    results.scheduler = { available: false, reason: "src/delivery/scheduler.ts (startScheduler) does not exist yet" };
    results.notes.push("Scheduler: not available (src/delivery/scheduler.ts is missing).");
    run.log("scheduler: not available");
    return;
  }
  const host = wired ? "the worker process (worker/worker.ts)" : "bench/scheduler-process.ts (startScheduler)";
  let schedulerHost: Child;
  if (wired) {
    schedulerHost = await closer.ensureWorker();
  } else {
    results.notes.push(
      "The delivery scheduler is not started by worker/worker.ts yet: the bench runs startScheduler() in a process of its own (bench/scheduler-process.ts).",
    );
    schedulerHost = closer.startChild("closer-scheduler", "bench/scheduler-process.ts", "scheduler", true);
    run.hosts.scheduler = schedulerHost;
    await schedulerHost.message(60_000);
  }
  run.log(`scheduler hosted by ${host}`);
  if (wired) results.notes.push("The scheduler runs inside the worker process (worker/worker.ts), as deployed.");
  results.scheduler = { available: true, host, ...(await sendActions(closer, results, schedulerHost)) };
}

/** A burst of actions due at once, then actions due at a fixed rate, a third each on email, WhatsApp and webhooks. */
async function sendActions(
  closer: Closer,
  results: Results,
  host: Child | undefined,
): Promise<{ burst: SchedulerRun; paced: SchedulerRun }> {
  const { run, pool, sinkUrl } = closer;
  // No quiet hours (start equals end), so the time of day does not decide what is sent; default
  // frequency caps (each consumer gets at most one action per channel per run, under every cap).
  const made = await closer.makeCreator({ name: "Bench Delivery", quietHoursStart: "00:00", quietHoursEnd: "00:00" });
  const creatorId = made.creator.id;
  const consumers = settings.schedulerActions;
  await pool.query(
    `INSERT INTO consumers ("creatorId", "externalId", email, phone)
     SELECT $1::uuid, 's' || i, 's' || i || '@example.com', '+1415' || (6000000 + i) FROM generate_series(0, $2 - 1) i`,
    [creatorId, consumers],
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
       INSERT INTO events ("creatorId", "consumerId", type, "occurredAt", "processedAt") VALUES ($1, $2, 'page_view', now(), now()) RETURNING id
     )
     INSERT INTO agent_invocations ("agentId", "eventId", "creatorId", "consumerId", status)
     SELECT agent.id, event.id, $1, $2, 'COMPLETED' FROM agent, event RETURNING id AS "invocationId"`,
    [creatorId, people[0].id],
  );
  // Actions the agents planned earlier in the run are not part of this measurement.
  await pool.query(`UPDATE actions SET status = 'CANCELLED', "updatedAt" = now() WHERE status = 'PLANNED'`);

  const channels = ["EMAIL", "WHATSAPP", "WEBHOOK"] as const;
  let sequence = 0;
  const deliver = async (label: string, count: number, offered: number | null): Promise<SchedulerRun> => {
    const first = sequence;
    sequence += count;
    const meter = await CpuMeter.start(pool, host);
    const dueAt = Date.now() + 2_000;
    const spacingMs = offered ? 1000 / offered : 0;
    const items = Array.from({ length: count }, (_, i) => {
      const person = people[(first + i) % people.length];
      const channel = channels[(first + i) % channels.length];
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
        invocationId,
        first,
        creatorId,
        items.map((a) => a.person),
        items.map((a) => a.channel),
        items.map((a) => a.payload),
        items.map((a) => a.sendAt),
      ],
    );
    if (Date.now() > dueAt)
      results.notes.push(`Scheduler ${label}: inserting the actions took longer than the 2 s lead.`);
    const lastDue = dueAt + (count - 1) * spacingMs;
    run.log(`scheduler ${label}: ${count} actions due ${offered ? `at ${offered}/s` : "at once"}`);
    const deadline = Math.min(lastDue + 45_000, Date.now() + run.remainingMs() - 25_000);
    const inRun = `"invocationId" = $1 AND sequence >= $2 AND sequence < $3`;
    const args = [invocationId, first, first + count];
    while (Date.now() < deadline) {
      run.checkNotAborted();
      const { rows } = await pool.query<{ open: number }>(
        `SELECT count(*)::int AS open FROM actions WHERE ${inRun} AND status IN ('PLANNED', 'SENDING')`,
        args,
      );
      if (rows[0].open === 0) break;
      await sleep(200);
    }
    const cpu = await meter.stop(count);
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
      args,
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
      cpuMsPerAction: { scheduler: cpu.server, postgres: cpu.postgres, sinks: cpu.bench },
    };
    run.log(
      `scheduler ${label}: ${s.sent} sent, ${s.failed} failed, ${s.skipped} skipped, ${s.pending} pending; ${figures.actionsPerSecond} actions/s; lateness p50 ${figures.latenessMs.p50} ms, p99 ${figures.latenessMs.p99} ms; CPU ms per action: scheduler ${cpu.server}, postgres ${cpu.postgres}, sinks ${cpu.bench}; ${run.rss()}`,
    );
    return figures;
  };
  const burst = await deliver("burst", settings.schedulerActions, null);
  const paced = await deliver(
    "paced",
    Math.round(settings.schedulerRate * settings.schedulerPacedSeconds),
    settings.schedulerRate,
  );
  return { burst, paced };
}
