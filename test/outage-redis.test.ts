import type { ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { createApiKey } from "../src/auth/api-keys.js";
import { db } from "../src/db/client.js";
import { fromGlobalId } from "./support/ids.js";
import { DeployAgent, IngestEvent } from "./support/operations.js";
import { type PrivateRedis, startPrivateRedis } from "./support/private-services.js";
import {
  CHILD_PROCESS_TEST_MS,
  eventually,
  freePort,
  startProcess,
  stopProcess,
  waitForHttp,
} from "./support/processes.js";

// Redis stopped under a running API and worker (issue "Survive PostgreSQL and Redis faults"):
// ingestion keeps its normal latency (Redis is skipped at once, not waited on), the per-key rate
// limit holds per process, /ready says so, and after Redis comes back empty the worker's sweeper
// enqueues the events stored meanwhile, each processed once. PostgreSQL is the shared one; only
// this file's private Redis is broken.

/** The limit of the rate-limit API child: small enough to reach in a few requests. */
const SMALL_LIMIT = 5;
const SMALL_WINDOW_SECONDS = 60;
/**
 * The rate-limit API child waits this long on a Redis command or an enqueue before giving up: a
 * request that waited on the stopped Redis at all would take at least this long, so "not slow"
 * is checked against half of it, far above a normal request (~50 ms) on a loaded machine.
 */
const LONG_REDIS_TIMEOUT_MS = 2_000;
/** How long /ready is probed while Redis is stopped. */
const OUTAGE_PROBE_MS = 6_000;

type Child = { name: string; process: ChildProcess; exits: string[] };

let redis: PrivateRedis;
let api: { url: string; base: string; child: Child };
let limitedApi: { url: string; base: string; child: Child };
let worker: { base: string; child: Child };

function spawnChild(name: string, entry: string, env: Record<string, string>): Child {
  const child: Child = { name, process: startProcess(entry, env), exits: [] };
  child.process.on("exit", (code, signal) => child.exits.push(`${name} exited: code ${code}, signal ${signal}`));
  return child;
}

function alive(child: Child): boolean {
  return child.process.exitCode === null && child.process.signalCode === null;
}

function expectAllAlive(): void {
  for (const child of [api.child, limitedApi.child, worker.child]) {
    expect({ name: child.name, alive: alive(child), exits: child.exits }).toEqual({
      name: child.name,
      alive: true,
      exits: [],
    });
  }
}

async function stopChild(child: Child | undefined): Promise<void> {
  if (child) await stopProcess(child.process);
}

type Answer = {
  status: number;
  ms: number;
  retryAfter: string | null;
  body: {
    data?: Record<string, { __typename: string; event?: { id: string } } | null> | null;
    errors?: { message: string; extensions?: { code?: string; retryAfterSeconds?: number } }[];
  };
};

/** One GraphQL request over HTTP, timed by the client from sending it to having read the answer. */
async function post(url: string, query: string, variables: object, key: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Answer["body"];
  return {
    status: response.status,
    ms: performance.now() - started,
    retryAfter: response.headers.get("retry-after"),
    body,
  };
}

/** What a landing page sends with its publishable ingest key: ids and the duplicate flag only. */
const ingestQuery = print(IngestEvent);

function ingest(url: string, creatorGid: string, key: string, externalId: string): Promise<Answer> {
  return post(
    url,
    ingestQuery,
    {
      creatorId: creatorGid,
      event: {
        type: "page_view",
        consumer: {
          externalId,
          email: `${externalId}@example.com`,
          consents: [{ channel: "EMAIL", granted: true, source: "signup_form" }],
        },
        payload: { url: `/programs/${externalId}` },
      },
    },
    key,
  );
}

function eventIdOf(answer: Answer): string {
  const result = answer.body.data?.ingestEvent;
  expect(result?.__typename, JSON.stringify(answer.body)).toBe("IngestedEvent");
  return fromGlobalId(result?.event?.id as string).id;
}

/** Waits until every one of these events has been processed. */
function allProcessed(eventIds: string[], timeoutMs: number, what: string) {
  return eventually(
    async () =>
      (await db.event.count({ where: { id: { in: eventIds }, processedAt: { not: null } } })) === eventIds.length
        ? true
        : undefined,
    timeoutMs,
    what,
  );
}

/**
 * Sends `count` page views to the API one after another, each of which must be acknowledged; adds
 * their event ids and times to `into`, and runs `check` after each.
 */
async function ingestInTurn(
  owner: { gid: string; ingestKey: string },
  prefix: string,
  count: number,
  into: { ids: string[]; ms: number[] } = { ids: [], ms: [] },
  check = () => {},
) {
  for (let i = 0; i < count; i++) {
    const answer = await ingest(api.url, owner.gid, owner.ingestKey, `${prefix}-${i}`);
    expect(answer.status).toBe(200);
    into.ids.push(eventIdOf(answer));
    into.ms.push(answer.ms);
    check();
  }
}

type Readiness = { status: number; body: { status?: string; database?: string; redis?: string } };

async function ready(base: string): Promise<Readiness> {
  const response = await fetch(`${base}/ready`);
  return { status: response.status, body: (await response.json()) as Readiness["body"] };
}

async function timedReady(base: string): Promise<{ readiness: Readiness; ms: number }> {
  const started = performance.now();
  const readiness = await ready(base);
  return { readiness, ms: performance.now() - started };
}

/** Polls both APIs' /ready until each answers `status`; returns how long that took. */
async function untilReadiness(status: 200 | 503, timeoutMs = 20_000): Promise<number> {
  const started = performance.now();
  await eventually(
    async () => {
      const answers = await Promise.all([ready(api.base), ready(limitedApi.base)]);
      return answers.every((a) => a.status === status) ? true : undefined;
    },
    timeoutMs,
    `both APIs' /ready answering ${status}`,
  );
  return performance.now() - started;
}

async function stopRedis(): Promise<number> {
  await redis.stop();
  return untilReadiness(503);
}

async function startRedis(): Promise<number> {
  await redis.start();
  return untilReadiness(200);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

beforeAll(async () => {
  redis = await startPrivateRedis();
  const [apiPort, limitedPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const common = {
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: redis.url,
    REDIS_PREFIX: process.env.REDIS_PREFIX as string,
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
  };
  api = {
    url: `http://127.0.0.1:${apiPort}/graphql`,
    base: `http://127.0.0.1:${apiPort}`,
    child: spawnChild("api", "src/server.ts", { ...common, PORT: String(apiPort), RATE_LIMIT_MAX: "100000" }),
  };
  limitedApi = {
    url: `http://127.0.0.1:${limitedPort}/graphql`,
    base: `http://127.0.0.1:${limitedPort}`,
    child: spawnChild("rate-limited api", "src/server.ts", {
      ...common,
      PORT: String(limitedPort),
      RATE_LIMIT_MAX: String(SMALL_LIMIT),
      RATE_LIMIT_WINDOW_SECONDS: String(SMALL_WINDOW_SECONDS),
      REDIS_COMMAND_TIMEOUT_MS: String(LONG_REDIS_TIMEOUT_MS),
      ENQUEUE_TIMEOUT_MS: String(LONG_REDIS_TIMEOUT_MS),
    }),
  };
  worker = {
    base: `http://127.0.0.1:${metricsPort}`,
    child: spawnChild("worker", "worker/main.ts", {
      ...common,
      WORKER_METRICS_PORT: String(metricsPort),
      DISPATCH_SWEEP_INTERVAL_MS: "300",
      DISPATCH_SWEEP_AGE_MS: "500",
    }),
  };
  await Promise.all([
    waitForHttp(`${api.base}/ready`, 90_000),
    waitForHttp(`${limitedApi.base}/ready`, 90_000),
    waitForHttp(`${worker.base}/health`, 90_000),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([stopChild(api?.child), stopChild(limitedApi?.child), stopChild(worker?.child)]);
  await redis?.remove();
}, 60_000);

describe("with Redis stopped", () => {
  it(
    "ingestion latency with Redis stopped stays within 2x of the same run's normal latency",
    async () => {
      const owner = await makeCreator();
      await makeActiveProfile(owner.creator.id);
      const deployed = await post(api.url, print(DeployAgent), { input: { creatorId: owner.gid } }, owner.creatorKey);
      expect(deployed.body.data?.deployAgent?.__typename, JSON.stringify(deployed.body)).toBe("Agent");
      await untilReadiness(200);

      // Warm-up: JIT, pools, the key cache, the producer's connection.
      await ingestInTurn(owner, "warm", 20);

      const REQUESTS = 60;
      const up: number[] = [];
      const upIds: string[] = [];
      await ingestInTurn(owner, "up", REQUESTS, { ids: upIds, ms: up });

      const upMedian = median(up);
      await stopRedis();
      const down: number[] = [];
      const downIds: string[] = [];
      try {
        await ingestInTurn(owner, "down", REQUESTS, { ids: downIds, ms: down }, () => {
          // Once more than half are over 2x, the median is too: say so now rather than after
          // minutes of requests that each wait on Redis.
          const over = down.filter((ms) => ms > 2 * upMedian);
          expect(
            over.length,
            `${over.length} of ${REQUESTS} requests without Redis slower than 2x the median with it ` +
              `(${round(upMedian)} ms): ${over.map(round).join(", ")} ms`,
          ).toBeLessThanOrEqual(REQUESTS / 2);
        });
        // Still away while measuring: every one of those requests ran without Redis.
        expect((await ready(api.base)).body).toMatchObject({ redis: "unavailable" });
        // Nothing could be enqueued: the events wait, stored, for the sweeper.
        expect(await db.event.count({ where: { id: { in: downIds }, processedAt: { not: null } } })).toBe(0);
        expectAllAlive();
      } finally {
        await redis.start();
      }
      const restarted = performance.now();

      const downMedian = median(down);
      const ratio = downMedian / upMedian;

      // Redis came back empty: the sweeper finds the events stored meanwhile (and any whose job
      // was lost with Redis) and the worker processes each once.
      const all = [...upIds, ...downIds];
      await allProcessed(downIds, 60_000, "every event stored during the outage processed");
      const backlogMs = performance.now() - restarted;
      await allProcessed(all, 30_000, "every measured event processed");
      // A few more sweeps: nothing is enqueued and run again.
      await new Promise((r) => setTimeout(r, 1_500));

      const invocations = await db.agentInvocation.groupBy({
        by: ["eventId"],
        where: { eventId: { in: all } },
        _count: { _all: true },
      });
      expect(invocations).toHaveLength(all.length);
      expect(invocations.filter((i) => i._count._all !== 1)).toEqual([]);
      const unfinished = await db.agentInvocation.count({
        where: { eventId: { in: all }, status: { notIn: ["COMPLETED", "SKIPPED"] } },
      });
      expect(unfinished).toBe(0);
      expect(await db.event.count({ where: { id: { in: all }, failedAt: { not: null } } })).toBe(0);
      // Each consumer got one welcome: no event's decision was acted on twice.
      const actions = await db.action.groupBy({
        by: ["consumerId"],
        where: { creatorId: owner.creator.id },
        _count: { _all: true },
      });
      expect(actions.filter((a) => a._count._all !== 1)).toEqual([]);
      expect(await db.action.count({ where: { invocation: { eventId: { in: downIds } } } })).toBe(downIds.length);
      expectAllAlive();

      console.log(
        `[outage-redis] ingestion: median up ${round(upMedian)} ms, down ${round(downMedian)} ms, ` +
          `ratio ${ratio.toFixed(2)} (${REQUESTS} sequential requests each); ` +
          `${downIds.length} outage events processed ${Math.round(backlogMs)} ms after Redis restarted`,
      );
      expect(down.length).toBe(REQUESTS);
      expect(ratio).toBeLessThanOrEqual(2);
    },
    CHILD_PROCESS_TEST_MS * 2,
  );

  it(
    "ingestion latency with Redis hanging (frozen, connections open) stays within 2x of normal",
    async () => {
      const owner = await makeCreator();
      await untilReadiness(200);
      await ingestInTurn(owner, "hang-warm", 20);
      const REQUESTS = 40;
      const up: number[] = [];
      await ingestInTurn(owner, "hang-up", REQUESTS, { ids: [], ms: up });
      const hung: number[] = [];
      const hungIds: string[] = [];
      await redis.pause();
      try {
        await ingestInTurn(owner, "hang", REQUESTS, { ids: hungIds, ms: hung });
        expectAllAlive();
      } finally {
        await redis.resume();
      }
      // A hung command is given up after REDIS_COMMAND_TIMEOUT_MS once per connection, then the
      // connection counts as down until Redis answers: the rest of the requests do not wait.
      const ratio = median(hung) / median(up);
      console.log(
        `[outage-redis] hung Redis: median up ${round(median(up))} ms, hung ${round(median(hung))} ms, ` +
          `ratio ${ratio.toFixed(2)}, slowest ${round(Math.max(...hung))} ms`,
      );
      expect(ratio).toBeLessThanOrEqual(2);
      await untilReadiness(200, 30_000);
      await allProcessed(hungIds, 60_000, "every event stored while Redis hung processed");
    },
    CHILD_PROCESS_TEST_MS * 2,
  );

  it(
    "the rate limit holds per process while Redis is away",
    async () => {
      await untilReadiness(200);
      const owner = await makeCreator();
      const served = (answers: Answer[]) => answers.map((a) => a.body.data?.ingestEvent?.__typename ?? a.status);
      const expected = [
        ...Array.from({ length: SMALL_LIMIT }, () => "IngestedEvent"),
        ...Array.from({ length: 8 - SMALL_LIMIT }, () => 429),
      ];

      // With Redis: the limit shared by every API process.
      const withRedis: Answer[] = [];
      for (let i = 0; i < 8; i++) withRedis.push(await ingest(limitedApi.url, owner.gid, owner.ingestKey, `r-${i}`));
      expect(served(withRedis)).toEqual(expected);

      // A key this process has never limited locally: its bucket starts full, like Redis's would.
      const { secret: freshKey } = await createApiKey(
        { kind: "INGEST", creatorId: owner.creator.id, name: "outage key" },
        null,
      );
      await stopRedis();
      const withoutRedis: Answer[] = [];
      try {
        for (let i = 0; i < 8; i++) withoutRedis.push(await ingest(limitedApi.url, owner.gid, freshKey, `o-${i}`));
        expect((await ready(limitedApi.base)).body).toMatchObject({ redis: "unavailable" });
      } finally {
        await startRedis();
      }

      expect(served(withoutRedis)).toEqual(expected);
      for (const answer of withoutRedis.slice(SMALL_LIMIT)) {
        expect(answer.status).toBe(429);
        expect(answer.body.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
        // The next token of a bucket refilled at 5 per 60 s comes 12 s after the last one taken.
        expect(answer.retryAfter).toMatch(/^\d+$/);
        const seconds = Number(answer.retryAfter);
        expect(seconds).toBeGreaterThanOrEqual(SMALL_WINDOW_SECONDS / SMALL_LIMIT - 1);
        expect(seconds).toBeLessThanOrEqual(SMALL_WINDOW_SECONDS / SMALL_LIMIT);
        expect(answer.body.errors?.[0]?.extensions?.retryAfterSeconds).toBe(seconds);
      }
      // Not one request waited on the stopped Redis (that would take LONG_REDIS_TIMEOUT_MS).
      const slowest = Math.max(...withoutRedis.map((a) => a.ms));
      console.log(
        `[outage-redis] rate limit ${SMALL_LIMIT}/${SMALL_WINDOW_SECONDS}s: with Redis ${served(withRedis).join(",")} ` +
          `(median ${round(median(withRedis.map((a) => a.ms)))} ms); without Redis ${served(withoutRedis).join(",")} ` +
          `(median ${round(median(withoutRedis.map((a) => a.ms)))} ms, slowest ${round(slowest)} ms, ` +
          `retry-after ${withoutRedis[SMALL_LIMIT].retryAfter} s)`,
      );
      expect(slowest).toBeLessThan(LONG_REDIS_TIMEOUT_MS / 2);
      expectAllAlive();
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "/ready reports redis unavailable (503) while stopped and ready (200) afterwards, every process alive",
    async () => {
      await untilReadiness(200);
      expectAllAlive();
      const readyMs: number[] = [];
      const unavailableMs: number[] = [];
      // One round of probes, the same with Redis and without: both APIs' /ready (timed), then
      // the API's and the worker's /health; every process still running.
      const probeRound = async (redisUp: boolean) => {
        for (const base of [api.base, limitedApi.base]) {
          const answer = await timedReady(base);
          expect(answer.readiness).toEqual(
            redisUp
              ? { status: 200, body: { status: "ready", database: "ok", redis: "ok" } }
              : { status: 503, body: { status: "not ready", database: "ok", redis: "unavailable" } },
          );
          (redisUp ? readyMs : unavailableMs).push(answer.ms);
        }
        expect((await fetch(`${api.base}/health`)).status).toBe(200);
        expect((await fetch(`${worker.base}/health`)).status).toBe(200);
        expectAllAlive();
        await new Promise((r) => setTimeout(r, 200));
      };
      // With Redis up before the outage and after it, so that a change of load on the machine
      // meanwhile weighs on both sides of the comparison.
      for (let i = 0; i < 12; i++) await probeRound(true);

      let recoveredMs = 0;
      const detectedMs = await stopRedis();
      try {
        // Long enough for the clients' reconnection backoff (50 ms more per attempt) to grow past
        // the probes' interval: a probe that waited for a reconnection attempt would show.
        const until = performance.now() + OUTAGE_PROBE_MS;
        while (performance.now() < until) await probeRound(false);
      } finally {
        recoveredMs = await startRedis();
      }
      for (let i = 0; i < 12; i++) await probeRound(true);

      const ratio = median(unavailableMs) / median(readyMs);
      console.log(
        `[outage-redis] /ready: 503 ${Math.round(detectedMs)} ms after Redis stopped, ` +
          `200 ${Math.round(recoveredMs)} ms after it started again; answered in median ${round(median(readyMs))} ms ` +
          `with Redis (${readyMs.length} probes), ${round(median(unavailableMs))} ms without ` +
          `(${unavailableMs.length} probes, slowest ${round(Math.max(...unavailableMs))} ms), ratio ${ratio.toFixed(2)}; ` +
          `api, rate-limited api and worker alive`,
      );
      // A readiness probe must answer at once, not after the next reconnection attempt.
      expect(ratio).toBeLessThanOrEqual(2);
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "stops the API and the worker on SIGTERM while Redis is away, promptly and cleanly",
    async () => {
      await untilReadiness(200);
      await stopRedis();
      try {
        for (const child of [worker.child, api.child]) {
          const started = performance.now();
          const exited = new Promise<string>((resolve) =>
            child.process.once("exit", (code, signal) => resolve(`${code}/${signal}`)),
          );
          child.process.kill("SIGTERM");
          const outcome = await Promise.race([
            exited,
            new Promise<string>((resolve) => setTimeout(() => resolve("still running after 20 s"), 20_000)),
          ]);
          console.log(
            `[outage-redis] ${child.name} stopped without Redis in ${Math.round(performance.now() - started)} ms`,
          );
          expect(outcome, child.name).toBe("0/null");
        }
      } finally {
        await redis.start();
      }
    },
    CHILD_PROCESS_TEST_MS,
  );
});
