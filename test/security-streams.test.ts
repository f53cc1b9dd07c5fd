import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { performance } from "node:perf_hooks";
import { createClient } from "graphql-ws";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";

vi.hoisted(() => {
  Object.assign(process.env, { RATE_LIMIT_MAX: "100000" });
});

import { type MadeCreator, makeActiveProfile, makeAdminKey, makeCreator, uniqueHandle } from "../scripts/fixtures.js";
import { signBody } from "../src/agents/runtimes/external-http.js";
import { createApiKey } from "../src/auth/api-keys.js";
import { db } from "../src/db/client.js";
import { parsePayload } from "../src/delivery/action-payload.js";
import { livePubSub } from "../src/pubsub.js";
import { useApi } from "./support/api.js";
import { toGlobalId } from "./support/ids.js";
import { OnboardCreator } from "./support/onboarding.js";
import { creatorWithAgent, DeployAgent, ingestPageView, RevokeApiKey } from "./support/operations.js";
import { CHILD_PROCESS_TEST_MS, eventually, freePort, startProcess, waitForHttp } from "./support/processes.js";
import { postSubscription, readFrames } from "./support/sse.js";

// The security issue on live streams and inputs: a revoked key's subscriptions end at once on
// every API instance; a stream that ends releases its Redis listener at once; graphql-ws takes
// the key from connectionParams or the upgrade header and closes 4401/4403/1009; agent secrets
// are write-only; only http(s) URLs are taken.

const DECISIONS = `
  subscription Decisions($creatorId: ID) {
    agentDecisions(creatorId: $creatorId) {
      id
      status
      event {
        id
      }
    }
  }
`;

const WS_PROTOCOL = "graphql-transport-ws";

type Message = {
  data?: { agentDecisions?: { id: string; event: { id: string } } | null } | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
};

const api = useApi({ worker: true });
let redis: Redis;
let adminKey: string;

beforeAll(async () => {
  redis = new Redis("redis://127.0.0.1:6379", { lazyConnect: false });
  adminKey = await makeAdminKey();
});
afterAll(async () => {
  await redis.quit();
});

/** What a live stream received, with the time of each message and of its end. */
class Recorder {
  readonly messages: { at: number; value: Message }[] = [];
  endedAt: number | null = null;
  failure: unknown = null;
  private waiters: (() => void)[] = [];

  push(value: Message) {
    this.messages.push({ at: performance.now(), value });
    this.wake();
  }
  end(failure: unknown = null) {
    if (this.endedAt !== null) return;
    this.endedAt = performance.now();
    this.failure = failure;
    this.wake();
  }
  private wake() {
    for (const wake of this.waiters.splice(0)) wake();
  }
  async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${what} not seen in ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }
  decisionFor(eventId: string) {
    return this.messages.find((m) => m.value.data?.agentDecisions?.event.id === eventId);
  }
}

/** A subscription over Server-Sent Events, read frame by frame until the server ends the response. */
async function sseStream(url: string, apiKey: string, variables: Record<string, unknown>) {
  const controller = new AbortController();
  const response = await postSubscription(url, DECISIONS, variables, apiKey, controller.signal);
  expect(response.status).toBe(200);
  const recorder = new Recorder();
  let completeFrameAt: number | null = null;
  const reading = readFrames(response.body as ReadableStream<Uint8Array>, (frame) => {
    if (frame.event === "next" && frame.data) recorder.push(JSON.parse(frame.data));
    if (frame.event === "complete") completeFrameAt = performance.now();
  });
  void reading.ended.then((failure) => recorder.end(failure));
  // Yoga writes its first keep-alive once the subscription is set up (the source resolved).
  await reading.opened;
  return {
    recorder,
    completeFrameAt: () => completeFrameAt,
    close: () => controller.abort(),
  };
}

/** A subscription over graphql-ws, with the key in connectionParams, on a socket kept open. */
function wsStream(url: string, apiKey: string, variables: Record<string, unknown>) {
  const recorder = new Recorder();
  const client = createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    lazy: false,
    retryAttempts: 0,
  });
  const unsubscribe = client.subscribe<Message["data"]>(
    { query: DECISIONS, variables },
    {
      next: (m) => recorder.push(m as Message),
      error: (e) => recorder.end(e),
      complete: () => recorder.end(),
    },
  );
  return { recorder, unsubscribe, dispose: () => client.dispose() };
}

function decisionsChannel(creatorId: string): string {
  return `${process.env.REDIS_PREFIX}:feed:decisions:${creatorId}`;
}

async function numsub(channel: string): Promise<number> {
  const reply = (await redis.pubsub("NUMSUB", channel)) as [string, number | string];
  return Number(reply[1]);
}

/** Polls a number every 5 ms until it equals the target; answers the time it took (ms), or throws. */
async function reaches(read: () => Promise<number>, target: number, timeoutMs: number, what: string) {
  const start = performance.now();
  await eventually(async () => ((await read()) === target ? true : undefined), timeoutMs, `${what} at ${target}`, 5);
  return performance.now() - start;
}

/** Waits for a listener count to fall back to `before`, which must take under 500 ms; logs how long it took. */
async function releasedAtOnce(read: () => Promise<number>, before: number, what: string, label: string) {
  const releasedMs = await reaches(read, before, 2_000, what);
  console.log(`${label} back to ${before} after ${releasedMs.toFixed(0)} ms`);
  expect(releasedMs).toBeLessThan(500);
}

/** Records every message published on a channel, without subscribing to the channel itself (NUMSUB stays as it is). */
async function watchPublications(channel: string) {
  const watcher = new Redis("redis://127.0.0.1:6379");
  const seen: string[] = [];
  watcher.on("pmessage", (_pattern, ch, message) => {
    if (ch === channel) seen.push(message);
  });
  // A pattern that matches the channel only (its glob characters escaped).
  await watcher.psubscribe(channel.replace(/[*?[\]\\]/g, "\\$&"));
  return { seen, close: () => watcher.quit() };
}

const ingest = async (owner: { gid: string; ingestKey: string }, externalId: string) =>
  (await ingestPageView(api, owner, externalId)).id;

describe("a revoked key's live streams", () => {
  it(
    "end with UNAUTHENTICATED within 1 s on every instance, over SSE and WebSocket, while another key's go on",
    async () => {
      const owner = await creatorWithAgent(api);
      const doomed = await createApiKey({ kind: "CREATOR", creatorId: owner.creator.id, name: "console" }, null);
      const port = await freePort();
      const other = startProcess("src/server.ts", {
        PORT: String(port),
        HOST: "127.0.0.1",
        API_KEY_CACHE_MS: "300000",
      });
      const opened: { label: string; doomed: boolean; recorder: Recorder; close: () => unknown }[] = [];
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`);
        const instances = { A: api.url, B: `http://127.0.0.1:${port}/graphql` };
        const keys = { doomed: doomed.secret, kept: owner.creatorKey };
        for (const [instance, url] of Object.entries(instances)) {
          for (const [which, key] of Object.entries(keys)) {
            const sse = await sseStream(url, key, { creatorId: owner.gid });
            opened.push({ label: `SSE on ${instance} (${which})`, doomed: which === "doomed", ...sse });
            const ws = wsStream(url, key, { creatorId: owner.gid });
            opened.push({
              label: `WebSocket on ${instance} (${which})`,
              doomed: which === "doomed",
              ...ws,
              close: ws.dispose,
            });
          }
        }
        // graphql-ws does not acknowledge a subscription: send events until every stream has heard one.
        await eventually(
          async () => {
            const eventId = await ingest(owner, `prime-${randomBytes(3).toString("hex")}`);
            const deadline = performance.now() + 3_000;
            while (performance.now() < deadline) {
              if (opened.every((s) => s.recorder.decisionFor(eventId))) return true;
              await new Promise((r) => setTimeout(r, 25));
            }
            return undefined;
          },
          30_000,
          "a decision on every stream",
        );
        expect(await numsub(decisionsChannel(owner.creator.id))).toBe(2); // one listener per instance

        const heardBefore = new Map(opened.map((s) => [s, s.recorder.messages.length]));
        const revokedAt = performance.now();
        const revoked = await api.request(
          RevokeApiKey,
          { id: toGlobalId("ApiKey", doomed.apiKey.id) },
          owner.creatorKey,
        );
        const answeredMs = performance.now() - revokedAt;
        expect(revoked.data).toMatchObject({ revokeApiKey: { __typename: "ApiKey", revokedAt: expect.any(String) } });

        const figures: string[] = [`revokeApiKey answered in ${answeredMs.toFixed(0)} ms`];
        for (const stream of opened.filter((s) => s.doomed)) {
          const { recorder } = stream;
          await recorder.until(() => (recorder.endedAt === null ? undefined : true), 5_000, `${stream.label} ending`);
          expect(recorder.failure, stream.label).toBeNull();
          const fresh = recorder.messages.slice(heardBefore.get(stream));
          // Exactly one more message: the error saying why, then the end.
          expect(fresh, stream.label).toHaveLength(1);
          const last = fresh[0].value;
          expect(last.errors?.[0]?.extensions?.code, stream.label).toBe("UNAUTHENTICATED");
          expect(last.errors?.[0]?.message, stream.label).toBe(
            "This API key has been revoked: the subscription has ended",
          );
          const errorMs = fresh[0].at - revokedAt;
          const endMs = (recorder.endedAt as number) - revokedAt;
          figures.push(`${stream.label}: error after ${errorMs.toFixed(0)} ms, ended after ${endMs.toFixed(0)} ms`);
          expect(errorMs, `${stream.label} error`).toBeLessThan(1_000);
          expect(endMs, `${stream.label} end`).toBeLessThan(1_000);
        }
        console.log(`revocation, measured from sending revokeApiKey through A:\n  ${figures.join("\n  ")}`);

        // A later decision reaches the other key's streams on both instances, and none of the ended ones.
        const afterId = await ingest(owner, "after-revocation");
        for (const stream of opened.filter((s) => !s.doomed)) {
          await stream.recorder.until(() => stream.recorder.decisionFor(afterId), 10_000, `${stream.label} decision`);
          expect(stream.recorder.endedAt, stream.label).toBeNull();
          expect(
            stream.recorder.messages.some((m) => m.value.errors),
            stream.label,
          ).toBe(false);
        }
        await new Promise((r) => setTimeout(r, 300));
        for (const stream of opened.filter((s) => s.doomed)) {
          expect(stream.recorder.messages, stream.label).toHaveLength((heardBefore.get(stream) as number) + 1);
          expect(stream.recorder.decisionFor(afterId), stream.label).toBeUndefined();
        }
        // The revoked key opens nothing new on either instance (B had it cached for five minutes).
        for (const url of Object.values(instances)) {
          const again = await postSubscription(url, DECISIONS, { creatorId: owner.gid }, doomed.secret);
          expect(again.status, url).toBe(401);
          await again.body?.cancel();
        }
      } finally {
        for (const stream of opened) await stream.close();
        if (other.exitCode === null && other.signalCode === null) {
          const exited = new Promise((resolve) => other.once("exit", resolve));
          other.kill("SIGTERM");
          await exited;
        }
      }
    },
    CHILD_PROCESS_TEST_MS,
  );
});

describe("a stream that ends", () => {
  it("releases its Redis listener at once when an SSE request is aborted", async () => {
    const owner = await makeCreator();
    const channel = decisionsChannel(owner.creator.id);
    const watch = await watchPublications(channel);
    try {
      const before = await numsub(channel);
      const sse = await sseStream(api.url, owner.creatorKey, { creatorId: owner.gid });
      await reaches(() => numsub(channel), before + 1, 5_000, "listener of the SSE stream");
      sse.close();
      await releasedAtOnce(() => numsub(channel), before, "listener after abort", "SSE abort: NUMSUB");
      expect(watch.seen).toEqual([]);
    } finally {
      await watch.close();
    }
  });

  it("releases its Redis listener at once when a graphql-ws subscription is completed, the socket staying open", async () => {
    const owner = await makeCreator();
    const channel = decisionsChannel(owner.creator.id);
    const watch = await watchPublications(channel);
    let socketClosed = false;
    const client = createClient({
      url: api.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${owner.creatorKey}` },
      lazy: false,
      retryAttempts: 0,
    });
    client.on("closed", () => {
      socketClosed = true;
    });
    try {
      const before = await numsub(channel);
      const recorder = new Recorder();
      const unsubscribe = client.subscribe(
        { query: DECISIONS, variables: { creatorId: owner.gid } },
        { next: (m) => recorder.push(m as Message), error: (e) => recorder.end(e), complete: () => recorder.end() },
      );
      await reaches(() => numsub(channel), before + 1, 5_000, "listener of the WebSocket subscription");
      unsubscribe();
      await releasedAtOnce(() => numsub(channel), before, "listener after complete", "graphql-ws complete: NUMSUB");
      expect(socketClosed).toBe(false);
      expect(watch.seen).toEqual([]);
    } finally {
      await client.dispose();
      await watch.close();
    }
  });

  it("releases its Redis listener at once when the WebSocket drops", async () => {
    const owner = await makeCreator();
    const channel = decisionsChannel(owner.creator.id);
    const watch = await watchPublications(channel);
    try {
      const before = await numsub(channel);
      const socket = await openWs(api.url, {});
      socket.send({ type: "connection_init", payload: { authorization: `Bearer ${owner.creatorKey}` } });
      await socket.next("connection_ack");
      socket.send({ id: "1", type: "subscribe", payload: { query: DECISIONS, variables: { creatorId: owner.gid } } });
      await reaches(() => numsub(channel), before + 1, 5_000, "listener of the WebSocket subscription");
      socket.raw.terminate(); // no close frame: the connection just goes away
      await releasedAtOnce(
        () => numsub(channel),
        before,
        "listener after the socket dropped",
        "WebSocket dropped: NUMSUB",
      );
      expect(watch.seen).toEqual([]);
    } finally {
      await watch.close();
    }
  });

  it("releases the platform feed's pattern listener at once when an admin's SSE request is aborted", async () => {
    // NUMPAT counts every pattern on the Redis server, which other test runs share: count the
    // patterns of this API instance's own subscriber connection instead (CLIENT LIST psub=).
    const subscriber = livePubSub().getSubscriber() as Redis;
    const patternsOfApi = async () => {
      const address = `addr=127.0.0.1:${subscriber.stream.localPort} `;
      const line = ((await redis.client("LIST")) as string).split("\n").find((l) => l.includes(address));
      if (!line) throw new Error(`no client ${address} in CLIENT LIST`);
      return Number(/ psub=(\d+)/.exec(line)?.[1]);
    };
    const before = await patternsOfApi();
    const sse = await sseStream(api.url, adminKey, {});
    await reaches(patternsOfApi, before + 1, 5_000, "pattern listener of the platform feed");
    sse.close();
    await releasedAtOnce(patternsOfApi, before, "pattern listener after abort", "platform feed SSE abort: psub");
  });
});

/** A raw graphql-ws socket: every message it receives, and how it closed. */
async function openWs(url: string, headers: Record<string, string>) {
  const raw = new WebSocket(url.replace(/^http/, "ws"), WS_PROTOCOL, { headers });
  const received: { type: string; id?: string; payload?: unknown }[] = [];
  const waiters: (() => void)[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    raw.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters.splice(0)) wake();
    });
  });
  raw.on("error", () => {}); // the close event says what happened
  raw.on("message", (data) => {
    received.push(JSON.parse(String(data)));
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    raw.once("open", () => resolve());
    raw.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
  return {
    raw,
    received,
    closed,
    send: (message: object) => raw.send(JSON.stringify(message)),
    /** Waits for a message of one of these types, or fails when the socket closes first or after the timeout. */
    async next(types: string | string[], timeoutMs = 5_000) {
      const wanted = [types].flat();
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = received.find((m) => wanted.includes(m.type));
        if (found) return found;
        if (raw.readyState === WebSocket.CLOSED)
          throw new Error(`socket closed before ${wanted}: ${JSON.stringify(await closed)}`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`no ${wanted} in ${timeoutMs} ms; got ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, left);
        });
      }
    },
  };
}

/** Waits for a socket's close, failing if it stays open. */
async function closeOf(socket: Awaited<ReturnType<typeof openWs>>, timeoutMs = 5_000) {
  return Promise.race([
    socket.closed,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs),
    ),
  ]);
}

/** Runs one operation over a graphql-ws client and answers its single result. */
function runOnce(client: ReturnType<typeof createClient>, query: string) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    let result: Record<string, unknown> | undefined;
    client.subscribe(
      { query },
      {
        next: (m) => {
          result = m as Record<string, unknown>;
        },
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error("completed without a result"))),
      },
    );
  });
}

describe("graphql-ws authentication", () => {
  let owner: MadeCreator;
  beforeAll(async () => {
    owner = await makeCreator();
  });
  const VIEWER = "{ viewer { kind creator { handle } } }";

  it("takes the key from the upgrade request's Authorization header", async () => {
    const headers = { authorization: `Bearer ${owner.creatorKey}` };
    class WebSocketWithHeader extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    }
    const client = createClient({
      url: api.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocketWithHeader,
      retryAttempts: 0,
    });
    try {
      expect(await runOnce(client, VIEWER)).toEqual({
        data: { viewer: { kind: "CREATOR", creator: { handle: owner.creator.handle } } },
      });
      // And subscriptions on that socket are authorised with it.
      const channel = decisionsChannel(owner.creator.id);
      const before = await numsub(channel);
      const unsubscribe = client.subscribe(
        { query: DECISIONS, variables: { creatorId: owner.gid } },
        {
          next: () => {},
          error: () => {},
          complete: () => {},
        },
      );
      await reaches(() => numsub(channel), before + 1, 5_000, "subscription authorised by the header key");
      unsubscribe();
    } finally {
      await client.dispose();
    }
  });

  it("takes the key from connectionParams", async () => {
    const client = createClient({
      url: api.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${adminKey}` },
      retryAttempts: 0,
    });
    try {
      expect(await runOnce(client, VIEWER)).toEqual({ data: { viewer: { kind: "ADMIN", creator: null } } });
    } finally {
      await client.dispose();
    }
  });

  it("closes a socket without a key with 4401 Unauthorized", async () => {
    const socket = await openWs(api.url, {});
    socket.send({ type: "connection_init" });
    const { code, reason } = await closeOf(socket);
    expect(code).toBe(4401);
    expect(reason).toMatch(/^Unauthorized/);
    expect(socket.received.map((m) => m.type)).not.toContain("connection_ack");
  });

  it.each([
    ["a malformed key in connectionParams", {}, { authorization: "Bearer not-a-key" }],
    ["an unknown key in connectionParams", {}, { authorization: `Bearer clsr_crt_${"A".repeat(43)}` }],
    ["a header that is not Bearer", { authorization: "Basic dXNlcjpwYXNz" }, {}],
    ["an unknown key in the header", { authorization: `Bearer clsr_adm_${"B".repeat(43)}` }, {}],
  ])("closes a socket with %s with 4403 Forbidden", async (_case, headers, payload) => {
    const socket = await openWs(api.url, headers);
    socket.send({ type: "connection_init", payload });
    const { code, reason } = await closeOf(socket);
    expect(code).toBe(4403);
    expect(reason).toMatch(/^Forbidden/);
    expect(socket.received.map((m) => m.type)).not.toContain("connection_ack");
  });

  it("closes a socket with a revoked key with 4403 Forbidden", async () => {
    const { secret, apiKey } = await createApiKey({ kind: "CREATOR", creatorId: owner.creator.id, name: "gone" }, null);
    const revoked = await api.request(RevokeApiKey, { id: toGlobalId("ApiKey", apiKey.id) }, owner.creatorKey);
    expect(revoked.data).toMatchObject({ revokeApiKey: { __typename: "ApiKey" } });
    const socket = await openWs(api.url, {});
    socket.send({ type: "connection_init", payload: { authorization: `Bearer ${secret}` } });
    const { code, reason } = await closeOf(socket);
    expect(code).toBe(4403);
    expect(reason).toMatch(/^Forbidden: .*revoked/);
  });

  it("closes a socket that sends a frame over HTTP_BODY_LIMIT_BYTES with 1009, and takes one just under it", async () => {
    const limit = 1_048_576;
    const subscribeFrame = (size: number) => {
      const frame = { id: "big", type: "subscribe", payload: { query: DECISIONS, variables: { creatorId: "" } } };
      frame.payload.variables.creatorId = "x".repeat(size - JSON.stringify(frame).length);
      const text = JSON.stringify(frame);
      expect(Buffer.byteLength(text)).toBe(size);
      return text;
    };

    // Just under the limit: taken, answered (the id is not a creator's), the socket stays open.
    const under = await openWs(api.url, {});
    under.send({ type: "connection_init", payload: { authorization: `Bearer ${owner.creatorKey}` } });
    await under.next("connection_ack");
    under.raw.send(subscribeFrame(limit - 1024));
    const answer = await under.next(["next", "error"]);
    expect(answer).toMatchObject({
      id: "big",
      type: "next",
      payload: { errors: [{ extensions: { code: "BAD_USER_INPUT" } }] },
    });
    expect(under.raw.readyState).toBe(WebSocket.OPEN);
    under.raw.close();

    // Over it (1.1 MiB): closed with 1009, message too big.
    const over = await openWs(api.url, {});
    over.send({ type: "connection_init", payload: { authorization: `Bearer ${owner.creatorKey}` } });
    await over.next("connection_ack");
    over.raw.send(subscribeFrame(Math.round(limit * 1.1)));
    const { code } = await closeOf(over);
    expect(code).toBe(1009);
    expect(over.received.map((m) => m.type)).toEqual(["connection_ack"]);
  });
});

describe("agent secrets", () => {
  let service: Server;
  let serviceUrl: string;
  let secret: string;
  const signaturesValid: boolean[] = [];
  beforeAll(async () => {
    secret = `agent-secret-${randomBytes(12).toString("hex")}`;
    // The agent's service checks the signature with the secret it was given.
    service = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        const timestamp = String(req.headers["x-closer-timestamp"]);
        const valid = req.headers["x-closer-signature"] === signBody(secret, timestamp, body);
        signaturesValid.push(valid);
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ decision: { act: false, reason: valid ? "signed" : "bad signature" }, actions: [] }));
      });
    });
    await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
    serviceUrl = `http://127.0.0.1:${(service.address() as { port: number }).port}/decide`;
  });
  afterAll(() => new Promise<void>((r) => service.close(() => r())));

  it("never shows an EXTERNAL_HTTP agent's secret, to its creator or an admin, nor writes it to the audit log", async () => {
    const owner = await makeCreator();
    await makeActiveProfile(owner.creator.id);
    const deployed = await api.request(
      DeployAgent,
      { input: { creatorId: owner.gid, runtime: "EXTERNAL_HTTP", externalHttp: { url: serviceUrl, secret } } },
      owner.creatorKey,
    );
    const agent = (deployed.data as { deployAgent: { __typename: string; id: string } }).deployAgent;
    expect(agent.__typename).toBe("Agent");
    expect(JSON.stringify(deployed)).not.toContain(secret);
    // Deploying again (an update) with the same secret: audited too.
    const redeployed = await api.request(
      DeployAgent,
      {
        input: {
          creatorId: owner.gid,
          runtime: "EXTERNAL_HTTP",
          externalHttp: { url: serviceUrl, secret, timeoutMs: 2_000 },
        },
      },
      owner.creatorKey,
    );
    expect(JSON.stringify(redeployed)).not.toContain(secret);

    const AGENT = `
      query Agent($id: ID!, $creatorId: ID!) {
        node(id: $id) { ... on Agent { runtime config } }
        creator: node(id: $creatorId) { ... on Creator { agents { config } onboardings(first: 5) { totalCount } } }
      }
    `;
    for (const [who, key] of [
      ["creator", owner.creatorKey],
      ["admin", adminKey],
    ]) {
      const response = await api.request(AGENT, { id: agent.id, creatorId: owner.gid }, key);
      expect(response.errors, who).toBeUndefined();
      expect(JSON.stringify(response), who).not.toContain(secret);
      const { node, creator } = response.data as {
        node: { runtime: string; config: { externalHttp: Record<string, unknown>; tunables: unknown } };
        creator: { agents: { config: unknown }[] };
      };
      expect(node.runtime, who).toBe("EXTERNAL_HTTP");
      expect(node.config.externalHttp, who).toEqual({ url: serviceUrl, secretSet: true, timeoutMs: 2_000, retries: 2 });
      expect(node.config.externalHttp, who).not.toHaveProperty("secret");
      expect(node.config.tunables, who).toBeTruthy();
      expect(creator.agents.map((a) => a.config)).toEqual([node.config]);
    }

    // Write-only, not lost: the worker still signs with it.
    const eventId = await ingest(owner, "signed-consumer");
    const decided = await eventually(async () => {
      const row = await db.agentInvocation.findFirst({ where: { creatorId: owner.creator.id } });
      return row?.status === "SKIPPED" || row?.status === "FAILED" ? row : undefined;
    });
    expect(decided).toMatchObject({ status: "SKIPPED", reason: "signed" });
    expect(signaturesValid).toEqual([true]);
    expect(eventId).toBeTruthy();

    const audit = await db.auditLog.findMany({ where: { creatorId: owner.creator.id } });
    expect(audit.map((row) => row.operation)).toEqual(expect.arrayContaining(["agent.deploy", "agent.update"]));
    expect(JSON.stringify(audit)).not.toContain(secret);
    const AUDIT = "{ auditLog(first: 50) { edges { node { operation details } } } }";
    const auditOverApi = await api.request(AUDIT, {}, owner.creatorKey);
    expect(JSON.stringify(auditOverApi)).toContain("agent.deploy");
    expect(JSON.stringify(auditOverApi)).not.toContain(secret);
    expect(JSON.stringify(await db.agentInvocation.findMany({ where: { creatorId: owner.creator.id } }))).not.toContain(
      secret,
    );
  });
});

describe("URLs", () => {
  const BAD_URLS = ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd"];
  const EDIT = `
    mutation Edit($creatorId: ID!, $changes: ProfileChangesInput!) {
      editProfile(creatorId: $creatorId, changes: $changes) {
        __typename
        ... on CreatorProfile { version services { name url } }
        ... on Error { code message }
        ... on ValidationError { issues { path message } }
      }
    }
  `;
  type Refusal = { __typename: string; code: string; issues: { path: string; message: string }[] };

  function expectRefusal(result: unknown, path: string) {
    const refusal = result as Refusal;
    expect(refusal).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    expect(refusal.issues).toContainEqual({ path, message: "must be an http or https URL" });
  }

  it.each(BAD_URLS)("onboardCreator refuses a service URL or a link %s, naming the field", async (url) => {
    const handle = uniqueHandle("onboard");
    const base = { name: "Maya Rao", handle, bio: "Coaches first-time managers through their first year." };
    const service = await api.request(
      OnboardCreator,
      { input: { ...base, services: [{ name: "Leadership Sprint", url }] } },
      adminKey,
    );
    expectRefusal((service.data as { onboardCreator: unknown }).onboardCreator, "services.0.url");
    const link = await api.request(
      OnboardCreator,
      { input: { ...base, links: ["https://maya.example", url] } },
      adminKey,
    );
    expectRefusal((link.data as { onboardCreator: unknown }).onboardCreator, "links.1");
    expect(await db.creator.count({ where: { handle } })).toBe(0);
  });

  it.each(BAD_URLS)("editProfile refuses a service URL %s, naming the field", async (url) => {
    const owner = await makeCreator();
    await makeActiveProfile(owner.creator.id);
    const response = await api.request(
      EDIT,
      { creatorId: owner.gid, changes: { services: [{ name: "Leadership Sprint", url }] } },
      owner.creatorKey,
    );
    expectRefusal((response.data as { editProfile: unknown }).editProfile, "changes.services.0.url");
    expect(await db.creatorProfile.count({ where: { creatorId: owner.creator.id } })).toBe(1);
  });

  it.each(BAD_URLS)("deployAgent refuses an external agent URL %s, naming the field", async (url) => {
    const owner = await makeCreator();
    await makeActiveProfile(owner.creator.id);
    const response = await api.request(
      DeployAgent,
      { input: { creatorId: owner.gid, runtime: "EXTERNAL_HTTP", externalHttp: { url, secret: "s".repeat(20) } } },
      owner.creatorKey,
    );
    expectRefusal((response.data as { deployAgent: unknown }).deployAgent, "externalHttp.url");
    expect(await db.agent.count({ where: { creatorId: owner.creator.id } })).toBe(0);
  });

  it.each(BAD_URLS)("a webhook action to %s is refused at send time, naming the field", (url) => {
    const checked = parsePayload("WEBHOOK", { url, event: "lead.hot", data: {} });
    expect(checked).toEqual({ ok: false, reason: "invalid WEBHOOK payload: url: must be an http or https URL" });
  });

  it("still takes https and http URLs in a profile edit and an onboarding", async () => {
    const owner = await makeCreator();
    await makeActiveProfile(owner.creator.id);
    const response = await api.request(
      EDIT,
      {
        creatorId: owner.gid,
        changes: {
          services: [
            { name: "Leadership Sprint", url: "https://maya.example/sprint?cohort=5" },
            { name: "Office hours", url: "http://maya.example/hours" },
          ],
        },
      },
      owner.creatorKey,
    );
    expect((response.data as { editProfile: unknown }).editProfile).toEqual({
      __typename: "CreatorProfile",
      version: 2,
      services: [
        { name: "Leadership Sprint", url: "https://maya.example/sprint?cohort=5" },
        { name: "Office hours", url: "http://maya.example/hours" },
      ],
    });
    const onboarded = await api.request(
      OnboardCreator,
      {
        input: {
          name: "Maya Rao",
          handle: uniqueHandle("onboard"),
          bio: "Coaches first-time managers.",
          services: [{ name: "Leadership Sprint", url: "https://maya.example/sprint" }],
          links: ["https://maya.example"],
        },
      },
      adminKey,
    );
    expect((onboarded.data as { onboardCreator: { __typename: string } }).onboardCreator.__typename).toBe("Onboarding");
  });
});
