import type { Closer } from "../closer.js";
import { openLoop } from "../load.js";
import type { Results, SoakMemory } from "../report.js";
import { referenceRate, settings } from "../settings.js";
import { subscribeSse } from "../sse.js";
import { latency, median, slope } from "../stats.js";
import { AGENT_DECISIONS, soakEvent } from "../workload.js";

// The soak: a steady mixed load for BENCH_SOAK_SECONDS after a warm-up of soakWarmupSeconds,
// with every Closer process running. Single events through ingestEvent at a quarter of the
// reference rate (this run's single-event baseline), open loop, for a creator whose agent welcomes
// each new consumer at once (no welcome delay, no quiet hours): the worker runs agents, the
// scheduler sends WhatsApp messages to the sink and one SSE subscriber receives the decisions,
// the whole time. Each child's resident memory (VmRSS) is read every soakSampleSeconds.
//
// "No growth" (issue 16, goal 6), per process (targets.ts): the least-squares slope of RSS over
// the last two thirds of the measured window is at most SOAK_MAX_SLOPE_MB_PER_MIN, and the end
// is at most SOAK_MAX_END_RATIO times the start. After start-up a Node process grows to a
// plateau for its load (V8 sizes its heap to the allocation rate, compiled code and caches
// fill): the warm-up and the first third of the window leave that out, and what climbs steadily
// after it is a leak. 1 MB/min is 10 MB over a 10-minute soak, 1.4 GB over a day. Start and end
// are medians of the first and last 30 s of samples, so one garbage collection's sawtooth does
// not decide.

const EDGE_SECONDS = 30;

export async function benchSoak(closer: Closer, results: Results): Promise<void> {
  const { run, pool } = closer;
  run.reservedMs = 0; // The time held back for the soak is now its own.
  const { where } = await closer.ensureScheduler();
  await closer.ensureWorker();
  const soakCreator = await closer.creatorWithAgent(
    "Bench Soak",
    { quietHoursStart: "00:00", quietHoursEnd: "00:00" },
    { welcomeDelayMinutes: 0 },
  );
  let decisions = 0;
  const subscription = await subscribeSse(
    closer.apiUrl,
    AGENT_DECISIONS,
    { creatorId: soakCreator.gid },
    soakCreator.creatorKey,
    () => decisions++,
  );
  run.onCleanup("close soak subscription", async () => subscription.close());

  const reference = referenceRate(results);
  const rate = Math.max(1, Math.round(reference.perSecond * settings.soakShare));
  const totalSeconds = settings.soakWarmupSeconds + settings.soakSeconds;
  run.log(
    `soak: ${rate} events/s (${settings.soakShare * 100} % of ${reference.perSecond}/s, ${reference.source}) for ${settings.soakWarmupSeconds} s of warm-up and ${settings.soakSeconds} s measured; the scheduler in ${where}`,
  );

  const started = performance.now();
  /** RSS samples by role: [seconds since the end of the warm-up, MB]. */
  const samples = new Map<string, [number, number][]>();
  const sample = () => {
    const at = (performance.now() - started) / 1000 - settings.soakWarmupSeconds;
    for (const child of run.children.filter((c) => c.running)) {
      const role = child.name.replace("closer-", "");
      const points = samples.get(role) ?? [];
      points.push([at, child.rssMb()]);
      samples.set(role, points);
    }
  };
  let sent = 0;
  let ingestErrors = 0;
  const ingestLatencies: number[] = [];
  let lastLog = 0;
  const sampler = setInterval(() => {
    sample();
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed - lastLog >= 60) {
      lastLog = elapsed;
      run.log(`soak ${Math.round(elapsed)} s: ${sent} events sent, ${decisions} decisions received; ${run.rss()}`);
    }
  }, settings.soakSampleSeconds * 1000);
  const since = new Date();
  let dropped = 0;
  try {
    ({ dropped } = await openLoop({
      ratePerSecond: rate,
      count: Math.round(rate * totalSeconds),
      maxInFlight: settings.concurrency,
      signal: run.stopping.signal,
      send: async (i) => {
        const t = performance.now();
        try {
          await closer.ingestSingle(soakCreator, soakEvent(i));
          sent++;
          if (t - started >= settings.soakWarmupSeconds * 1000) ingestLatencies.push(performance.now() - t);
        } catch {
          ingestErrors++;
        }
      },
    }));
    sample();
  } finally {
    clearInterval(sampler);
    subscription.close();
  }
  run.checkNotAborted();

  const {
    rows: [work],
  } = await pool.query<{ invocations: number; actions: Record<string, number> | null; lateness: number[] | null }>(
    `SELECT (SELECT count(*)::int FROM agent_invocations WHERE "creatorId" = $1 AND "finishedAt" IS NOT NULL) AS invocations,
            (SELECT jsonb_object_agg(status, n) FROM (
               SELECT status, count(*)::int AS n FROM actions WHERE "creatorId" = $1 GROUP BY status) a) AS actions,
            (SELECT array_agg("latenessMs") FROM actions WHERE "creatorId" = $1 AND status = 'SENT' AND "sentAt" > $2) AS lateness`,
    [soakCreator.creator.id, new Date(since.getTime() + settings.soakWarmupSeconds * 1000)],
  );
  await closer.discardAgentBacklog();
  results.soak = {
    offeredPerSecond: rate,
    reference: reference.source,
    warmupS: settings.soakWarmupSeconds,
    seconds: settings.soakSeconds,
    sent,
    dropped,
    ingestErrors,
    ingestLatencyMs: latency(ingestLatencies),
    decisions,
    invocations: work.invocations,
    actions: work.actions ?? {},
    latenessMs: latency(work.lateness ?? []),
    processes: Object.fromEntries([...samples].map(([role, points]) => [role, memoryTrend(points)])),
  };
  const trends = Object.entries(results.soak.processes)
    .map(([role, m]) => `${role} ${m.startMb} -> ${m.endMb} MB (peak ${m.peakMb}, last 2/3 ${m.slopeMbPerMin} MB/min)`)
    .join(", ");
  run.log(
    `soak: ${sent} events (${dropped} not sent: ${settings.concurrency} were in flight; ${ingestErrors} errors, ingest p99 ${results.soak.ingestLatencyMs.p99} ms), ${decisions} decisions received, ${work.invocations} invocations, actions by status ${JSON.stringify(results.soak.actions)} (lateness p99 after the warm-up ${results.soak.latenessMs.p99} ms); RSS ${trends}`,
  );
}

/** RSS over the measured window (samples at t >= 0): start, end, peak, and the slope of its last two thirds. */
function memoryTrend(points: [number, number][]): SoakMemory {
  const measured = points.filter(([t]) => t >= 0);
  const end = measured.at(-1)?.[0] ?? 0;
  const round = (v: number) => Math.round(v * 100) / 100;
  const edge = (from: number, to: number) => median(measured.filter(([t]) => t >= from && t <= to).map(([, mb]) => mb));
  return {
    startMb: edge(0, EDGE_SECONDS),
    endMb: edge(end - EDGE_SECONDS, end),
    peakMb: Math.max(...points.map(([, mb]) => mb)),
    slopeMbPerMin: round(slope(measured.filter(([t]) => t >= end / 3).map(([t, mb]) => [t / 60, mb]))),
    samples: points.map(([t, mb]) => [Math.round(t), mb]),
  };
}
