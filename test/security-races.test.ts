import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import WebSocket from "ws";

vi.hoisted(() => {
  Object.assign(process.env, { RATE_LIMIT_MAX: "100000" });
});

import { makeCreator } from "../scripts/fixtures.js";
import { createApiKey, revokeApiKey } from "../src/auth/api-keys.js";
import { useApi } from "./support/api.js";
import { eventually } from "./support/processes.js";
import { postSubscription } from "./support/sse.js";

// Streams whose request or key goes away while they are being set up: nothing may be left behind.

const DECISIONS = "subscription($creatorId: ID) { agentDecisions(creatorId: $creatorId) { id } }";
const api = useApi();
let redis: Redis;

beforeAll(async () => {
  redis = new Redis("redis://127.0.0.1:6379");
});
afterAll(async () => {
  await redis.quit();
});

it("releases the Redis listener of an SSE request aborted while its subscription was being set up", async () => {
  const owner = await makeCreator();
  const channel = `${process.env.REDIS_PREFIX}:feed:decisions:${owner.creator.id}`;
  for (let round = 0; round < 40; round++) {
    const controller = new AbortController();
    const request = postSubscription(api.url, DECISIONS, { creatorId: owner.gid }, owner.creatorKey, controller.signal)
      .then((r) => r.body?.cancel())
      .catch(() => {});
    await new Promise((r) => setTimeout(r, round % 10));
    controller.abort();
    await request;
  }
  await eventually(
    async () => {
      const [, listeners] = (await redis.pubsub("NUMSUB", channel)) as [string, number];
      return listeners === 0 ? true : undefined;
    },
    3_000,
    "no listener left on the creator's channel",
  );
});

it("closes a graphql-ws socket with 4403 when its key, revoked since it opened, subscribes again", async () => {
  const owner = await makeCreator();
  const { secret, apiKey } = await createApiKey({ kind: "CREATOR", creatorId: owner.creator.id, name: "ws" }, null);
  const socket = new WebSocket(api.url.replace("http", "ws"), "graphql-transport-ws");
  const closed = new Promise<[number, string]>((resolve) =>
    socket.on("close", (code, reason) => resolve([code, String(reason)])),
  );
  const acked = new Promise<void>((resolve) =>
    socket.on("message", (data) => JSON.parse(String(data)).type === "connection_ack" && resolve()),
  );
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${secret}` } }));
  await acked;
  await revokeApiKey(apiKey.id, null);
  socket.send(
    JSON.stringify({ id: "1", type: "subscribe", payload: { query: DECISIONS, variables: { creatorId: owner.gid } } }),
  );
  const [code, reason] = await closed;
  expect(code).toBe(4403);
  expect(reason).toMatch(/^Forbidden: .*revoked/);
});
