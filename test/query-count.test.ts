import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { publishFeed } from "../src/pubsub.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { subscribeSse } from "./support/sse.js";

// N+1 guard: the number of SQL statements a list query costs must not grow with the list.

const ConsumersWithEverything = graphql(`
  query ConsumersWithEverything($id: ID!, $first: Int!) {
    node(id: $id) {
      ... on Creator {
        consumers(first: $first) {
          edges {
            node {
              externalId
              context {
                stage
                pageViews
              }
              consents {
                channel
                status
              }
            }
          }
        }
        events(first: $first) {
          edges {
            node {
              type
              consumer {
                externalId
              }
            }
          }
        }
      }
    }
  }
`);

const ConversationFeed = graphql(`
  subscription ConversationFeedCost($creatorId: ID) {
    conversationUpdates(creatorId: $creatorId) {
      id
      consumer {
        externalId
      }
    }
  }
`);

const api = useApi();
let statements = 0;
const originalQuery = pg.Client.prototype.query;

beforeAll(async () => {
  // Counts every statement any pooled client sends, whoever sends it (Prisma or raw pg).
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements += 1;
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof originalQuery;
});
afterAll(async () => {
  pg.Client.prototype.query = originalQuery;
});

async function creatorWith(consumers: number) {
  const owner = await makeCreator();
  for (let i = 0; i < consumers; i++) {
    const consumer = await db.consumer.create({
      data: {
        creatorId: owner.creator.id,
        externalId: `c${i}`,
        context: { create: { creatorId: owner.creator.id, pageViews: i } },
        consents: { create: [{ channel: "EMAIL", status: "GRANTED", source: "test" }] },
      },
    });
    await db.event.create({
      data: { creatorId: owner.creator.id, consumerId: consumer.id, type: "page_view", occurredAt: new Date() },
    });
  }
  return owner;
}

async function statementsFor(owner: Awaited<ReturnType<typeof creatorWith>>, first: number) {
  const before = statements;
  const response = await api.request(ConsumersWithEverything, { id: owner.gid, first }, owner.creatorKey);
  expect(response.errors).toBeUndefined();
  return { count: statements - before, response };
}

describe("query cost", () => {
  it("lists consumers with their context and consents, and events with their consumer, in a fixed number of statements", async () => {
    const few = await creatorWith(2);
    const many = await creatorWith(20);
    const small = await statementsFor(few, 20);
    const large = await statementsFor(many, 20);
    const edges = (large.response.data!.node as { consumers: { edges: unknown[] } }).consumers.edges;
    expect(edges).toHaveLength(20);
    expect(small.count).toBeGreaterThan(2);
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(10);
  });
});

describe("live feed cost", () => {
  it("reads a burst of feed messages together, and delivers each in the order published", async () => {
    const owner = await makeCreator();
    const conversations = [];
    for (let i = 0; i < 30; i++) {
      const consumer = await db.consumer.create({ data: { creatorId: owner.creator.id, externalId: `f${i}` } });
      conversations.push(
        await db.conversation.create({
          data: { creatorId: owner.creator.id, consumerId: consumer.id, channel: "EMAIL" },
        }),
      );
    }
    const feed = await subscribeSse(api.url, ConversationFeed, { creatorId: owner.gid }, owner.creatorKey);
    try {
      const before = statements;
      // Published in one turn, as a worker's batch publishes its outcomes.
      await Promise.all(
        conversations.map((c) =>
          publishFeed("conversations", owner.creator.id, {
            creatorId: owner.creator.id,
            conversationId: c.id,
            holder: "AGENT",
          }),
        ),
      );
      await feed.waitFor(() => feed.received.length === conversations.length);
      const read = statements - before;
      expect(feed.received.map((m) => m.data?.conversationUpdates?.consumer.externalId)).toEqual(
        conversations.map((_c, i) => `f${i}`),
      );
      // Read one message at a time, 30 messages cost 30 reads or more (one per relation); read
      // together, the first message goes alone and the rest share the next read.
      expect(read).toBeGreaterThan(0);
      expect(read).toBeLessThanOrEqual(6);
    } finally {
      feed.close();
    }
  });
});
