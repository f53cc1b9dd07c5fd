import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it, vi } from "vitest";

// A Redis command that times out (REDIS_COMMAND_TIMEOUT_MS) means Redis hangs, or only that this
// process got no CPU for that long: its timer then runs before the answer, already received, is
// read. The first must drop the connection so callers skip Redis at once (redisDown); the second
// must leave it alone, with its subscriptions and commands in flight (found by the scale test,
// where starved processes dropped their connections again and again and lost feed messages).
// Against a Redis of this file's own, which it freezes.

/** REDIS_COMMAND_TIMEOUT_MS here (set below, before the imports, as a literal: hoisted code sees no constants). */
const TIMEOUT_MS = 300;

// Before any module reads the configuration (the logger does, on import).
const redis = await vi.hoisted(async () => {
  const { startPrivateRedis } = await import("./support/private-services.js");
  const started = await startPrivateRedis();
  Object.assign(process.env, { REDIS_URL: started.url, REDIS_COMMAND_TIMEOUT_MS: "300" });
  return started;
});

import { closeRedis, createCommandRedis, noteCommandFailure, type RedisClient, redisDown } from "../src/redis.js";
import { eventually } from "./support/processes.js";

const clients: RedisClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((client) => closeRedis(client)));
  await redis?.remove();
});

async function connected(name: string): Promise<{ client: RedisClient; closes: number[] }> {
  const client = createCommandRedis(name);
  clients.push(client);
  const closes: number[] = [];
  client.on("close", () => closes.push(Date.now()));
  await client.set("greeting", "hello");
  expect((client.options as { port?: number }).port).toBe(redis.port);
  return { client, closes };
}

/** That the connection was never closed and is ready, not counted as down. */
function expectKept(client: RedisClient, closes: number[]): void {
  expect({ closes, status: client.status, down: redisDown(client) }).toEqual({
    closes: [],
    status: "ready",
    down: false,
  });
}

/**
 * The failure of a GET sent now, after `meanwhile` ran: a command timeout, the premise of each
 * test (the failure is then noted as the API's callers note theirs).
 */
async function timedOutGet(client: RedisClient, meanwhile: () => void = () => {}): Promise<Error | null> {
  const answer = client.get("greeting").then(
    () => null,
    (error: Error) => error,
  );
  meanwhile();
  const failure = await answer;
  expect(failure?.message).toMatch(/Command timed out/);
  return failure;
}

/** Keeps this process off the event loop for `ms`, as a machine short of CPU would. */
function starve(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("a command that times out", () => {
  it("leaves the connection alone when Redis answered and this process was starved of the CPU", async () => {
    const { client, closes } = await connected("starved");
    // The premise: the timer ran first, though Redis had answered.
    const failure = await timedOutGet(client, () => starve(TIMEOUT_MS * 2));

    noteCommandFailure(client, failure);
    // Longer than the probes of a hang take.
    await sleep(TIMEOUT_MS * 5);
    expectKept(client, closes);
    expect(await client.get("greeting")).toBe("hello");
  });

  it("leaves the connection alone when this process keeps losing the CPU after each write, its probes' too", async () => {
    const { client, closes } = await connected("starved-longer");
    // For 2 s, every write to Redis is followed by a loss of the CPU longer than the timeout.
    const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const write = stream.write;
    const started = performance.now();
    stream.write = function (this: unknown, ...args: unknown[]) {
      const written = write.apply(this, args);
      if (performance.now() - started < 2_000) queueMicrotask(() => starve(TIMEOUT_MS * 2));
      return written;
    };
    try {
      const failure = await timedOutGet(client);
      noteCommandFailure(client, failure);
      await sleep(3_000);
    } finally {
      stream.write = write;
    }
    expectKept(client, closes);
  });

  it("drops the connection of a Redis that stopped answering, so callers skip it, until Redis is back", async () => {
    const { client } = await connected("hung");
    await redis.pause();
    try {
      const failure = await timedOutGet(client);
      noteCommandFailure(client, failure);
      // Every caller's timeout notes a failure meanwhile; one probe runs.
      noteCommandFailure(client, failure);
      await eventually(async () => (redisDown(client) ? true : undefined), 10_000, "the connection counted as down");
    } finally {
      await redis.resume();
    }
    await eventually(async () => (redisDown(client) ? undefined : true), 10_000, "the connection back");
    expect(await client.get("greeting")).toBe("hello");
  });
});
