// `npm run bench`: Closer's performance on this machine, each ingestion figure beside a plain-pg
// baseline measured in the same run. Fresh database and Redis prefix; the API and the worker run
// as child processes the way `npm start` runs them; everything is removed at the end, also on
// failure. Results: bench/results/<timestamp>.json, latest.json and latest.md.
//
// Knobs (environment): BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_BATCH_CONCURRENCY, BENCH_BACKLOG,
// BENCH_DECISION_RATE, BENCH_SCHEDULER_ACTIONS, BENCH_SCHEDULER_RATE, BENCH_SECTIONS (comma list
// of ingestion,worker,decision,scheduler), BENCH_PROFILE (api|worker|scheduler: --cpu-prof on
// that child, summarised at the end), BENCH_DATABASE_URL (server to create the database on).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { migrate } from "../scripts/migrate.js";
import { Baseline } from "./baseline.js";
import { CpuMeter } from "./cpu.js";
import { closedLoop, GraphQLClient, type LoopResult, openLoop } from "./load.js";
import { Child, freePorts, waitForHttp } from "./processes.js";
import { formatSummary, summarizeProfile } from "./profile-summary.js";
import {
  describeMachine,
  type IngestionPair,
  type LoadFigures,
  type Results,
  type SchedulerRun,
  table,
  writeResults,
} from "./report.js";
import { subscribeSse } from "./sse.js";
import { latency, perSecond, ratio } from "./stats.js";
import {
  AGENT_DECISIONS,
  agentEvent,
  type BenchEvent,
  INGEST_EVENT,
  INGEST_EVENTS,
  ingestionEvent,
} from "./workload.js";

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};

const settings = {
  seconds: num("BENCH_SECONDS", 10),
  warmupSeconds: 1.5,
  concurrency: num("BENCH_CONCURRENCY", 32),
  batchConcurrency: num("BENCH_BATCH_CONCURRENCY", 8),
  batchSize: 100,
  /** Caps on requests per measurement, whatever the duration. */
  maxSingleRequests: 20_000,
  maxBatchRequests: 2_000,
  backlog: num("BENCH_BACKLOG", 5_000),
  decisionRate: num("BENCH_DECISION_RATE", 200),
  decisionSeconds: 10,
  schedulerActions: num("BENCH_SCHEDULER_ACTIONS", 5_000),
  schedulerRate: num("BENCH_SCHEDULER_RATE", 1_000),
  schedulerPacedSeconds: 5,
  /** The whole run, cleanup included, stays under five minutes. */
  budgetSeconds: 285,
  databasePoolSize: 10,
};
const ALL_SECTIONS = ["ingestion", "worker", "decision", "scheduler"];
const sections = new Set((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(",")).split(",").map((s) => s.trim()));
for (const s of sections) if (!ALL_SECTIONS.includes(s)) throw new Error(`BENCH_SECTIONS: unknown section ${s}`);
const profileTarget = process.env.BENCH_PROFILE as "api" | "worker" | "scheduler" | undefined;
if (profileTarget && !["api", "worker", "scheduler"].includes(profileTarget)) {
  throw new Error("BENCH_PROFILE is one of api, worker, scheduler");
}

const started = Date.now();
const remainingMs = () => settings.budgetSeconds * 1000 - (Date.now() - started);
const log = (message: string) =>
  console.log(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
/** Resident memory of the running children, for the log. */
const rss = () =>
  `RSS ${children
    .filter((c) => c.running)
    .map((c) => `${c.name.replace("closer-", "")} ${c.rssMb()} MB`)
    .join(", ")}`;

const runId = `${new Date(started).toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(3).toString("hex")}`;
const serverUrl = new URL(process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
const databaseName = `closer_bench_${runId}`;
const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${databaseName}` }).toString();
const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const redisPrefix = `bench-${runId}`;
const profileDir = new URL("./results/profiles/", import.meta.url).pathname;

// ---- cleanup, whatever happens ----

const children: Child[] = [];
const cleanups: { name: string; run: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;

/** Stops the children, then runs the cleanups in reverse order; every caller waits for the one run. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(children.map((c) => c.stop().catch(() => c.kill())));
    for (const { name, run } of cleanups.reverse()) {
      try {
        await Promise.race([run(), sleep(15_000).then(() => Promise.reject(new Error("timed out")))]);
      } catch (error) {
        console.error(`cleanup "${name}" failed: ${(error as Error).message}`);
      }
    }
  })();
  return cleaning;
}

process.on("exit", () => {
  for (const child of children) child.kill();
});
/** Set when the run is being aborted: loops stop, the next section check throws. */
const stopping = new AbortController();
const checkNotAborted = () => {
  if (stopping.signal.aborted) throw new Error("aborted");
  const crashed = children.find((c) => c.crashed);
  if (crashed) throw new Error(`${crashed.name} exited during the run`);
};

/** Stops everything and exits, once, whatever asked for it. */
function abort(reason: string, code: number): void {
  stopping.abort();
  if (cleaning) return; // The run is already cleaning up and will exit.
  console.error(`\n${reason}: stopping the children and dropping the bench database`);
  cleanup().finally(() => process.exit(code));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => abort(signal, 130));
process.on("uncaughtException", (error) => abort(`uncaught ${error.stack ?? error}`, 1));
process.on("unhandledRejection", (error) => abort(`unhandled ${(error as Error)?.stack ?? error}`, 1));
const watchdog = setTimeout(
  () => abort(`over the ${settings.budgetSeconds} s budget`, 2),
  (settings.budgetSeconds + 10) * 1000,
);
watchdog.unref();

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

cleanups.push({
  name: "drop database",
  run: () => adminQuery(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`),
});
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
cleanups.push({
  name: "remove redis keys",
  run: async () => {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${redisPrefix}:*`, "COUNT", 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
    await redis.quit();
  },
});

// ---- setup ----

const results: Results = {
  startedAt: new Date(started).toISOString(),
  durationS: 0,
  complete: false,
  machine: {},
  settings: { ...settings, sections: [...sections] },
  notes: [],
  ingestion: {},
  memory: {},
  targets: [],
};

const [apiPort, metricsPort] = await freePorts(2);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: "production",
  HOST: "127.0.0.1",
  PORT: String(apiPort),
  DATABASE_URL: databaseUrl,
  DATABASE_POOL_SIZE: String(settings.databasePoolSize),
  REDIS_URL: redisUrl,
  REDIS_PREFIX: redisPrefix,
  RATE_LIMIT_MAX: "1000000000",
  LOG_LEVEL: "warn",
  WORKER_METRICS_PORT: String(metricsPort),
  // Provider send-rate limits (50/80/100 per second by default) would cap the scheduler below
  // what it can do: the bench measures the scheduler, not the configured limits.
  DELIVERY_RATE_EMAIL_PER_SECOND: "1000000",
  DELIVERY_RATE_WHATSAPP_PER_SECOND: "1000000",
  DELIVERY_RATE_WEBHOOK_PER_SECOND: "1000000",
  // The bench's webhook receiver listens on loopback: admitted as an operator would.
  OUTBOUND_ALLOWED_HOSTS: "127.0.0.1",
};
// This process uses Closer's services for setup: they read the same configuration.
Object.assign(process.env, env, { CLOSER_PROCESS: "closer-bench" });

const apiUrl = `http://127.0.0.1:${apiPort}/graphql`;
let api: Child | undefined;
let worker: Child | undefined;
let schedulerHost: Child | undefined;

try {
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
  log(`creating ${databaseName} and applying the migrations`);
  await migrate(databaseUrl);

  const { db, pool } = await import("../src/db/client.js");
  const { queue, QUEUES, closeQueues } = await import("../src/queues.js");
  const { makeCreator } = await import("../test/support/api.js");
  const { makeActiveProfile } = await import("../test/support/profile-fixture.js");
  const { startHttpSink, startSmtpSink, whatsAppAccepted } = await import("../scripts/sinks.js");
  cleanups.push({
    name: "close bench connections",
    run: async () => {
      await Promise.all([db.$disconnect(), closeQueues()]);
      await pool.end();
    },
  });

  const pgVersion = (await pool.query<{ version: string }>("SELECT version()")).rows[0].version.split(" on ")[0];
  results.machine = await describeMachine(pgVersion, redisVersion);
  // The Closer settings that shape the figures, as the children see them.
  const closerConfig = (await import("../src/config.js")).loadConfig(env);
  results.settings.closer = Object.fromEntries(
    [
      "NODE_ENV",
      "DATABASE_POOL_SIZE",
      "RATE_LIMIT_MAX",
      "WORKER_CONCURRENCY",
      "SCHEDULER_INTERVAL_MS",
      "SCHEDULER_BATCH_SIZE",
      "DELIVERY_CONCURRENCY",
      "DELIVERY_RATE_EMAIL_PER_SECOND",
      "DELIVERY_RATE_WHATSAPP_PER_SECOND",
      "DELIVERY_RATE_WEBHOOK_PER_SECOND",
    ].map((k) => [k, closerConfig[k as keyof typeof closerConfig]]),
  );
  // Local provider endpoints: WhatsApp Cloud API and webhooks over HTTP, email over SMTP.
  const httpSink = await startHttpSink();
  httpSink.reply = (request) =>
    request.path.endsWith("/messages") ? whatsAppAccepted(request) : { status: 200, body: { ok: true } };
  const smtpSink = await startSmtpSink();
  cleanups.push({ name: "close sinks", run: () => Promise.all([httpSink.close(), smtpSink.close()]) });
  Object.assign(env, { SMTP_URL: smtpSink.url, WHATSAPP_API_URL: `${httpSink.url}/v19.0` });

  const startChild = (name: string, entry: string, target: typeof profileTarget, ipc = false) => {
    const cpuProfileDir = profileTarget === target ? `${profileDir}${name}-${runId}` : undefined;
    const child = new Child(name, entry, env, { cpuProfileDir, ipc });
    children.push(child);
    return child;
  };

  log("starting the API");
  api = startChild("closer-api", "src/server.ts", "api");
  await waitForHttp(`http://127.0.0.1:${apiPort}/health`, 60_000, api);
  const client = new GraphQLClient(apiUrl, Math.max(settings.concurrency, settings.batchConcurrency) + 4);
  cleanups.push({ name: "close http client", run: async () => client.close() });

  const { DeployAgent } = await import("../test/support/operations.js");
  const { print } = await import("graphql");
  const creatorWithAgent = async (name: string) => {
    const made = await makeCreator({ name });
    await makeActiveProfile(made.creator.id);
    await client.operation(print(DeployAgent), { input: { creatorId: made.gid } }, made.creatorKey);
    return made;
  };
  const ingestCreator = await creatorWithAgent("Bench Ingestion");
  const baselineCreator = await makeCreator({ name: "Bench Baseline" });

  const ensureWorker = async () => {
    if (worker?.running) return;
    worker = startChild("closer-worker", "worker/main.ts", "worker");
    await waitForHttp(`http://127.0.0.1:${metricsPort}/health`, 60_000, worker);
  };

  // ---- ingestion, with the worker stopped: the API and the baseline alone on the database ----

  const ingestSingle = async (creator: typeof ingestCreator, event: BenchEvent) => {
    const body = JSON.stringify({ query: INGEST_EVENT, variables: { creatorId: creator.gid, event } });
    const answer = await client.post(body, creator.ingestKey);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    const data = JSON.parse(answer.body) as { data?: { ingestEvent?: { __typename: string; event?: { id: string } } } };
    const result = data.data?.ingestEvent;
    if (result?.__typename !== "IngestedEvent") throw new Error(answer.body.slice(0, 300));
    return result.event?.id as string;
  };
  const ingestBatch = async (creator: typeof ingestCreator, events: BenchEvent[]) => {
    const body = JSON.stringify({ query: INGEST_EVENTS, variables: { creatorId: creator.gid, events } });
    const answer = await client.post(body, creator.ingestKey);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    const data = JSON.parse(answer.body) as { data?: { ingestEvents?: { __typename: string } } };
    if (data.data?.ingestEvents?.__typename !== "IngestedEvents") throw new Error(answer.body.slice(0, 300));
  };

  /** A warm-up (not recorded), then the measurement; `send(i, events)` sends events i*size..(i+1)*size-1. */
  const measure = async (
    label: string,
    concurrency: number,
    size: number,
    maxRequests: number,
    send: (events: BenchEvent[]) => Promise<unknown>,
  ): Promise<LoadFigures> => {
    let next = 0;
    const take = () => {
      const first = next;
      next += size;
      return Array.from({ length: size }, (_, k) => ingestionEvent(first + k));
    };
    const run = (durationMs: number, cap: number) =>
      closedLoop({
        concurrency,
        durationMs,
        maxRequests: cap,
        signal: stopping.signal,
        send: async () => {
          await send(take());
          return true;
        },
      });
    await run(settings.warmupSeconds * 1000, maxRequests);
    const meter = await CpuMeter.start(pool, api);
    const r: LoopResult = await run(settings.seconds * 1000, maxRequests);
    checkNotAborted();
    const cpu = await meter.stop(r.ok + r.errors);
    const figures: LoadFigures = {
      requests: r.ok + r.errors,
      events: r.ok * size,
      errors: r.errors,
      ...(r.firstError ? { firstError: r.firstError } : {}),
      elapsedS: Math.round(r.elapsedMs) / 1000,
      eventsPerSecond: perSecond(r.ok * size, r.elapsedMs),
      latencyMs: latency(r.latenciesMs),
      cpuMsPerRequest: { api: cpu.server, postgres: cpu.postgres, bench: cpu.bench },
    };
    log(
      `${label}: ${figures.eventsPerSecond} events/s, p50/p95/p99 ${figures.latencyMs.p50}/${figures.latencyMs.p95}/${figures.latencyMs.p99} ms, ${figures.errors} errors${r.firstError ? ` (first: ${r.firstError.slice(0, 200)})` : ""}; CPU ms per request: api ${cpu.server}, postgres ${cpu.postgres}, bench ${cpu.bench}; ${rss()}`,
    );
    return figures;
  };

  checkNotAborted();
  if (sections.has("ingestion")) {
    const baseline = new Baseline(databaseUrl, settings.databasePoolSize, baselineCreator.creator.id);
    cleanups.push({ name: "close baseline pool", run: () => baseline.close() });
    const pair = (closer: LoadFigures, base: LoadFigures): IngestionPair => ({
      closer,
      baseline: base,
      ratio: ratio(closer.eventsPerSecond, base.eventsPerSecond),
    });

    log(`single-event ingestion, ${settings.concurrency} in flight, ${settings.seconds} s each`);
    const singleBase = await measure("baseline single", settings.concurrency, 1, settings.maxSingleRequests, (e) =>
      baseline.ingest(e),
    );
    const single = await measure("closer single", settings.concurrency, 1, settings.maxSingleRequests, ([e]) =>
      ingestSingle(ingestCreator, e),
    );
    results.ingestion.single = pair(single, singleBase);

    log(`batched ingestion, ${settings.batchSize} per request, ${settings.batchConcurrency} in flight`);
    const batchBase = await measure(
      "baseline batched",
      settings.batchConcurrency,
      settings.batchSize,
      settings.maxBatchRequests,
      (e) => baseline.ingest(e),
    );
    const batched = await measure(
      "closer batched",
      settings.batchConcurrency,
      settings.batchSize,
      settings.maxBatchRequests,
      (e) => ingestBatch(ingestCreator, e),
    );
    results.ingestion.batched = pair(batched, batchBase);

    // The agent runs of these events are not the subject: drop their jobs and mark them done,
    // so neither the worker nor its sweeper spends time on them below.
    log("discarding the ingestion runs' agent jobs");
    await pool.query(`UPDATE events SET "processedAt" = now() WHERE "processedAt" IS NULL`);
    await queue(QUEUES.agentRuns).drain(true);
  }

  // ---- worker: drain a backlog enqueued while it was stopped ----

  checkNotAborted();
  if (sections.has("worker")) {
    const drainCreator = await creatorWithAgent("Bench Worker");
    const batches = Math.ceil(settings.backlog / settings.batchSize);
    log(`enqueueing a backlog of ${batches * settings.batchSize} events with the worker stopped`);
    let b = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (b < batches) {
          const first = b++ * settings.batchSize;
          await ingestBatch(
            drainCreator,
            Array.from({ length: settings.batchSize }, (_, k) => agentEvent("w", first + k, 1_000)),
          );
        }
      }),
    );
    const backlog = batches * settings.batchSize;
    const spawnedAt = performance.now();
    await ensureWorker();
    const startupS = (performance.now() - spawnedAt) / 1000;
    const deadline = Date.now() + Math.min(120_000, remainingMs() - 90_000);
    type Progress = { finished: number; failed: number; first: Date | null; last: Date | null };
    let progress: Progress = { finished: 0, failed: 0, first: null, last: null };
    // CPU per invocation from the first finished invocation on (the worker's start-up excluded).
    let mark: { meter: CpuMeter; finished: number } | undefined;
    while (Date.now() < deadline) {
      checkNotAborted();
      progress = (
        await pool.query<Progress>(
          `SELECT count(*) FILTER (WHERE status IN ('COMPLETED', 'SKIPPED', 'FAILED'))::int AS finished,
                  count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
                  min("startedAt") AS first, max("finishedAt") AS last
             FROM agent_invocations WHERE "creatorId" = $1`,
          [drainCreator.creator.id],
        )
      ).rows[0];
      if (progress.finished > 0 && !mark)
        mark = { meter: await CpuMeter.start(pool, worker), finished: progress.finished };
      if (progress.finished >= backlog) break;
      await sleep(250);
    }
    const cpu = mark && (await mark.meter.stop(progress.finished - mark.finished));
    const drainMs = progress.first && progress.last ? progress.last.getTime() - progress.first.getTime() : 0;
    results.worker = {
      backlog,
      finished: progress.finished,
      failed: progress.failed,
      drainS: drainMs / 1000,
      invocationsPerSecond: perSecond(progress.finished, drainMs),
      startupS: Math.round(startupS * 10) / 10,
      complete: progress.finished >= backlog,
      cpuMsPerInvocation: cpu ? { worker: cpu.server, postgres: cpu.postgres } : null,
    };
    log(
      `worker: ${progress.finished} of ${backlog} invocations in ${drainMs} ms (first start to last finish): ${results.worker.invocationsPerSecond}/s, ${progress.failed} failed; CPU ms per invocation: worker ${cpu?.server}, postgres ${cpu?.postgres}; ${rss()}`,
    );
  }

  // ---- event to decision, seen by a subscriber, at a fixed offered rate ----

  checkNotAborted();
  if (sections.has("decision")) {
    await ensureWorker();
    const liveCreator = await creatorWithAgent("Bench Live");
    const decidedAt = new Map<string, number>();
    const subscription = await subscribeSse(
      apiUrl,
      AGENT_DECISIONS,
      { creatorId: liveCreator.gid },
      liveCreator.creatorKey,
      (message, at) => {
        const id = (message as { data?: { agentDecisions?: { event?: { id: string } } } }).data?.agentDecisions?.event
          ?.id;
        if (id && !decidedAt.has(id)) decidedAt.set(id, at);
      },
    );
    cleanups.push({ name: "close subscription", run: async () => subscription.close() });
    /** Sends `count` events at the offered rate; the time each was sent, by event id. */
    const offer = async (prefix: string, count: number) => {
      const sentAt = new Map<string, number>();
      const ingestLatencies: number[] = [];
      let errors = 0;
      await openLoop({
        ratePerSecond: settings.decisionRate,
        count,
        signal: stopping.signal,
        send: async (i) => {
          const t = performance.now();
          try {
            const id = await ingestSingle(liveCreator, agentEvent(prefix, i, 500));
            ingestLatencies.push(performance.now() - t);
            sentAt.set(id, t);
          } catch {
            errors++;
          }
        },
      });
      return { sentAt, ingestLatencies, errors };
    };
    const decided = async (ids: string[], timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until && ids.some((id) => !decidedAt.has(id))) {
        checkNotAborted();
        await sleep(100);
      }
    };
    // A short warm-up on other consumers, so a cold subscription path or worker is not measured.
    const warm = await offer("lw", Math.min(50, settings.decisionRate));
    await decided([...warm.sentAt.keys()], 10_000);
    const count = Math.round(settings.decisionRate * settings.decisionSeconds);
    log(`event to decision: ${count} events at ${settings.decisionRate}/s, one SSE subscriber`);
    const { sentAt, ingestLatencies, errors: ingestErrors } = await offer("l", count);
    await decided([...sentAt.keys()], Math.min(15_000, remainingMs() - 60_000));
    subscription.close();
    const latencies = [...sentAt]
      .filter(([id]) => decidedAt.has(id))
      .map(([id, t]) => (decidedAt.get(id) as number) - t);
    results.decision = {
      offeredPerSecond: settings.decisionRate,
      sent: sentAt.size,
      ingestErrors,
      decided: latencies.length,
      missing: sentAt.size - latencies.length,
      latencyMs: latency(latencies),
      ingestLatencyMs: latency(ingestLatencies),
    };
    log(
      `decisions: ${latencies.length} of ${sentAt.size}, p50 ${results.decision.latencyMs.p50} ms, p99 ${results.decision.latencyMs.p99} ms (ingest p99 ${results.decision.ingestLatencyMs.p99} ms, ${ingestErrors} ingest errors); ${rss()}`,
    );
  }

  // ---- delivery scheduler: due actions to local providers ----

  checkNotAborted();
  if (sections.has("scheduler")) {
    const wired = /\bstartScheduler\s*\(/.test(readFileSync(new URL("../worker/worker.ts", import.meta.url), "utf8"));
    let hasScheduler = true;
    try {
      await import("../src/actions/scheduler.js");
    } catch {
      hasScheduler = false;
    }
    if (!hasScheduler) {
      results.scheduler = { available: false, reason: "src/actions/scheduler.ts (startScheduler) does not exist yet" };
      results.notes.push("Scheduler: not available (src/actions/scheduler.ts is missing).");
      log("scheduler: not available");
    } else {
      const host = wired ? "the worker process (worker/worker.ts)" : "bench/scheduler-process.ts (startScheduler)";
      if (wired) {
        await ensureWorker();
        schedulerHost = worker;
      } else {
        results.notes.push(
          "The delivery scheduler is not started by worker/worker.ts yet: the bench runs startScheduler() in a process of its own (bench/scheduler-process.ts).",
        );
        schedulerHost = startChild("closer-scheduler", "bench/scheduler-process.ts", "scheduler", true);
        await schedulerHost.message(60_000);
      }
      log(`scheduler hosted by ${host}`);
      if (wired) results.notes.push("The scheduler runs inside the worker process (worker/worker.ts), as deployed.");
      results.scheduler = { available: true, host, ...(await benchScheduler(pool, httpSink.url, schedulerHost)) };
    }
  }

  results.complete = true;
} catch (error) {
  results.failure = (error as Error).stack ?? String(error);
  console.error(`bench failed: ${results.failure}`);
  process.exitCode = 1;
} finally {
  for (const [name, child] of [
    ["api", api],
    ["worker", worker],
    ["scheduler", schedulerHost !== worker ? schedulerHost : undefined],
  ] as const) {
    if (child) results.memory[name] = child.memory();
  }
  await cleanup();
  clearTimeout(watchdog);
}

// ---- report ----

results.durationS = Math.round((Date.now() - started) / 1000);
results.targets = targets(results);
results.notes.push(
  "Ingestion is measured with the worker stopped (its jobs queue up in Redis): the API and the baseline each have the database to themselves.",
  `Baseline: the same rows written with plain pg (consumer lookup/insert, event insert, the context upsert with closer_add_counters/closer_next_stage), one transaction per request, pool of ${settings.databasePoolSize} like the API.`,
  "Latencies are measured by the client from sending the request; event to decision runs from sending the ingestEvent mutation to receiving that event's agentDecisions message.",
  "Scheduler runs use default SCHEDULER_* and DELIVERY_CONCURRENCY settings; provider send-rate limits are raised so they do not cap the result.",
  "Load generator, API, worker, PostgreSQL and Redis share the same machine.",
);
if (results.failure) results.failure = results.failure.split("\n")[0];
const fullRun = ALL_SECTIONS.every((s) => sections.has(s));
const written = writeResults(results, results.complete && fullRun);
console.log(`\n${table(results)}\n`);
for (const note of results.notes) console.log(`- ${note}`);
if (results.failure) console.log(`\nINCOMPLETE RUN (latest.json and latest.md left as they were): ${results.failure}`);
else if (!fullRun) console.log("\nSome sections only: latest.json and latest.md left as they were.");
console.log(`\nwritten: ${written.join(", ")}`);

if (profileTarget) {
  const { existsSync, readdirSync, statSync } = await import("node:fs");
  const dir = `${profileDir}closer-${profileTarget}-${runId}/`;
  // The main thread's profile is the largest: the others are tsx's loader thread.
  const main = (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : [])
    .filter((f) => f.name.endsWith(".cpuprofile"))
    .map((f) => ({ path: `${dir}${f.name}`, size: statSync(`${dir}${f.name}`).size }))
    .sort((a, b) => b.size - a.size)[0];
  if (main) {
    console.log(`\nCPU profile of the ${profileTarget} (open in Chrome DevTools or speedscope): ${main.path}`);
    console.log(formatSummary(summarizeProfile(main.path, 30)));
  } else {
    console.log(`\nno CPU profile of the ${profileTarget} was written`);
  }
}

// Every connection is closed by now; an exit also covers handles a library left open.
process.exit(process.exitCode ?? 0);

// ---- sections defined below: kept out of the main flow for readability ----

async function benchScheduler(
  pool: pg.Pool,
  sinkUrl: string,
  host: Child | undefined,
): Promise<{ burst: SchedulerRun; paced: SchedulerRun }> {
  const { makeCreator } = await import("../test/support/api.js");
  const made = await makeCreator({ name: "Bench Delivery" });
  const creatorId = made.creator.id;
  const consumers = settings.schedulerActions;
  // No quiet hours, so the time of day does not decide what is sent; default frequency caps
  // (each consumer gets at most one action per channel per run, under every cap).
  await pool.query(`UPDATE creators SET "quietHoursStart" = 0, "quietHoursEnd" = 0 WHERE id = $1`, [creatorId]);
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
  const run = async (label: string, count: number, offered: number | null): Promise<SchedulerRun> => {
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
    log(`scheduler ${label}: ${count} actions due ${offered ? `at ${offered}/s` : "at once"}`);
    const deadline = Math.min(lastDue + 45_000, Date.now() + remainingMs() - 25_000);
    const inRun = `"invocationId" = $1 AND sequence >= $2 AND sequence < $3`;
    const args = [invocationId, first, first + count];
    while (Date.now() < deadline) {
      checkNotAborted();
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
    log(
      `scheduler ${label}: ${s.sent} sent, ${s.failed} failed, ${s.skipped} skipped, ${s.pending} pending; ${figures.actionsPerSecond} actions/s; lateness p50 ${figures.latenessMs.p50} ms, p99 ${figures.latenessMs.p99} ms; CPU ms per action: scheduler ${cpu.server}, postgres ${cpu.postgres}, sinks ${cpu.bench}; ${rss()}`,
    );
    return figures;
  };
  const burst = await run("burst", settings.schedulerActions, null);
  const paced = await run(
    "paced",
    Math.round(settings.schedulerRate * settings.schedulerPacedSeconds),
    settings.schedulerRate,
  );
  return { burst, paced };
}

function targets(r: Results): Results["targets"] {
  const out: Results["targets"] = [];
  const add = (figure: string, target: string, value: string, met: boolean) => out.push({ figure, target, value, met });
  const { single, batched } = r.ingestion;
  if (single) {
    const { closer } = single;
    add("single throughput", ">= 2,000 events/s", `${closer.eventsPerSecond} events/s`, closer.eventsPerSecond >= 2000);
    add("single p99", "<= 25 ms", `${closer.latencyMs.p99} ms`, closer.latencyMs.p99 <= 25 && closer.errors === 0);
    add("single ratio", ">= 0.5x baseline", `${single.ratio}x`, single.ratio >= 0.5);
  }
  if (batched) {
    const { closer } = batched;
    add(
      "batched throughput",
      ">= 10,000 events/s",
      `${closer.eventsPerSecond} events/s`,
      closer.eventsPerSecond >= 10_000,
    );
    add("batched ratio", ">= 0.5x baseline", `${batched.ratio}x`, batched.ratio >= 0.5);
  }
  if (r.decision) {
    const { latencyMs, missing, offeredPerSecond } = r.decision;
    const value = `${latencyMs.p99} ms${missing ? ` (${missing} decisions missing)` : ""}`;
    const complete = missing === 0 && r.decision.ingestErrors === 0;
    add("decision p99", `<= 100 ms at ${offeredPerSecond} events/s`, value, latencyMs.p99 <= 100 && complete);
  }
  if (r.worker) {
    const w = r.worker;
    add(
      "worker throughput",
      ">= 2,000 invocations/s",
      `${w.invocationsPerSecond} invocations/s`,
      w.invocationsPerSecond >= 2000 && w.complete,
    );
  }
  if (r.scheduler?.available) {
    const { burst, paced } = r.scheduler;
    add(
      "scheduler throughput",
      ">= 5,000 actions/s",
      `${burst.actionsPerSecond} actions/s`,
      burst.actionsPerSecond >= 5000,
    );
    const value = `${paced.latenessMs.p99} ms${paced.pending ? ` (${paced.pending} never sent)` : ""}`;
    add("scheduler lateness p99", "<= 500 ms", value, paced.latenessMs.p99 <= 500 && paced.pending === 0);
  }
  return out;
}
