import { beforeAll, describe, expect, it } from "vitest";
import { type MadeCreator, makeCreator } from "../scripts/fixtures.js";
import { pool } from "../src/db/client.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";

// A replay of an idempotency key answers the context its first ingestion answered, whatever the
// consumer did since: over HTTP with a creator key, as a creator's server would send.

/** Every field of ConsumerContext, so a replayed answer is compared whole (dates and relation too). */
const CONTEXT_FIELDS = `
  stage lastSeenAt eventCount pageViews serviceClicks emailsSent emailsOpened whatsappSent
  whatsappReplied objections enrolled counters attributes lastMessageAt updatedAt
  consumer { id externalId }`;

const INGEST_EVENT = `
  mutation ($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on IngestedEvent { duplicate event { id } context { ${CONTEXT_FIELDS} } }
      ... on Error { code message }
    }
  }`;

const INGEST_EVENTS = `
  mutation ($creatorId: ID!, $events: [EventInput!]!) {
    ingestEvents(creatorId: $creatorId, events: $events) {
      __typename
      ... on IngestedEvents { results { duplicate event { id } context { ${CONTEXT_FIELDS} } } }
      ... on Error { code message }
    }
  }`;

const CONSUMER_CONTEXT = `
  query ($id: ID!) { node(id: $id) { ... on Consumer { context { ${CONTEXT_FIELDS} } } } }`;

type Context = {
  stage: string;
  eventCount: number;
  pageViews: number;
  serviceClicks: number;
  counters: Record<string, number>;
  updatedAt: string;
  consumer: { id: string; externalId: string | null };
};
type Ingested = { duplicate: boolean; event: { id: string }; context: Context };

const api = useApi();
let creator: MadeCreator;

beforeAll(async () => {
  creator = await makeCreator();
});

async function ingest(event: Record<string, unknown>): Promise<Ingested> {
  const answer = await api.request<{ ingestEvent: Ingested & { __typename: string } }, unknown>(
    INGEST_EVENT,
    { creatorId: creator.gid, event },
    creator.creatorKey,
  );
  expect(answer.errors).toBeUndefined();
  expect(answer.data?.ingestEvent.__typename).toBe("IngestedEvent");
  return answer.data?.ingestEvent as Ingested;
}

async function ingestBatch(events: Record<string, unknown>[]): Promise<Ingested[]> {
  const answer = await api.request<{ ingestEvents: { __typename: string; results: Ingested[] } }, unknown>(
    INGEST_EVENTS,
    { creatorId: creator.gid, events },
    creator.creatorKey,
  );
  expect(answer.errors).toBeUndefined();
  expect(answer.data?.ingestEvents.__typename).toBe("IngestedEvents");
  return answer.data?.ingestEvents.results as Ingested[];
}

async function currentContext(consumerGid: string): Promise<Context> {
  const answer = await api.request<{ node: { context: Context } }, unknown>(
    CONSUMER_CONTEXT,
    { id: consumerGid },
    creator.creatorKey,
  );
  expect(answer.errors).toBeUndefined();
  return answer.data?.node.context as Context;
}

describe("a replayed idempotency key", () => {
  it("answers the context of its first ingestion, not the consumer's current one", async () => {
    const view = {
      consumer: { externalId: "replay-later" },
      type: "page_view",
      idempotencyKey: "later-1",
      payload: { url: "/sprint", service: "Sprint" },
    };
    const first = await ingest(view);
    expect(first).toMatchObject({
      duplicate: false,
      context: { eventCount: 1, pageViews: 1, stage: "INTERESTED", counters: { "service:sprint": 1 } },
    });
    await ingest({ consumer: { externalId: "replay-later" }, type: "service_click", payload: { service: "Sprint" } });

    const replay = await ingest(view);
    expect(replay.duplicate).toBe(true);
    expect(replay.event.id).toBe(first.event.id);
    // Whole: counters, stage, the same updatedAt, and the consumer relation resolved.
    expect(replay.context).toEqual(first.context);
    expect(replay.context.consumer.externalId).toBe("replay-later");

    const now = await currentContext(first.context.consumer.id);
    expect(now).toMatchObject({ eventCount: 2, pageViews: 1, serviceClicks: 1 });
  });

  it("within one batch answers what its first answered, and later the same again", async () => {
    const view = { consumer: { externalId: "replay-batch" }, type: "page_view", idempotencyKey: "batch-1" };
    const [first, other, replay] = await ingestBatch([
      view,
      { consumer: { externalId: "replay-batch" }, type: "page_view" },
      view,
    ]);
    expect([first.duplicate, other.duplicate, replay.duplicate]).toEqual([false, false, true]);
    expect(replay.event.id).toBe(first.event.id);
    expect(first.context).toMatchObject({ eventCount: 2, pageViews: 2 });
    expect(replay.context).toEqual(first.context);

    await ingest({ consumer: { externalId: "replay-batch" }, type: "page_view" });
    const [later] = await ingestBatch([view]);
    expect(later.duplicate).toBe(true);
    expect(later.context).toEqual(first.context);
  });

  it("keeps a snapshot for keyed events only", async () => {
    const keyed = await ingest({
      consumer: { externalId: "replay-rows" },
      type: "page_view",
      idempotencyKey: "rows-1",
    });
    const plain = await ingest({ consumer: { externalId: "replay-rows" }, type: "page_view" });
    const { rows } = await pool.query<{ id: string; snapshot: unknown }>(
      `SELECT id, "contextSnapshot" AS snapshot FROM events WHERE id = ANY($1::uuid[])`,
      [[keyed.event.id, plain.event.id].map((id) => fromGlobalId(id).id)],
    );
    const snapshots = new Map(rows.map((r) => [r.id, r.snapshot]));
    expect(snapshots.get(fromGlobalId(keyed.event.id).id)).toMatchObject({ eventCount: 1, pageViews: 1 });
    expect(snapshots.get(fromGlobalId(plain.event.id).id)).toBeNull();
  });

  it("of an event stored before snapshots were kept answers the current context", async () => {
    const view = { consumer: { externalId: "replay-legacy" }, type: "page_view", idempotencyKey: "legacy-1" };
    const first = await ingest(view);
    await ingest({ consumer: { externalId: "replay-legacy" }, type: "page_view" });
    await pool.query(`UPDATE events SET "contextSnapshot" = NULL WHERE id = $1`, [fromGlobalId(first.event.id).id]);

    const replay = await ingest(view);
    expect(replay.duplicate).toBe(true);
    expect(replay.context).toMatchObject({ eventCount: 2, pageViews: 2 });
    expect(replay.context).toEqual(await currentContext(first.context.consumer.id));
  });
});

describe("a replay changes no consumer", () => {
  it("neither renames the consumer back nor creates one", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const first = { type: "page_view", idempotencyKey: key, consumer: { externalId: `ana-${key}`, name: "Ana" } };
    await ingest(first);
    await ingest({ type: "page_view", consumer: { externalId: `ana-${key}`, name: "Ana María" } });

    const phoneKey = `p-${crypto.randomUUID()}`;
    const phone = `+1415${Math.floor(2_000_000 + Math.random() * 7_000_000)}`;
    const byPhone = { type: "page_view", idempotencyKey: phoneKey, consumer: { phone } };
    await ingest(byPhone);
    await ingest({ type: "page_view", consumer: { externalId: `z-${key}`, phone } });
    await ingest({
      type: "page_view",
      consumer: { externalId: `z-${key}`, phone: `${phone.slice(0, -1)}${(Number(phone.at(-1)) + 1) % 10}` },
    });
    const count = async () =>
      (
        await pool.query(`SELECT count(*)::int AS n FROM consumers WHERE "creatorId" = $1`, [
          fromGlobalId(creator.gid).id,
        ])
      ).rows[0].n as number;
    const before = await count();

    expect((await ingest(first)).duplicate).toBe(true);
    expect((await ingest(byPhone)).duplicate).toBe(true);
    const { rows } = await pool.query(`SELECT name FROM consumers WHERE "externalId" = $1`, [`ana-${key}`]);
    expect(rows).toEqual([{ name: "Ana María" }]);
    expect(await count()).toBe(before);
  });
});
