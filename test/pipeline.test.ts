import { createServer, type Server } from "node:http";
import { print } from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";

await vi.hoisted(async () => {
  Object.assign(process.env, (await import("./support/quick-failures.js")).QUICK_FAILURES);
});

import { approveAgentTemplates, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { fromGlobalId, toGlobalId } from "./support/ids.js";
import {
  AgentDecisions,
  creatorWithAgent,
  DeployAgent,
  IngestEvent,
  IngestEvents,
  IngestEventsWithContext,
  IngestEventWithContext,
  ingestPageView,
} from "./support/operations.js";
import { CHILD_PROCESS_TEST_MS, eventually, freePort, startProcess, waitForHttp } from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

const ActionUpdates = graphql(`
  subscription ActionUpdates($creatorId: ID!) {
    actionUpdates(creatorId: $creatorId) {
      status
      channel
      consumer {
        externalId
      }
    }
  }
`);

const FailedInvocations = graphql(`
  query FailedInvocations {
    failedInvocations(first: 10) {
      edges {
        node {
          id
          status
          attempts
          error
        }
      }
    }
  }
`);

const RetryInvocation = graphql(`
  mutation RetryInvocation($id: ID!) {
    retryInvocation(id: $id) {
      __typename
      ... on AgentInvocation {
        status
      }
      ...ErrorFields
    }
  }
`);

const api = useApi({ worker: true });

const reachable = (externalId: string) => ({
  externalId,
  name: "Sam Lee",
  phone: "+14155550100",
  email: `${externalId}@example.com`,
  consents: [{ channel: "WHATSAPP" as const, granted: true, source: "signup_form" }],
});

describe("the event loop", () => {
  it("takes an event over HTTP to a decision on a live subscription and stored actions", async () => {
    const alice = await creatorWithAgent(api);
    // A welcome starts the conversation on WhatsApp: only as an approved template (the window is closed).
    await approveAgentTemplates(alice.creator.id);
    const feed = await subscribeSse(api.url, AgentDecisions, { creatorId: alice.gid }, alice.creatorKey);
    // Operators watch every creator at once on the platform feed.
    const platform = await subscribeSse(api.url, AgentDecisions, {}, await makeAdminKey());
    try {
      const ingested = await api.request(
        IngestEventWithContext,
        { creatorId: alice.gid, event: { consumer: reachable("sam"), type: "page_view", payload: { url: "/" } } },
        alice.creatorKey,
      );
      expect(ingested.data?.ingestEvent).toMatchObject({
        __typename: "IngestedEvent",
        duplicate: false,
        context: { stage: "INTERESTED", pageViews: 1, eventCount: 1 },
      });
      const eventId = (ingested.data!.ingestEvent as { event: { id: string } }).event.id;
      const rawEventId = fromGlobalId(eventId).id;

      const message = await feed.waitFor((m) => m.data?.agentDecisions?.event.id === eventId);
      const decision = message.data?.agentDecisions;
      expect(decision).toMatchObject({ status: "COMPLETED", acted: true, reason: expect.stringMatching(/welcome/i) });
      expect(decision?.actions).toHaveLength(1);
      expect(decision?.actions[0]).toMatchObject({ channel: "WHATSAPP", status: "PLANNED", priority: 0.8 });
      expect((decision!.actions[0].payload as { to: string; message: string }).message).toContain("Sam");

      const stored = await db.action.findMany({ where: { creatorId: alice.creator.id } });
      expect(stored).toHaveLength(1);
      expect(await db.event.findFirstOrThrow({ where: { id: rawEventId } })).toMatchObject({
        processedAt: expect.any(Date),
      });
      const seenByOperators = await platform.waitFor((m) => m.data?.agentDecisions?.event.id === eventId);
      expect(seenByOperators.data?.agentDecisions?.id).toBe(decision?.id);
    } finally {
      feed.close();
      platform.close();
    }
  });

  it("streams action updates over WebSocket (graphql-ws) as well", async () => {
    const owner = await creatorWithAgent(api);
    // A welcome starts the conversation on WhatsApp: only as an approved template (the window is closed).
    await approveAgentTemplates(owner.creator.id);
    const client = createClient({
      url: api.url.replace("http", "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${owner.creatorKey}` },
    });
    const received: unknown[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        client.on("connected", () => resolve());
        client.subscribe(
          { query: print(ActionUpdates), variables: { creatorId: owner.gid } },
          { next: (m) => received.push(m.data), error: reject, complete: () => {} },
        );
      });
      // graphql-ws does not acknowledge a subscription: send events until one is heard.
      let sent = 0;
      const update = await eventually(
        async () => {
          if (received[0]) return received[0];
          const consumer = reachable(`ws-user-${sent++}`);
          await api.request(
            IngestEvent,
            { creatorId: owner.gid, event: { consumer, type: "page_view" } },
            owner.ingestKey,
          );
          await new Promise((r) => setTimeout(r, 200));
          return received[0];
        },
        10_000,
        "action update over WebSocket",
      );
      expect(update).toEqual({
        actionUpdates: {
          status: "PLANNED",
          channel: "WHATSAPP",
          consumer: { externalId: expect.stringMatching(/^ws-user-/) },
        },
      });
    } finally {
      await client.dispose();
    }
  });

  it("sends one welcome when events for a new consumer arrive together: concurrent runs see each other's plans", async () => {
    const owner = await creatorWithAgent(api);
    // A welcome starts the conversation on WhatsApp: only as an approved template (the window is closed).
    await approveAgentTemplates(owner.creator.id);
    const burst = Array.from({ length: 12 }, (_, i) => ({
      consumer: reachable("eager"),
      type: "page_view",
      payload: { url: `/p${i}` },
    }));
    await Promise.all(burst.map((event) => api.request(IngestEvent, { creatorId: owner.gid, event }, owner.ingestKey)));
    await eventually(
      async () => {
        const done = await db.agentInvocation.count({
          where: { creatorId: owner.creator.id, status: { in: ["COMPLETED", "SKIPPED"] } },
        });
        return done === 12 ? true : undefined;
      },
      20_000,
      "every event decided",
    );
    const actions = await db.action.findMany({ where: { creatorId: owner.creator.id } });
    expect(actions.map((a) => (a.payload as { template: string }).template)).toEqual(["welcome"]);
    const skipped = await db.agentInvocation.findMany({ where: { creatorId: owner.creator.id, status: "SKIPPED" } });
    expect(skipped).toHaveLength(11);
    const rules = new Set(skipped.map((i) => (i.decision as { rule: string }).rule));
    expect([...rules].every((rule) => rule === "spacing" || rule === "nothing_to_do")).toBe(true);
  });

  it("does not welcome again a consumer whose welcome was cut off mid-send, but does one the provider refused", async () => {
    const owner = await creatorWithAgent(api);
    await approveAgentTemplates(owner.creator.id);
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
    // The welcome each was planned two days ago, as a killed worker or a provider timeout
    // (outcome unknown: it may have arrived) and a provider's refusal (it did not) left it.
    for (const [externalId, outcomeUnknown, phone] of [
      ["cut-off", true, "+14155550101"],
      ["refused", false, "+14155550102"],
    ] as const) {
      const { email } = reachable(externalId);
      const consumer = await db.consumer.create({
        data: {
          creatorId: owner.creator.id,
          externalId,
          phone,
          email,
          context: { create: { creatorId: owner.creator.id } },
          consents: { create: { channel: "WHATSAPP", status: "GRANTED", source: "signup_form" } },
        },
      });
      await db.action.create({
        data: {
          creatorId: owner.creator.id,
          consumerId: consumer.id,
          sequence: 1,
          channel: "WHATSAPP",
          payload: { to: phone, message: "Welcome!", template: "welcome" },
          sendAt: twoDaysAgo,
          status: "FAILED",
          statusReason: outcomeUnknown ? "interrupted" : "refused by the provider",
          attempts: 1,
          dispatchedAt: twoDaysAgo,
          outcomeUnknown,
        },
      });
      await ingestPageView(api, owner, externalId);
    }
    await eventually(
      async () => {
        const done = await db.agentInvocation.findMany({
          where: { creatorId: owner.creator.id, status: { in: ["COMPLETED", "SKIPPED"] } },
          include: { event: { include: { consumer: true } } },
        });
        return done.length === 2 ? done : undefined;
      },
      20_000,
      "both events decided",
    ).then((done) => {
      const acted = Object.fromEntries(done.map((i) => [i.event.consumer?.externalId, i.status]));
      expect(acted).toEqual({ "cut-off": "SKIPPED", refused: "COMPLETED" });
    });
    const welcomes = await db.action.findMany({
      where: { creatorId: owner.creator.id, status: { not: "FAILED" } },
      include: { consumer: true },
    });
    expect(welcomes.map((a) => [a.consumer.externalId, (a.payload as { template: string }).template])).toEqual([
      ["refused", "welcome"],
    ]);
  });

  it("counts 200 concurrent events for one consumer exactly", async () => {
    const bob = await creatorWithAgent(api);
    const consumer = { externalId: "busy", email: "busy@example.com" };
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.request(
          IngestEvent,
          {
            creatorId: bob.gid,
            event: { consumer, type: i % 2 ? "page_view" : "service_click", payload: { service: "Leadership Sprint" } },
          },
          bob.ingestKey,
        ),
      ),
    );
    expect(responses.every((r) => r.data?.ingestEvent.__typename === "IngestedEvent")).toBe(true);
    const context = await db.consumerContext.findFirstOrThrow({ where: { creatorId: bob.creator.id } });
    expect(context).toMatchObject({ eventCount: 200, pageViews: 100, serviceClicks: 100, stage: "ENGAGED" });
    expect(context.counters).toEqual({ "service:leadership sprint": 200 });
    expect(await db.consumer.count({ where: { creatorId: bob.creator.id } })).toBe(1);
  });
});

describe("idempotent ingestion", () => {
  it("answers a replay with the first result, flagged as a duplicate, and runs the agent once", async () => {
    const carol = await creatorWithAgent(api);
    const event = {
      consumer: reachable("replayer"),
      type: "page_view",
      idempotencyKey: "view-1",
      payload: { url: "/a" },
    };
    const first = await api.request(IngestEventWithContext, { creatorId: carol.gid, event }, carol.creatorKey);
    const second = await api.request(IngestEventWithContext, { creatorId: carol.gid, event }, carol.creatorKey);
    expect(first.data?.ingestEvent).toMatchObject({ duplicate: false });
    expect(second.data?.ingestEvent).toMatchObject({ duplicate: true, context: { eventCount: 1 } });
    const ids = [first, second].map(
      (r) => fromGlobalId((r.data!.ingestEvent as { event: { id: string } }).event.id).id,
    );
    expect(ids[0]).toBe(ids[1]);
    await eventually(async () =>
      (await db.agentInvocation.count({ where: { eventId: ids[0] } })) === 1 ? true : undefined,
    );
  });

  it("answers the same key with another body with a CONFLICT error and stores nothing", async () => {
    const dave = await creatorWithAgent(api);
    const base = { consumer: { externalId: "c1" }, type: "page_view", idempotencyKey: "k-1" };
    await api.request(
      IngestEvent,
      { creatorId: dave.gid, event: { ...base, payload: { url: "/one" } } },
      dave.ingestKey,
    );
    const conflict = await api.request(
      IngestEvent,
      { creatorId: dave.gid, event: { ...base, payload: { url: "/two" } } },
      dave.ingestKey,
    );
    expect(conflict.data?.ingestEvent).toMatchObject({
      __typename: "ConflictError",
      code: "CONFLICT",
      message: expect.stringContaining("k-1"),
    });
    expect(await db.event.count({ where: { creatorId: dave.creator.id } })).toBe(1);
  });

  it("stores one event when two requests with one key race", async () => {
    const erin = await creatorWithAgent(api);
    const event = { consumer: { externalId: "racer" }, type: "page_view", idempotencyKey: "race" };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api.request(IngestEvent, { creatorId: erin.gid, event }, erin.ingestKey)),
    );
    const duplicates = answers.map((a) => (a.data!.ingestEvent as { duplicate: boolean }).duplicate);
    expect(duplicates.filter((d) => !d)).toHaveLength(1);
    expect(await db.event.count({ where: { creatorId: erin.creator.id } })).toBe(1);
    const context = await db.consumerContext.findFirstOrThrow({ where: { creatorId: erin.creator.id } });
    expect(context.eventCount).toBe(1);
  });
});

describe("batches", () => {
  it("stores a batch and answers each event in order", async () => {
    const fay = await creatorWithAgent(api);
    const events = Array.from({ length: 50 }, (_, i) => ({
      consumer: { externalId: `b${i % 5}` },
      type: "page_view",
      idempotencyKey: `b-${i}`,
    }));
    const response = await api.request(IngestEventsWithContext, { creatorId: fay.gid, events }, fay.creatorKey);
    const results = (response.data!.ingestEvents as { results: { context: { eventCount: number } }[] }).results;
    expect(results).toHaveLength(50);
    expect(
      await db.consumerContext.findMany({ where: { creatorId: fay.creator.id }, select: { eventCount: true } }),
    ).toEqual(Array.from({ length: 5 }, () => ({ eventCount: 10 })));
  });

  it("rejects a whole batch for one bad event, naming it, and writes nothing", async () => {
    const gus = await creatorWithAgent(api);
    const events = [
      { consumer: { externalId: "ok" }, type: "page_view" },
      { consumer: { externalId: "ok2" }, type: "Bad Type!" },
      {
        consumer: { externalId: "ok3" },
        type: "page_view",
        occurredAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    ];
    const response = await api.request(IngestEvents, { creatorId: gus.gid, events }, gus.ingestKey);
    expect(response.data?.ingestEvents).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    const paths = (response.data!.ingestEvents as { issues: { path: string }[] }).issues.map((i) => i.path);
    expect(paths).toContain("events.1.type");
    expect(await db.event.count({ where: { creatorId: gus.creator.id } })).toBe(0);
    expect(await db.consumer.count({ where: { creatorId: gus.creator.id } })).toBe(0);
  });

  it.each([
    ["no consumer identifier", { consumer: { name: "Nobody" }, type: "page_view" }, "consumer"],
    ["an invalid email", { consumer: { email: "not-an-email" }, type: "page_view" }, "consumer.email"],
    [
      "a payload that is not an object",
      { consumer: { externalId: "x" }, type: "page_view", payload: [1, 2] },
      "payload",
    ],
    [
      "an oversized payload",
      { consumer: { externalId: "x" }, type: "page_view", payload: { blob: "x".repeat(20_000) } },
      "payload",
    ],
  ])("answers %s with a typed validation error", async (_case, event, path) => {
    const hal = await makeCreator();
    const response = await api.request(IngestEvent, { creatorId: hal.gid, event }, hal.ingestKey);
    expect(response.data?.ingestEvent).toMatchObject({ __typename: "ValidationError" });
    expect((response.data!.ingestEvent as { issues: { path: string }[] }).issues.map((i) => i.path)).toContain(path);
    expect(await db.event.count({ where: { creatorId: hal.creator.id } })).toBe(0);
  });

  it("refuses a batch over 500 events", async () => {
    const ivy = await makeCreator();
    const events = Array.from({ length: 501 }, (_, i) => ({ consumer: { externalId: `x${i}` }, type: "page_view" }));
    const response = await api.request(IngestEvents, { creatorId: ivy.gid, events }, ivy.ingestKey);
    expect(response.data?.ingestEvents).toMatchObject({
      __typename: "ValidationError",
      message: expect.stringContaining("500"),
    });
  });

  it("answers events for a creator that does not exist with NotFoundError", async () => {
    const admin = await makeAdminKey();
    const nobody = toGlobalId("Creator", "00000000-0000-4000-8000-000000000000");
    const response = await api.request(
      IngestEvent,
      { creatorId: nobody, event: { consumer: { externalId: "x" }, type: "page_view" } },
      admin,
    );
    expect(response.data?.ingestEvent).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
  });

  it("refuses an ingest key of another creator", async () => {
    const [jo, kim] = [await makeCreator(), await makeCreator()];
    const response = await api.request(
      IngestEvent,
      { creatorId: kim.gid, event: { consumer: { externalId: "x" }, type: "page_view" } },
      jo.ingestKey,
    );
    expect(response.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await db.event.count({ where: { creatorId: kim.creator.id } })).toBe(0);
  });
});

describe("no lost events", () => {
  it(
    "accepts events while Redis is unreachable and processes each once when the sweeper finds them",
    async () => {
      const lou = await creatorWithAgent(api);
      const port = await freePort();
      // An API instance whose Redis is gone: ingestion must still store and answer.
      const isolated = startProcess("src/server.ts", {
        PORT: String(port),
        HOST: "127.0.0.1",
        REDIS_URL: "redis://127.0.0.1:1",
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`);
        const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${lou.ingestKey}` },
          body: JSON.stringify({
            query: `mutation($c: ID!, $e: [EventInput!]!) { ingestEvents(creatorId: $c, events: $e) { __typename } }`,
            variables: {
              c: lou.gid,
              e: Array.from({ length: 5 }, (_, i) => ({ consumer: reachable(`offline-${i}`), type: "page_view" })),
            },
          }),
        });
        expect(await response.json()).toEqual({ data: { ingestEvents: { __typename: "IngestedEvents" } } });
      } finally {
        // Asked to stop, it stops, Redis or not.
        const exited = new Promise<number | null>((resolve) => isolated.once("exit", (code) => resolve(code)));
        isolated.kill("SIGTERM");
        expect(await exited).toBe(0);
      }
      const events = await db.event.findMany({ where: { creatorId: lou.creator.id } });
      expect(events).toHaveLength(5);
      // The worker (connected to the real Redis) sweeps them up.
      await eventually(
        async () => {
          const processed = await db.event.count({ where: { creatorId: lou.creator.id, processedAt: { not: null } } });
          return processed === 5 ? true : undefined;
        },
        20_000,
        "events swept and processed",
      );
      const invocations = await db.agentInvocation.groupBy({
        by: ["eventId"],
        where: { creatorId: lou.creator.id },
        _count: true,
      });
      expect(invocations).toHaveLength(5);
      expect(invocations.every((i) => i._count === 1)).toBe(true);
    },
    CHILD_PROCESS_TEST_MS,
  );
});

describe("failures and the dead-letter view", () => {
  let flaky: Server;
  let healthy = false;
  let url: string;
  beforeAll(async () => {
    flaky = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (!healthy) return res.writeHead(503).end("overloaded");
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ decision: { act: false, reason: "remote says wait" }, actions: [] }));
      });
    });
    await new Promise<void>((r) => flaky.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(flaky.address() as { port: number }).port}/decide`;
  });
  afterAll(() => new Promise<void>((r) => flaky.close(() => r())));

  it("records a failure after the last retry, lists it as failed work, and runs it again on request", async () => {
    const max = await creatorWithAgent(api, {
      runtime: "EXTERNAL_HTTP",
      externalHttp: { url, secret: "s".repeat(20), retries: 0 },
    });
    await api.request(
      IngestEvent,
      { creatorId: max.gid, event: { consumer: { externalId: "f" }, type: "page_view" } },
      max.ingestKey,
    );

    const failed = await eventually(
      async () => {
        const r = await api.request(FailedInvocations, {}, max.creatorKey);
        return r.data?.failedInvocations.edges[0]?.node;
      },
      15_000,
      "failed invocation",
    );
    expect(failed).toMatchObject({ status: "FAILED", attempts: 2, error: expect.stringContaining("503") });

    healthy = true;
    const retried = await api.request(RetryInvocation, { id: failed.id }, max.creatorKey);
    expect(retried.data?.retryInvocation).toMatchObject({ __typename: "AgentInvocation", status: "QUEUED" });
    const done = await eventually(async () => {
      const row = await db.agentInvocation.findFirstOrThrow({ where: { creatorId: max.creator.id } });
      return row.status === "SKIPPED" ? row : undefined;
    });
    expect(done).toMatchObject({ reason: "remote says wait", attempts: 3 });
    const again = await api.request(RetryInvocation, { id: failed.id }, max.creatorKey);
    expect(again.data?.retryInvocation).toMatchObject({ __typename: "ConflictError" });
  });

  it.each([
    ["an agent class nobody registered", { kind: "psychic" }, "kind"],
    ["an EXTERNAL_HTTP agent without its service", { runtime: "EXTERNAL_HTTP" as const }, "externalHttp"],
    ["a tunable out of range", { tunables: { minHoursBetweenMessages: -1 } }, "tunables.minHoursBetweenMessages"],
  ])("refuses to deploy %s", async (_case, input, path) => {
    const ned = await makeCreator();
    const response = await api.request(DeployAgent, { input: { creatorId: ned.gid, ...input } }, ned.creatorKey);
    expect(response.data?.deployAgent).toMatchObject({ __typename: "ValidationError" });
    expect((response.data!.deployAgent as { message: string }).message).toContain(path);
    expect(await db.agent.count({ where: { creatorId: ned.creator.id } })).toBe(0);
  });
});
