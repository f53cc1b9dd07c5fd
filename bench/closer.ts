import { readFileSync } from "node:fs";
import pg from "pg";
import { migrate } from "../scripts/migrate.js";
import type { BenchRun } from "./lifecycle.js";
import { GraphQLClient } from "./load.js";
import { Child, freePorts, waitForHttp } from "./processes.js";
import { describeMachine, type Results } from "./report.js";
import { type ProfileTarget, profileTarget, settings } from "./settings.js";
import { type BenchEvent, DEPLOY_AGENT, INGEST_EVENT, INGEST_EVENTS } from "./workload.js";

// Closer as the bench runs it: a fresh database (the committed migrations applied) and Redis
// prefix, local provider sinks, the API as a child process the way `npm start` runs it, the
// worker started when a section first needs it. This process uses Closer's services for setup,
// with the same configuration as the children: they are imported once it is in place.

export const profileDir = new URL("./results/profiles/", import.meta.url).pathname;

async function adminQuery(serverUrl: URL, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The Closer settings that shape the figures, recorded with the results as the children see them. */
const RECORDED_SETTINGS = [
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
] as const;

export async function startCloser(run: BenchRun, results: Results) {
  const serverUrl = new URL(process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
  const databaseName = `closer_bench_${run.id}`;
  const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${databaseName}` }).toString();
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const redisPrefix = `bench-${run.id}`;

  run.onCleanup("drop database", () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`));

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
  // This process drains queues of tens of thousands of jobs in one command: its own Redis commands
  // may take long (the children keep the default timeout).
  Object.assign(process.env, env, { CLOSER_PROCESS: "closer-bench", REDIS_COMMAND_TIMEOUT_MS: "60000" });
  const apiUrl = `http://127.0.0.1:${apiPort}/graphql`;

  // Closer's own Redis connection (a single Redis or a cluster, as REDIS_URL says).
  const { closeRedis, createCommandRedis, deleteKeysMatching } = await import("../src/redis.js");
  const { queue, QUEUES, closeQueues, queuePrefix } = await import("../src/queues.js");
  const redis = createCommandRedis("closer-bench");
  run.onCleanup("remove redis keys", async () => {
    // The run's rate-limit buckets under its prefix, and its queues under the queues' prefix.
    for (const pattern of [`${redisPrefix}:*`, `${queuePrefix()}:*`]) await deleteKeysMatching(redis, pattern);
    await closeRedis(redis);
  });
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
  run.log(`creating ${databaseName} and applying the migrations`);
  await migrate(databaseUrl);

  const { db, pool } = await import("../src/db/client.js");
  const { approveAgentTemplates, makeActiveProfile, makeCreator } = await import("../scripts/fixtures.js");
  const { startHttpSink, startSmtpSink, whatsAppAccepted } = await import("../scripts/sinks.js");
  run.onCleanup("close bench connections", async () => {
    await Promise.all([db.$disconnect(), closeQueues()]);
    await pool.end();
  });

  const pgVersion = (await pool.query<{ version: string }>("SELECT version()")).rows[0].version.split(" on ")[0];
  results.machine = await describeMachine(pgVersion, redisVersion);
  const closerConfig = (await import("../src/config.js")).loadConfig(env);
  results.settings.closer = Object.fromEntries(RECORDED_SETTINGS.map((k) => [k, closerConfig[k]]));
  // Local provider endpoints: WhatsApp Cloud API and webhooks over HTTP, email over SMTP.
  const httpSink = await startHttpSink();
  httpSink.reply = (request) =>
    request.path.endsWith("/messages") ? whatsAppAccepted(request) : { status: 200, body: { ok: true } };
  const smtpSink = await startSmtpSink();
  run.onCleanup("close sinks", () => Promise.all([httpSink.close(), smtpSink.close()]));
  Object.assign(env, { SMTP_URL: smtpSink.url, WHATSAPP_API_URL: `${httpSink.url}/v19.0` });

  /** One of Closer's process entries as a child, with `--cpu-prof` when it is the profiled one. */
  const startChild = (name: string, entry: string, target: ProfileTarget, ipc = false) => {
    const cpuProfileDir = profileTarget === target ? `${profileDir}${name}-${run.id}` : undefined;
    const child = new Child(name, entry, env, { cpuProfileDir, ipc });
    run.children.push(child);
    return child;
  };

  run.log("starting the API");
  const api = startChild("closer-api", "src/server.ts", "api");
  await waitForHttp(`http://127.0.0.1:${apiPort}/health`, 60_000, api);
  const client = new GraphQLClient(apiUrl, Math.max(settings.concurrency, settings.batchConcurrency) + 4);
  run.onCleanup("close http client", async () => client.close());

  /** Sends an ingestion to the API; throws unless it answers 200 with a result of `typename`. */
  const ingest = async (body: string, key: string, field: string, typename: string) => {
    const answer = await client.post(body, key);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    const result = (
      JSON.parse(answer.body) as { data?: Record<string, { __typename: string; event?: { id: string } }> }
    ).data?.[field];
    if (result?.__typename !== typename) throw new Error(answer.body.slice(0, 300));
    return result;
  };

  let worker: Child | undefined;
  let schedulerChild: Child | undefined;
  /** Starts the worker unless it runs already. */
  const ensureWorker = async (): Promise<Child> => {
    if (worker?.running) return worker;
    worker = startChild("closer-worker", "worker/main.ts", "worker");
    await waitForHttp(`http://127.0.0.1:${metricsPort}/health`, 60_000, worker);
    return worker;
  };
  // Deployed, the worker runs the delivery scheduler (worker/worker.ts starts it); should it not,
  // the bench runs startScheduler() in a process of its own (scheduler-process.ts).
  const schedulerInWorker = /\bstartScheduler\s*\(/.test(
    readFileSync(new URL("../worker/worker.ts", import.meta.url), "utf8"),
  );
  if (!schedulerInWorker) {
    results.notes.push(
      "The delivery scheduler is not started by worker/worker.ts: the bench runs startScheduler() in a process of its own (bench/scheduler-process.ts).",
    );
  }

  return {
    run,
    api,
    apiUrl,
    databaseUrl,
    pool,
    queue,
    QUEUES,
    client,
    /** The Closer settings of the children (loadConfig of their environment). */
    config: closerConfig,
    /** The HTTP sink's base URL (WhatsApp and webhooks); the SMTP sink's URL. */
    sinkUrl: httpSink.url,
    smtpUrl: smtpSink.url,
    makeCreator,
    ensureWorker,

    /**
     * A creator with an active profile, approved WhatsApp templates (the welcome starts the
     * conversation on WhatsApp as one) and the sales agent deployed over the API, with `tunables`.
     */
    async creatorWithAgent(
      name: string,
      creator: Omit<Parameters<typeof makeCreator>[0], "name"> = {},
      tunables: Record<string, unknown> = {},
    ) {
      const made = await makeCreator({ name, ...creator });
      await makeActiveProfile(made.creator.id);
      await approveAgentTemplates(made.creator.id);
      await client.operation(DEPLOY_AGENT, { input: { creatorId: made.gid, tunables } }, made.creatorKey);
      return made;
    },

    /** Where the delivery scheduler runs, started unless it runs already. */
    async ensureScheduler(): Promise<{ host: Child; where: string }> {
      if (schedulerInWorker) return { host: await ensureWorker(), where: "the worker process (worker/worker.ts)" };
      if (!schedulerChild?.running) {
        schedulerChild = startChild("closer-scheduler", "bench/scheduler-process.ts", "scheduler", true);
        await schedulerChild.message(60_000);
      }
      return { host: schedulerChild, where: "bench/scheduler-process.ts (startScheduler)" };
    },

    /** Stops the delivery scheduler (with the worker when it runs there). */
    async stopScheduler(): Promise<void> {
      await (schedulerInWorker ? worker : schedulerChild)?.stop();
    },

    /**
     * Drops the agent jobs still queued and marks their events processed, so work left over from
     * one measurement (a backlog that was not the subject) does not run during the next.
     */
    async discardAgentBacklog(): Promise<void> {
      await pool.query(`UPDATE events SET "processedAt" = now() WHERE "processedAt" IS NULL`);
      await queue(QUEUES.agentRuns).drain(true);
    },

    /** One event through ingestEvent; answers the stored event's id. */
    async ingestSingle(creator: IngestingCreator, event: BenchEvent): Promise<string> {
      const body = JSON.stringify({ query: INGEST_EVENT, variables: { creatorId: creator.gid, event } });
      return (await ingest(body, creator.creatorKey, "ingestEvent", "IngestedEvent")).event?.id as string;
    },

    /** A batch through ingestEvents. */
    async ingestBatch(creator: IngestingCreator, events: BenchEvent[]): Promise<void> {
      const body = JSON.stringify({ query: INGEST_EVENTS, variables: { creatorId: creator.gid, events } });
      await ingest(body, creator.creatorKey, "ingestEvents", "IngestedEvents");
    },
  };
}

/**
 * Events are sent with the creator's key, as a creator's server sends them: the answer holds the
 * consumer's updated context, which an ingest key may not select.
 */
type IngestingCreator = { gid: string; creatorKey: string };

export type Closer = Awaited<ReturnType<typeof startCloser>>;
