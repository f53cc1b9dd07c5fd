import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";

// Read-only queries on a streaming replica (issue 17, item 3; README "Read replica"): a private
// PostgreSQL cluster made by the project's migrations, and a hot standby of it made with
// pg_basebackup, both of this file's own (shared/notes/machine.md), exist before any module reads
// DATABASE_URL and DATABASE_READ_URL. Which server answered is told by what it answers: with the
// replica's replay paused, the replica still has the state of that moment while the primary moves
// on. Redis is the shared one, under this file's prefix.
const services = await vi.hoisted(async () => {
  const { startReplicatedServices } = await import("./support/private-services.js");
  // A replica paused longer than DATABASE_READ_MAX_LAG_MS is taken for too far behind (one test's
  // subject); the other tests' pauses are a few requests long.
  return startReplicatedServices("closer_read_primary", { settings: { DATABASE_READ_MAX_LAG_MS: "10000" } });
});
const { primary, replica } = services;

import { type MadeCreator, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { createApiKey } from "../src/auth/api-keys.js";
import { db, pool } from "../src/db/client.js";
import { markEventsFailed } from "../src/events/event-store.js";
import { logger } from "../src/logger.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { fromGlobalId, toGlobalId } from "./support/ids.js";
import { eventually } from "./support/processes.js";

// Registered before the API's, so it runs after the API has closed its connections.
afterAll(async () => {
  await services.remove();
});

const api = useApi();

const FreshCreator = graphql(`
  mutation FreshCreator($input: CreateCreatorInput!) {
    createCreator(input: $input) {
      __typename
      ... on Creator {
        id
      }
      ...ErrorFields
    }
  }
`);

const FreshCreatorKey = graphql(`
  mutation FreshCreatorKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      __typename
      ... on CreatedApiKey {
        secret
      }
      ...ErrorFields
    }
  }
`);

const NodeOf = graphql(`
  query NodeOf($id: ID!) {
    node(id: $id) {
      id
    }
  }
`);

const TEST_MS = 60_000;

/**
 * Transactions a dashboard query surely makes: half of about ten (the creator, its consumers and
 * their count, the search, the events and their count, the analytics' snapshot, the consumer, its
 * timeline and rows, the dead-letter view; 100 for 10 queries here), each a statement of its own.
 */
const TRANSACTIONS_PER_DASHBOARD = 5;

/** What a creator dashboard reads in one query: lists, a search, analytics, a timeline, the dead-letter view. */
const DASHBOARD = `query ($creator: ID!, $consumer: ID!, $email: String!, $from: DateTime!, $to: DateTime!) {
  creator: node(id: $creator) { ... on Creator {
    consumers(first: 20) { totalCount }
    search: consumers(filter: { email: $email }) { edges { node { id } } }
    events(first: 20) { totalCount }
    analytics(from: $from, to: $to) { funnel { firstSeen } }
  } }
  consumer: node(id: $consumer) { ... on Consumer { timeline(first: 20) { edges { cursor } } } }
  failedEvents(first: 20) { edges { node { id } } }
}`;

type Dashboard = {
  creator: {
    consumers: { totalCount: number };
    search: { edges: unknown[] };
    events: { totalCount: number };
    analytics: { funnel: { firstSeen: number } };
  };
  consumer: { timeline: { edges: unknown[] } } | null;
  failedEvents: { edges: unknown[] };
};

/** A creator's dashboard as a key reads it, in numbers; `consumerId` names whose timeline, `email` whom to search. */
async function dashboard(owner: MadeCreator, key: string, consumerId: string, email: string) {
  const answer = await api.request<Dashboard, Record<string, string>>(
    DASHBOARD,
    {
      creator: owner.gid,
      consumer: toGlobalId("Consumer", consumerId),
      email,
      from: new Date(Date.now() - 86_400_000).toISOString(),
      to: new Date(Date.now() + 86_400_000).toISOString(),
    },
    key,
  );
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  const creator = answer.data?.creator as Dashboard["creator"];
  return {
    consumers: creator.consumers.totalCount,
    found: creator.search.edges.length,
    events: creator.events.totalCount,
    firstSeen: creator.analytics.funnel.firstSeen,
    timeline: answer.data?.consumer?.timeline.edges.length ?? 0,
    failed: answer.data?.failedEvents.edges.length,
  };
}

const INGEST = `mutation ($creator: ID!, $event: EventInput!) {
  ingestEvent(creatorId: $creator, event: $event) { __typename ... on IngestedEvent { event { id } } ... on Error { code message } }
}`;

/** The same, answered with the event's consumer (which an ingest key may not select). */
const INGEST_WITH_CONSUMER = `mutation ($creator: ID!, $event: EventInput!) {
  ingestEvent(creatorId: $creator, event: $event) {
    __typename ... on IngestedEvent { event { id type consumer { externalId email } } } ... on Error { code message }
  }
}`;

type Ingested = {
  ingestEvent: { __typename: string; event?: { id: string; consumer?: { externalId: string; email: string } } };
};

const emailOf = (externalId: string) => `${externalId}@example.org`;

/** A page view of consumer `externalId` through the API; answers the event's id and the answer. */
async function pageView(owner: MadeCreator, key: string, externalId: string, query = INGEST) {
  const answer = await api.request<Ingested, Record<string, unknown>>(
    query,
    { creator: owner.gid, event: { consumer: { externalId, email: emailOf(externalId) }, type: "page_view" } },
    key,
  );
  const ingested = answer.data?.ingestEvent;
  if (ingested?.__typename !== "IngestedEvent" || !ingested.event) throw new Error(JSON.stringify(answer));
  return { eventId: fromGlobalId(ingested.event.id).id, ingested };
}

/** A second creator key of the owner's: another client of the same creator (the owner's is a first). */
async function anotherCreatorKey(owner: MadeCreator): Promise<string> {
  return (await createApiKey({ kind: "CREATOR", creatorId: owner.creator.id, name: "second client" }, null)).secret;
}

async function consumerIdOf(owner: MadeCreator, externalId: string): Promise<string> {
  return (await db.consumer.findFirstOrThrow({ where: { creatorId: owner.creator.id, externalId } })).id;
}

/**
 * Each test's start: a creator with a second creator key (another client of theirs, the reader)
 * and a first consumer, ada, after one page view, once the replica has replayed all that.
 */
async function creatorOnReplica(): Promise<{ owner: MadeCreator; reader: string; ada: string; firstEvent: string }> {
  const owner = await makeCreator();
  const reader = await anotherCreatorKey(owner);
  const { eventId } = await pageView(owner, owner.ingestKey, "ada");
  const ada = await consumerIdOf(owner, "ada");
  await replica.caughtUp();
  return { owner, reader, ada, firstEvent: eventId };
}

/**
 * That `reader`'s queries read the replica: with its replay paused, a page view of a new consumer
 * (cleo) is not seen, and the creator has the `consumers` the replica holds.
 */
async function expectReplicaServes(owner: MadeCreator, reader: string, ada: string, consumers: number): Promise<void> {
  await replica.pauseReplay();
  try {
    await pageView(owner, owner.ingestKey, "cleo");
    expect(await dashboard(owner, reader, ada, emailOf("cleo"))).toMatchObject({ consumers, found: 0 });
  } finally {
    await replica.resumeReplay();
  }
}

/** Watches the logger's warnings and infos: how many lines said `text` at a level, until restored. */
function logged() {
  const spies = { warn: vi.spyOn(logger, "warn"), info: vi.spyOn(logger, "info") };
  return {
    said: (level: keyof typeof spies, text: string) =>
      spies[level].mock.calls.filter((call) => call.some((arg) => typeof arg === "string" && arg.includes(text)))
        .length,
    restore: () => {
      for (const spy of Object.values(spies)) spy.mockRestore();
    },
  };
}

/** How many consumers the primary holds for the creator, read on it directly. */
async function consumersOnPrimary(owner: MadeCreator): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM consumers WHERE "creatorId" = $1`, [
    owner.creator.id,
  ]);
  return rows[0].n;
}

describe("with DATABASE_READ_URL", () => {
  it(
    "answers queries from the replica: lists, search, analytics, timeline and dead-letter view show its state",
    async () => {
      const { owner, ada, firstEvent: first } = await creatorOnReplica();
      const before = await dashboard(owner, owner.creatorKey, ada, emailOf("bob"));
      expect(before).toEqual({ consumers: 1, found: 0, events: 1, firstSeen: 1, timeline: 1, failed: 0 });
      const after = { consumers: 2, found: 1, events: 3, firstSeen: 2, timeline: 2, failed: 1 };

      await replica.pauseReplay();
      try {
        // On the primary: a new consumer, one more event for ada, her first event dead-lettered.
        await pageView(owner, owner.ingestKey, "bob");
        await pageView(owner, owner.ingestKey, "ada");
        await markEventsFailed([{ eventId: first, reason: "test: dead-lettered" }]);
        expect(await consumersOnPrimary(owner)).toBe(2);
        expect(await dashboard(owner, owner.creatorKey, ada, emailOf("bob"))).toEqual(before);
        // Authentication is the primary's: a key made now is known at once, and reads the primary
        // until the replica holds the key, so it finds all that was there when it was made.
        const newKey = await anotherCreatorKey(owner);
        expect(await dashboard(owner, newKey, ada, emailOf("bob"))).toEqual(after);
      } finally {
        await replica.resumeReplay();
      }
      await replica.caughtUp();
      expect(await dashboard(owner, owner.creatorKey, ada, emailOf("bob"))).toEqual(after);
    },
    TEST_MS,
  );

  it(
    "answers a mutation from the primary, and its key's next queries until the replica has replayed its write",
    async () => {
      const { owner, reader, ada } = await creatorOnReplica();
      const writer = owner.creatorKey;

      await replica.pauseReplay();
      try {
        // The answer's consumer is loaded after the write: from the replica it would be missing.
        const { ingested } = await pageView(owner, writer, "cleo", INGEST_WITH_CONSUMER);
        expect(ingested.event?.consumer).toEqual({ externalId: "cleo", email: emailOf("cleo") });
        // The writer reads its write at once; another client of the creator once the replica has it.
        expect(await dashboard(owner, writer, ada, emailOf("cleo"))).toMatchObject({ consumers: 2, found: 1 });
        expect(await dashboard(owner, reader, ada, emailOf("cleo"))).toMatchObject({ consumers: 1, found: 0 });
        // An ingest key's writes do not send anyone's reads to the primary.
        await pageView(owner, owner.ingestKey, "dan");
        expect(await dashboard(owner, reader, ada, emailOf("dan"))).toMatchObject({ consumers: 1, found: 0 });
        expect(await consumersOnPrimary(owner)).toBe(3);
      } finally {
        await replica.resumeReplay();
      }
      await replica.caughtUp();
      expect(await dashboard(owner, reader, ada, emailOf("cleo"))).toMatchObject({ consumers: 3, found: 1 });

      // Once the replica has the writer's write, the writer's queries are the replica's again.
      await replica.pauseReplay();
      try {
        await pageView(owner, owner.ingestKey, "eve");
        expect(await dashboard(owner, writer, ada, emailOf("eve"))).toMatchObject({ consumers: 3, found: 0 });
      } finally {
        await replica.resumeReplay();
      }
    },
    TEST_MS,
  );

  it(
    "sends no write to the replica under a mixed load, whose queries it answers",
    async () => {
      const { owner, reader, ada } = await creatorOnReplica();
      const writer = owner.creatorKey;
      /** Transactions the replica has committed in the database, read from another one so as not to count. */
      const replicaTransactions = async () => {
        const client = new pg.Client({ connectionString: replica.url.replace(/[^/]+$/, "postgres") });
        await client.connect();
        try {
          const { rows } = await client.query<{ n: string }>(
            "SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1",
            [primary.database],
          );
          return Number(rows[0].n);
        } finally {
          await client.end();
        }
      };
      const logBefore = (await replica.log()).length;
      const start = await replicaTransactions();

      const ROUNDS = 10;
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        work.push(
          pageView(owner, writer, `writer-${i}`, INGEST_WITH_CONSUMER),
          pageView(owner, owner.ingestKey, `page-${i}`),
          dashboard(owner, reader, ada, emailOf(`writer-${i}`)),
          dashboard(owner, writer, ada, emailOf(`page-${i}`)),
        );
      }
      await Promise.all(work);
      expect(await consumersOnPrimary(owner)).toBe(1 + 2 * ROUNDS);

      // Each of the reader's queries is several statements on the replica. A write there would have
      // been refused (a standby is read-only: "cannot execute INSERT in a read-only transaction")
      // and logged with its statement; the only errors a standby may give a read are conflicts
      // with its replay, which the API answers from the primary.
      await eventually(
        async () => ((await replicaTransactions()) - start >= TRANSACTIONS_PER_DASHBOARD * ROUNDS ? true : undefined),
        // An idle backend reports its statistics within 10 s (PGSTAT_IDLE_INTERVAL, pgstat.c).
        20_000,
        "the replica's statistics counting the reader's queries",
      );
      const errors = (await replica.log())
        .slice(logBefore)
        .split("\n")
        .filter((line) => line.includes("ERROR") && !line.includes("conflict with recovery"));
      expect(errors).toEqual([]);
      await replica.caughtUp();
      expect(await dashboard(owner, reader, ada, "nobody@example.org")).toMatchObject({ consumers: 1 + 2 * ROUNDS });
    },
    TEST_MS,
  );

  it(
    "answers queries from the primary while the replica is stopped, and from the replica once it is back",
    async () => {
      const { said, restore } = logged();
      try {
        const { owner, reader, ada } = await creatorOnReplica();
        expect(await dashboard(owner, reader, ada, emailOf("bob"))).toMatchObject({ consumers: 1 });

        await replica.stop("fast");
        await pageView(owner, owner.ingestKey, "bob");
        for (let i = 0; i < 3; i++) {
          expect(await dashboard(owner, reader, ada, emailOf("bob"))).toMatchObject({ consumers: 2, found: 1 });
        }
        expect(said("warn", "read replica unavailable")).toBe(1);

        await replica.start();
        await eventually(
          async () => (said("info", "read replica available again") === 1 ? true : undefined),
          10_000,
          "the replica taken back",
        );
        await replica.caughtUp();
        await expectReplicaServes(owner, reader, ada, 2);
      } finally {
        restore();
      }
    },
    TEST_MS,
  );
  it(
    "answers a creator's first key, minted by an admin a moment ago, with the creator it was made for",
    async () => {
      const admin = await makeAdminKey();
      await replica.caughtUp();
      await replica.pauseReplay();
      try {
        const created = await api.request(
          FreshCreator,
          { input: { name: "Fresh", handle: `fresh-${Date.now()}` } },
          admin,
        );
        const creator = created.data?.createCreator;
        if (creator?.__typename !== "Creator") throw new Error(JSON.stringify(created));
        const minted = await api.request(
          FreshCreatorKey,
          { input: { kind: "CREATOR", creatorId: creator.id, name: "dashboard" } },
          admin,
        );
        const key = minted.data?.createApiKey;
        if (key?.__typename !== "CreatedApiKey") throw new Error(JSON.stringify(minted));
        const read = await api.request(NodeOf, { id: creator.id }, key.secret);
        expect(read.errors).toBeUndefined();
        expect(read.data?.node).toEqual({ id: creator.id });
      } finally {
        await replica.resumeReplay();
      }
    },
    TEST_MS,
  );

  it(
    "answers every key from the primary while the replica is further behind than DATABASE_READ_MAX_LAG_MS, and from the replica once it caught up",
    async () => {
      const { said, restore } = logged();
      try {
        const { owner, reader, ada } = await creatorOnReplica();
        expect(await dashboard(owner, reader, ada, emailOf("bob"))).toMatchObject({ consumers: 1 });

        // Replication stalls, while the replica still answers: at first the reader sees its state...
        await replica.pauseReplay();
        try {
          await pageView(owner, owner.ingestKey, "bob");
          expect(await dashboard(owner, reader, ada, emailOf("bob"))).toMatchObject({ consumers: 1, found: 0 });
          // ...and, once it is behind by more than the bound, the primary's.
          await eventually(
            async () => (said("warn", "read replica too far behind") === 1 ? true : undefined),
            30_000,
            "the replica taken for too far behind",
            200,
          );
          expect(await dashboard(owner, reader, ada, emailOf("bob"))).toMatchObject({ consumers: 2, found: 1 });
        } finally {
          await replica.resumeReplay();
        }
        await eventually(
          async () => (said("info", "read replica caught up") === 1 ? true : undefined),
          30_000,
          "the replica taken back once caught up",
          200,
        );
        // Its reads are the replica's again: paused once more, it answers the state it has.
        await expectReplicaServes(owner, reader, ada, 2);
      } finally {
        restore();
      }
    },
    TEST_MS,
  );
});
