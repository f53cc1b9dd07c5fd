import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "../src/db/client.js";
import { useApi } from "./support/api.js";
import { toGlobalId } from "./support/ids.js";
import { creatorWithAgent, IngestEvent } from "./support/operations.js";
import { eventually } from "./support/processes.js";

// A creator dashboard reads one consumer's story from one field: their events, the agent's
// decisions on them and the messages to them, newest first, a page at a time.

const api = useApi({ worker: true });

const TIMELINE = `query ($id: ID!, $first: Int, $after: String, $kinds: [TimelineKind!]) {
  node(id: $id) { ... on Consumer { timeline(first: $first, after: $after, kinds: $kinds) {
    edges { cursor node { __typename
      ... on Event { type occurredAt }
      ... on AgentInvocation { decided: status reason }
      ... on Action { channel status sendAt } } }
    pageInfo { hasNextPage endCursor } } } }
}`;

type Item = { __typename: string; type?: string; occurredAt?: string; status?: string; sendAt?: string };
type Page = {
  node: {
    timeline: { edges: { cursor: string; node: Item }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
  } | null;
};

let statements = 0;
const originalQuery = pg.Client.prototype.query;
beforeAll(() => {
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements += 1;
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof originalQuery;
});
afterAll(() => {
  pg.Client.prototype.query = originalQuery;
});

describe("Consumer.timeline", () => {
  it("tells a consumer's events, decisions and messages newest first, a page at a time, to the owner only", async () => {
    const [owner, other] = await Promise.all([creatorWithAgent(api), creatorWithAgent(api)]);
    const consumer = {
      externalId: "story-1",
      email: "story@example.org",
      consents: [{ channel: "EMAIL" as const, granted: true }],
    };
    const base = Date.now() - 10 * 60_000;
    for (const [i, type] of ["page_view", "page_view", "service_click"].entries()) {
      const answer = await api.request(
        IngestEvent,
        {
          creatorId: owner.gid,
          event: {
            consumer,
            type,
            occurredAt: new Date(base + i * 60_000).toISOString(),
            payload: type === "service_click" ? { service: "Leadership Sprint" } : {},
          },
        },
        owner.ingestKey,
      );
      const ingested = answer.data?.ingestEvent;
      if (ingested?.__typename !== "IngestedEvent") throw new Error(JSON.stringify(answer));
    }
    const { id: consumerId } = await db.consumer.findFirstOrThrow({
      where: { creatorId: owner.creator.id, externalId: "story-1" },
    });
    const consumerGid = toGlobalId("Consumer", consumerId);
    // The agent decided on each event, and planned at least the welcome.
    await eventually(async () => {
      const decided = await db.agentInvocation.count({
        where: { consumerId, status: { in: ["COMPLETED", "SKIPPED"] } },
      });
      const messages = await db.action.count({ where: { consumerId } });
      return decided === 3 && messages > 0 ? true : undefined;
    });
    const messages = await db.action.count({ where: { consumerId } });

    const read = (variables: Record<string, unknown>, key = owner.creatorKey) =>
      api.request<Page, unknown>(TIMELINE, { id: consumerGid, ...variables }, key);
    const all = (await read({ first: 100 })).data?.node?.timeline;
    expect(all?.pageInfo.hasNextPage).toBe(false);
    const items = all?.edges.map((e) => e.node) ?? [];
    expect(items.filter((i) => i.__typename === "Event").map((i) => i.type)).toEqual([
      "service_click",
      "page_view",
      "page_view",
    ]);
    expect(items.filter((i) => i.__typename === "AgentInvocation")).toHaveLength(3);
    expect(items.filter((i) => i.__typename === "Action")).toHaveLength(messages);
    const times = items.map((i) => new Date((i.occurredAt ?? i.sendAt ?? "") as string).getTime()).filter(Boolean);
    expect(items.length).toBe(6 + messages);
    expect([...times].sort((a, b) => b - a)).toEqual(times.filter((t) => !Number.isNaN(t)));

    // Pages of two, in order, each after the last: the whole timeline once, nothing twice.
    const paged: Item[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await read({ first: 2, after })).data?.node?.timeline;
      paged.push(...(page?.edges.map((e) => e.node) ?? []));
      if (!page?.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(paged).toEqual(items);

    const decisionsOnly = (await read({ first: 100, kinds: ["DECISION"] })).data?.node?.timeline.edges ?? [];
    expect(decisionsOnly.map((e) => e.node.__typename)).toEqual([
      "AgentInvocation",
      "AgentInvocation",
      "AgentInvocation",
    ]);

    const bad = await read({ first: 2, after: "bm90IGEgY3Vyc29y" });
    // Cursors are signed for the key (scoped-cursors): one made by hand is refused as any bad input.
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
    expect((await read({ first: 10 }, other.creatorKey)).data?.node ?? null).toBeNull();
    for (const first of [0, -5, 101]) {
      expect((await read({ first })).errors?.[0], `first ${first}`).toMatchObject({
        extensions: { code: "VALIDATION_FAILED" },
      });
    }
    // A cursor of this timeline is no place in another consumer's.
    const firstPage = (await read({ first: 2 })).data?.node?.timeline;
    const { id: otherConsumerId } = await db.consumer.create({
      data: { creatorId: owner.creator.id, externalId: "story-2" },
    });
    const elsewhere = await api.request<Page, unknown>(
      TIMELINE,
      { id: toGlobalId("Consumer", otherConsumerId), first: 2, after: firstPage?.pageInfo.endCursor },
      owner.creatorKey,
    );
    expect(elsewhere.errors?.[0]).toMatchObject({ extensions: { code: "VALIDATION_FAILED" } });

    // A page costs the same number of statements whatever its size: no query per entry.
    statements = 0;
    await read({ first: 2 });
    const small = statements;
    statements = 0;
    await read({ first: 100 });
    expect(statements).toBe(small);
  });
});
