import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { print } from "graphql";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// PostgreSQL restarted, crashed, cut off and stopped under a running API and worker (issue
// "Survive PostgreSQL and Redis faults"): no process exits, every failed request is a typed
// SERVICE_UNAVAILABLE answered quickly, /ready says so, and every acknowledged event is stored
// once and processed once, even when the outage outlasts the agent job's retries. This file's
// own PostgreSQL cluster is the one broken (shared/notes/machine.md); Redis is the shared one,
// under this file's prefix. The cluster exists before any module reads DATABASE_URL.
const cluster = await vi.hoisted(async () => {
  const { startPrivatePostgres } = await import("./support/private-services.js");
  const made = await startPrivatePostgres("closer_outage_pg");
  process.env.DATABASE_URL = made.url;
  return made;
});

import { type MadeCreator, makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { pool } from "../src/db/client.js";
import { jobIds, QUEUES, queuePrefix } from "../src/queues.js";
import { fromGlobalId } from "./support/ids.js";
import { DeployAgent } from "./support/operations.js";
import { eventually, freePort, waitForHttp } from "./support/processes.js";

const prefix = process.env.REDIS_PREFIX as string;
const logDir = mkdtempSync(join(tmpdir(), "closer-outage-postgres-"));

const CONNECT_TIMEOUT_MS = 1_000;

/** Settings of both children: retries and sweeps fast enough to watch within a test. */
const CHILD_ENV = {
  DATABASE_URL: cluster.url,
  REDIS_PREFIX: prefix,
  RATE_LIMIT_MAX: "1000000",
  AGENT_JOB_ATTEMPTS: "3",
  AGENT_RETRY_DELAY_MS: "200",
  DISPATCH_SWEEP_INTERVAL_MS: "500",
  DISPATCH_SWEEP_AGE_MS: "1000",
  // How long a request waits for a database connection before it is answered SERVICE_UNAVAILABLE
  // (default 3 s): shorter, so that the error-latency bound below leaves room for a busy machine.
  DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
  LOG_LEVEL: "warn",
};

/**
 * The longest an error answer may take. A request meeting an outage fails when its query fails (at
 * once: refused, terminated, shutting down) or when it got no connection within the connect
 * timeout (1 s here), which bounds both opening a connection and waiting for one of the pool's;
 * 4 s more absorb a loaded 2-core machine where PostgreSQL recovers from a crash, the worker
 * catches up and this process sends the load. A request that waited for PostgreSQL to come back
 * (the failure this guards against) would take the outage's length: the restarts take 4-7 s here
 * and the stop below 4 s, plus the time to start again.
 */
const ERROR_ANSWER_BOUND_MS = 5_000;
/** Clients retry a network error (or an unexpected answer) after this long, with the same key. */
const RETRY_MS = 500;
/** Rate of the steady load of ingestEvent requests, each with a new key. */
const EVENTS_PER_SECOND = 30;
/**
 * Clients waiting to get their event acknowledged (retrying) at most: beyond, a new event is not
 * sent (counted as notSent), so a slow machine meets a bounded load rather than a pile-up.
 */
const MAX_WAITING_CLIENTS = 150;

type Closer = { name: string; process: ChildProcess; output: () => string; exited: Promise<string> };

/**
 * Runs a Closer process entry as `npm start` does, its output going to a file that tests read: a
 * pipe would make a busy child wait on this process, which is busy sending the load.
 */
function startCloser(name: string, entry: string, env: Record<string, string>): Closer {
  const file = join(logDir, `${name.replace(/\W/g, "-")}.log`);
  const fd = openSync(file, "w");
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, ...CHILD_ENV, ...env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`${code}/${signal}`)));
  return { name, process: child, output: () => readFileSync(file, "utf8"), exited };
}

function alive(closer: Closer): boolean {
  return closer.process.exitCode === null && closer.process.signalCode === null;
}

/**
 * What a process printed at level error or fatal (pino: 50, 60), or outside its JSON log lines.
 * graphql-yoga logs every error it masks at level error under "yoga", outages included (which
 * maskError has already logged as a warning): those are counted apart, see `yogaErrorLines`.
 */
function errorLines(closer: Closer): string[] {
  return closer
    .output()
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => {
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string };
        return entry.level! >= 50 && entry.msg !== "yoga";
      } catch {
        return true;
      }
    })
    .map((line) => line.slice(0, 600));
}

function yogaErrorLines(closer: Closer): number {
  return closer
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"msg":"yoga"') && line.includes('"level":50')).length;
}

type GraphQLBody = {
  data?: Record<string, { __typename: string; [field: string]: unknown } | null> | null;
  errors?: { message: string; extensions?: { code?: string; retryAfterSeconds?: number } }[];
};
type Answer = { status: number; retryAfter: string | null; body: GraphQLBody | { unparsable: string } };

async function post(url: string, query: string, variables: object, key: string, timeoutMs = 20_000): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let body: Answer["body"];
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    body = { unparsable: text.slice(0, 300) };
  }
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body };
}

const INGEST_ONE = `mutation IngestOne($c: ID!, $e: EventInput!) {
  ingestEvent(creatorId: $c, event: $e) {
    __typename
    ... on IngestedEvent { duplicate event { id } }
    ... on Error { code message }
  }
}`;

const INGEST_MANY = `mutation IngestMany($c: ID!, $e: [EventInput!]!) {
  ingestEvents(creatorId: $c, events: $e) {
    __typename
    ... on IngestedEvents { results { duplicate event { id } } }
    ... on Error { code message }
  }
}`;

/** A page view of a consumer who can be emailed: the agent plans a welcome (a transaction with actions). */
function pageView(key: string) {
  return {
    type: "page_view",
    idempotencyKey: key,
    consumer: {
      externalId: key,
      email: `${key}@example.com`,
      consents: [{ channel: "EMAIL", granted: true, source: "signup_form" }],
    },
    payload: { url: "/programs/sprint" },
  };
}

/** Queries this file's cluster on a connection of its own (the checks must not share the product's pool). */
async function privateQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster.url });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

type Outcome = { ready: boolean; problems: string[] };

/**
 * Where the events behind these idempotency keys stand: each must be stored exactly once under the
 * id the API acknowledged, processed (not dead-lettered), with exactly one finished invocation.
 */
async function outcomeOf(creatorId: string, acknowledged: Map<string, string>): Promise<Outcome> {
  const rows = await privateQuery<{
    key: string;
    ids: string[];
    processed: number;
    failed: number;
    invocations: number;
    statuses: string[];
  }>(
    `SELECT k.key,
            array_remove(array_agg(e.id::text), NULL) AS ids,
            count(e."processedAt")::int AS processed,
            count(e."failedAt")::int AS failed,
            (SELECT count(*)::int FROM agent_invocations i
               JOIN events x ON x.id = i."eventId"
              WHERE x."creatorId" = $2 AND x."idempotencyKey" = k.key) AS invocations,
            (SELECT coalesce(array_agg(i.status::text), '{}') FROM agent_invocations i
               JOIN events x ON x.id = i."eventId"
              WHERE x."creatorId" = $2 AND x."idempotencyKey" = k.key) AS statuses
       FROM unnest($1::text[]) AS k(key)
       LEFT JOIN events e ON e."creatorId" = $2 AND e."idempotencyKey" = k.key
      GROUP BY k.key`,
    [[...acknowledged.keys()], creatorId],
  );
  const problems: string[] = [];
  let unfinished = 0;
  for (const row of rows) {
    const acknowledgedId = fromGlobalId(acknowledged.get(row.key) as string).id;
    if (row.ids.length !== 1 || row.ids[0] !== acknowledgedId) {
      problems.push(`${row.key}: stored as [${row.ids.join(", ")}], acknowledged as ${acknowledgedId}`);
    } else if (row.failed > 0) {
      problems.push(`${row.key}: dead-lettered`);
    } else if (row.invocations > 1) {
      problems.push(`${row.key}: ${row.invocations} invocations`);
    } else if (row.statuses.some((s) => s === "FAILED")) {
      problems.push(`${row.key}: invocation FAILED`);
    } else if (
      row.processed !== 1 ||
      row.invocations !== 1 ||
      !row.statuses.every((s) => s === "COMPLETED" || s === "SKIPPED")
    ) {
      unfinished += 1;
    }
  }
  if (rows.length !== acknowledged.size) problems.push(`${rows.length} rows for ${acknowledged.size} keys`);
  return { ready: problems.length === 0 && unfinished === 0, problems: [...problems, `${unfinished} unfinished`] };
}

/** Waits until every acknowledged event is processed once; fails at once on a duplicate or a dead letter. */
async function allProcessed(creatorId: string, acknowledged: Map<string, string>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let last: Outcome = { ready: false, problems: ["not checked yet"] };
  while (performance.now() - started < timeoutMs) {
    last = await outcomeOf(creatorId, acknowledged);
    if (last.ready) return Math.round(performance.now() - started);
    // A duplicate, a dead letter or a failed invocation never heals: report it now.
    if (last.problems.length > 1) break;
    await sleep(500);
  }
  expect(last.problems.slice(0, 20)).toEqual(["0 unfinished"]);
  throw new Error("unreachable");
}

async function stopCloser(closer: Closer | undefined): Promise<string | undefined> {
  if (!closer) return undefined;
  if (!alive(closer)) return closer.exited;
  closer.process.kill("SIGTERM");
  const timer = setTimeout(() => closer.process.kill("SIGKILL"), 20_000);
  const how = await closer.exited;
  clearTimeout(timer);
  return how;
}

let api: Closer;
let apiUrl: string;
let apiBase: string;
let worker: Closer;
let workerHealth: string;
let secondWorker: Closer | undefined;
let secondWorkerHealth: string;
let redis: Redis;

type Owner = MadeCreator;
let drillOwner: Owner;
let backlogOwner: Owner;

async function creatorWithAgent(): Promise<Owner> {
  const owner = await makeCreator();
  await makeActiveProfile(owner.creator.id);
  const deployed = await post(apiUrl, print(DeployAgent), { input: { creatorId: owner.gid } }, owner.creatorKey);
  expect(deployed.body).toMatchObject({ data: { deployAgent: { __typename: "Agent" } } });
  return owner;
}

async function startWorkerChild(name: string): Promise<{ closer: Closer; health: string }> {
  const port = await freePort();
  const closer = startCloser(name, "worker/main.ts", { WORKER_METRICS_PORT: String(port) });
  const health = `http://127.0.0.1:${port}/health`;
  await waitForHttp(health);
  return { closer, health };
}

beforeAll(async () => {
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const apiPort = await freePort();
  api = startCloser("api", "src/server.ts", { PORT: String(apiPort), HOST: "127.0.0.1" });
  apiBase = `http://127.0.0.1:${apiPort}`;
  apiUrl = `${apiBase}/graphql`;
  const started = await startWorkerChild("worker");
  worker = started.closer;
  workerHealth = started.health;
  // Ready, not only alive: its first connection to PostgreSQL is open. On a loaded machine opening
  // it may take longer than CONNECT_TIMEOUT_MS, and the first request would get its 503.
  await waitForHttp(`${apiBase}/ready`);
  drillOwner = await creatorWithAgent();
  backlogOwner = await creatorWithAgent();
}, 120_000);

afterAll(async () => {
  for (const closer of [api, worker, secondWorker]) {
    if (closer && alive(closer)) {
      closer.process.kill("SIGKILL");
      await closer.exited;
    }
  }
  redis?.disconnect();
  await pool.end().catch(() => {});
  await cluster.remove();
  rmSync(logDir, { recursive: true, force: true });
}, 60_000);

describe("PostgreSQL faults under a running API and worker", () => {
  it("PostgreSQL restarted (fast, then immediate) and backends terminated under a steady load", async () => {
    const acknowledged = new Map<string, string>();
    const unavailable: { ms: number; status: number; retryAfter: string | null }[] = [];
    const wrongAnswers: string[] = [];
    const networkErrors: string[] = [];
    const ackMs: number[] = [];
    let maxErrorMs = 0;
    let slowestError = "";
    let loadRunning = true;
    let giveUpAt = Number.POSITIVE_INFINITY;
    const drillStarted = performance.now();
    const since = () => Math.round(performance.now() - drillStarted);

    /** One client's event: sent until acknowledged, retried with the same key as a client would. */
    async function sendUntilAcknowledged(key: string): Promise<void> {
      const variables = { c: drillOwner.gid, e: pageView(key) };
      for (let attempt = 1; ; attempt++) {
        if (Date.now() > giveUpAt) {
          wrongAnswers.push(`${key}: not acknowledged after ${attempt - 1} attempts`);
          return;
        }
        const started = performance.now();
        let answer: Answer;
        try {
          answer = await post(apiUrl, INGEST_ONE, variables, drillOwner.ingestKey);
        } catch (error) {
          networkErrors.push(`${key}: ${(error as Error).message} ${String((error as Error).cause ?? "")}`);
          await sleep(RETRY_MS);
          continue;
        }
        const ms = performance.now() - started;
        const body = answer.body as GraphQLBody;
        const result = body.data?.ingestEvent;
        if (result?.__typename === "IngestedEvent") {
          acknowledged.set(key, (result.event as { id: string }).id);
          ackMs.push(ms);
          return;
        }
        const errors = body.errors ?? [];
        if (ms > maxErrorMs) {
          maxErrorMs = ms;
          slowestError = `sent at ${Math.round(started - drillStarted)} ms into the drill: ${errors[0]?.message}`;
        }
        if (errors.length > 0 && errors.every((e) => e.extensions?.code === "SERVICE_UNAVAILABLE")) {
          unavailable.push({ ms, status: answer.status, retryAfter: answer.retryAfter });
          // As the answer asks (Retry-After), spread as clients do so they do not all come back at once.
          await sleep(Number(answer.retryAfter) * 1000 * (1 + Math.random() / 2));
          continue;
        } else {
          // "Unexpected error.", a codeless error, a typed error, or no JSON at all.
          wrongAnswers.push(`${key}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
          if (errors.length === 0) return;
        }
        await sleep(RETRY_MS);
      }
    }

    const readyAnswers: { at: number; status: number; database?: string }[] = [];
    const readyPoller = (async () => {
      while (loadRunning) {
        try {
          const response = await fetch(`${apiBase}/ready`, { signal: AbortSignal.timeout(10_000) });
          const body = (await response.json()) as { database?: string };
          readyAnswers.push({ at: since(), status: response.status, database: body.database });
        } catch (error) {
          readyAnswers.push({ at: since(), status: 0, database: (error as Error).message });
        }
        await sleep(200);
      }
    })();

    const senders: Promise<void>[] = [];
    let waiting = 0;
    let notSent = 0;
    const load = (async () => {
      let due = 0;
      while (loadRunning) {
        for (; due < Math.floor((since() / 1000) * EVENTS_PER_SECOND); due++) {
          if (waiting >= MAX_WAITING_CLIENTS) {
            notSent += 1;
            continue;
          }
          waiting += 1;
          senders.push(sendUntilAcknowledged(`drill-${senders.length}`).finally(() => (waiting -= 1)));
        }
        await sleep(10);
      }
    })();

    // The drill. Each step keeps the load running over it; the pauses let the children recover.
    const steps: string[] = [];
    const step = async (name: string, work: () => Promise<unknown>, pauseMs: number) => {
      const at = since();
      const result = await work();
      steps.push(`${name}@${at}ms${typeof result === "number" ? `(${result})` : ""}`);
      await sleep(pauseMs);
    };
    await step("load", async () => {}, 3_000);
    await step("restart-fast", () => cluster.restart("fast"), 3_000);
    await step("restart-immediate", () => cluster.restart("immediate"), 3_000);
    await step("terminate", () => cluster.terminateBackends(), 1_500);
    await step("terminate", () => cluster.terminateBackends(), 1_500);
    // A stop long enough for /ready to be seen answering 503.
    const stoppedAt = since();
    await step("stop", () => cluster.stop("fast"), 4_000);
    const startedAgainAt = since();
    await step("start", () => cluster.start(), 3_000);
    loadRunning = false;
    await load;
    await readyPoller;
    const loadStopped = performance.now();
    // Senders still retrying finish now that PostgreSQL is back; a bound keeps a bug from hanging the test.
    giveUpAt = Date.now() + 30_000;
    await Promise.all(senders);

    // Both processes went through it all.
    expect({ api: alive(api), worker: alive(worker) }).toEqual({ api: true, worker: true });
    // Every failed request was a typed, quick SERVICE_UNAVAILABLE (HTTP 503 with Retry-After).
    expect(wrongAnswers.slice(0, 10)).toEqual([]);
    expect(networkErrors.slice(0, 10)).toEqual([]);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable.filter((u) => u.status !== 503 || u.retryAfter === null)).toEqual([]);
    expect(maxErrorMs, `slowest error answer, ${slowestError}; drill steps ${steps.join(", ")}`).toBeLessThan(
      ERROR_ANSWER_BOUND_MS,
    );
    // /ready said the database was away while it was stopped, and says ready again after.
    const duringStop = readyAnswers.filter((r) => r.at >= stoppedAt && r.at <= startedAgainAt);
    expect(duringStop.some((r) => r.status === 503 && r.database === "unavailable")).toBe(true);
    expect(readyAnswers.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);
    const readyAgain = await fetch(`${apiBase}/ready`);
    expect({ status: readyAgain.status, body: await readyAgain.json() }).toMatchObject({
      status: 200,
      body: { database: "ok", redis: "ok" },
    });

    // Every acknowledged event stored once and processed once.
    expect(acknowledged.size).toBe(senders.length);
    const processedMs = await allProcessed(drillOwner.creator.id, acknowledged, 60_000);
    const totalEvents = await privateQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE "creatorId" = $1`,
      [drillOwner.creator.id],
    );
    expect(totalEvents[0].n).toBe(acknowledged.size);
    expect({ api: alive(api), worker: alive(worker) }).toEqual({ api: true, worker: true });
    expect(await fetch(workerHealth).then((r) => r.status)).toBe(200);
    // Outages are logged as warnings; an error line would be a failure taken for something else
    // (an unexpected error is logged so by maskError itself, besides yoga's own line).
    expect({ api: errorLines(api).slice(0, 5), worker: errorLines(worker).slice(0, 5) }).toEqual({
      api: [],
      worker: [],
    });

    const sorted = [...ackMs].sort((a, b) => a - b);
    const ready503 = readyAnswers.filter((r) => r.status === 503).length;
    console.log(
      `[outage-postgres drill] events=${acknowledged.size} requests=${acknowledged.size + unavailable.length}` +
        ` notSent=${notSent} serviceUnavailable=${unavailable.length} maxErrorMs=${Math.round(maxErrorMs)}` +
        ` p50ErrorMs=${Math.round([...unavailable].sort((a, b) => a.ms - b.ms)[Math.floor(unavailable.length / 2)]?.ms ?? 0)}` +
        ` ackP50Ms=${Math.round(sorted[Math.floor(sorted.length * 0.5)])} ackP99Ms=${Math.round(sorted[Math.floor(sorted.length * 0.99)])}` +
        ` ackMaxMs=${Math.round(sorted[sorted.length - 1])} apiYogaErrorLines=${yogaErrorLines(api)} ready503=${ready503}/${readyAnswers.length}` +
        ` allProcessedMsAfterLoadStop=${Math.round(performance.now() - loadStopped)} (checks ${processedMs} ms)` +
        ` steps=${steps.join(",")}`,
    );
  }, 180_000);

  it("an outage longer than the retry window", async () => {
    // The events are stored while no worker runs: their jobs wait in Redis.
    const firstWorkerExit = await stopCloser(worker);
    expect(firstWorkerExit).toBe("0/null");
    expect(worker.output()).not.toContain("Cannot use a pool after calling end");

    const acknowledged = new Map<string, string>();
    for (let batch = 0; batch < 4; batch++) {
      const keys = Array.from({ length: 50 }, (_, i) => `backlog-${batch * 50 + i}`);
      const answer = await post(
        apiUrl,
        INGEST_MANY,
        { c: backlogOwner.gid, e: keys.map(pageView) },
        backlogOwner.ingestKey,
      );
      const result = (answer.body as GraphQLBody).data?.ingestEvents;
      expect(result?.__typename).toBe("IngestedEvents");
      const results = (result?.results ?? []) as { event: { id: string } }[];
      for (const [i, r] of results.entries()) acknowledged.set(keys[i], r.event.id);
    }
    expect(acknowledged.size).toBe(200);
    const jobKeys = [...acknowledged.values()].map(
      (gid) => `${queuePrefix()}:${QUEUES.agentRuns}:${jobIds.agentRun(fromGlobalId(gid).id)}`,
    );
    const jobsLeft = async () => {
      const answers = (await redis.pipeline(jobKeys.map((k) => ["exists", k])).exec()) ?? [];
      return answers.filter(([, exists]) => exists === 1).length;
    };
    // Each event's job waits in Redis (an enqueue that timed out on a busy machine leaves its event
    // to the sweeper instead, which the rest of this test covers as well).
    const jobsQueued = await jobsLeft();
    expect(jobsQueued).toBeGreaterThan(0);

    await cluster.stop("fast");
    const outageStarted = performance.now();
    let exhaustedMs: number;
    let restarted = false;
    try {
      const started = await startWorkerChild("second worker");
      secondWorker = started.closer;
      secondWorkerHealth = started.health;
      // Three attempts 200 ms, then 400 ms apart: every job runs out of attempts during the outage
      // and ends (removed from Redis), where it used to end failed and kept, stranding its event.
      await eventually(
        async () => ((await jobsLeft()) === 0 ? true : undefined),
        40_000 - (performance.now() - outageStarted),
        "every job gone from Redis",
        200,
      );
      exhaustedMs = Math.round(performance.now() - outageStarted);
      // Several sweeps fail meanwhile too.
      await sleep(Math.max(3_000, 8_000 - exhaustedMs));
      // No event could be processed meanwhile (no database): every one of them waits for the sweeper.
      await cluster.start();
      restarted = true;
    } finally {
      if (!restarted) await cluster.start().catch(() => {});
    }
    const outageMs = Math.round(performance.now() - outageStarted);

    const processedMs = await allProcessed(backlogOwner.creator.id, acknowledged, 60_000);
    const second = secondWorker as Closer;
    expect({ api: alive(api), worker: alive(second) }).toEqual({ api: true, worker: true });
    expect(await fetch(secondWorkerHealth).then((r) => r.status)).toBe(200);
    expect(errorLines(second).slice(0, 5)).toEqual([]);
    console.log(
      `[outage-postgres long outage] events=200 jobsQueued=${jobsQueued} outageMs=${outageMs} jobsExhaustedAfterMs=${exhaustedMs}` +
        ` allProcessedMsAfterRestart=${processedMs}`,
    );
  }, 120_000);

  it("a worker asked to stop while a sweep is under way finishes it, then exits cleanly", async () => {
    expect(secondWorker, "the worker started by the test before").toBeDefined();
    const closer = secondWorker as Closer;
    expect(alive(closer)).toBe(true);
    // The sweep's query waits on a lock on events: a sweep is under way when SIGTERM arrives.
    const locker = new pg.Client({ connectionString: cluster.url });
    locker.on("error", () => {});
    await locker.connect();
    let released = false;
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
      const waitingSweep = async () =>
        (
          await privateQuery<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE 'SELECT id, "creatorId" FROM events%"processedAt" IS NULL%'`,
            [cluster.database],
          )
        )[0].n;
      await eventually(
        async () => ((await waitingSweep()) > 0 ? true : undefined),
        15_000,
        "a sweep waiting on the lock",
        100,
      );
      const outputBefore = closer.output().length;
      const signalled = performance.now();
      closer.process.kill("SIGTERM");
      await sleep(1_500);
      // Shutdown waits for the sweep.
      expect(alive(closer)).toBe(true);
      await locker.query("ROLLBACK");
      released = true;
      const exit = await Promise.race([closer.exited, sleep(30_000).then(() => "still running after 30 s")]);
      const shutdownMs = Math.round(performance.now() - signalled);
      const printedAtShutdown = closer.output().slice(outputBefore);
      expect(exit).toBe("0/null");
      expect(closer.output()).not.toContain("Cannot use a pool after calling end");
      expect(printedAtShutdown).not.toContain("sweep failed");
      expect(errorLines(closer)).toEqual([]);
      console.log(`[outage-postgres shutdown] exit=${exit} shutdownMs=${shutdownMs} (lock held 1500 ms of it)`);
    } finally {
      if (!released) await locker.query("ROLLBACK").catch(() => {});
      await locker.end().catch(() => {});
    }
  }, 60_000);
});
