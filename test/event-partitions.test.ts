import { randomBytes, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type MadeCreator, makeCreator } from "../scripts/fixtures.js";
import { runPrisma } from "../scripts/prisma.js";
import { loadConfig } from "../src/config.js";
import { db, pool } from "../src/db/client.js";
import { inTransaction } from "../src/db/transaction.js";
import {
  dropEventPartitionsBefore,
  type EventPartition,
  eventPartitions,
  holds,
  makeEventPartitions,
  monthStart,
  partitionName,
} from "../src/events/event-partition-store.js";
import { coverReceivedAt, MONTHS_AHEAD, maintainEventPartitions } from "../src/events/event-partitions.js";
import { insertEvents } from "../src/events/event-store.js";
import { type EventInput, ingestEvents } from "../src/events/ingest.js";
import type { Event } from "../src/generated/prisma/client.js";
import { startWorker } from "../worker/worker.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";
import { eventually } from "./support/processes.js";

// The events table is partitioned by month of receipt: months are made ahead by the worker (and by
// ingestion when the worker has not), events land in the month they were received in whenever they
// occurred, idempotency keys and cascades hold across months, and retention drops whole months
// past it with what refers to their events. On this file's own database; the months ahead of today
// are made here, and the retention test, which drops every month up to a date years from now, runs
// last.

const api = useApi();
const DAY_MS = 24 * 3_600_000;
const now = new Date();

let owner: MadeCreator;
beforeAll(async () => {
  owner = await makeCreator();
});

afterEach(() => {
  vi.useRealTimers();
});

/** Ingests through the service, as the API does; the answer of each event in order. */
const ingest = (events: EventInput[], creatorId = owner.creator.id) => ingestEvents(creatorId, events, null);

/** The partition (table) a stored event is in. */
async function partitionOf(eventId: string): Promise<string> {
  const { rows } = await pool.query<{ partition: string }>(
    `SELECT tableoid::regclass::text AS partition FROM events WHERE id = $1`,
    [eventId],
  );
  return rows[0]?.partition;
}

/** Stores an event received at `receivedAt` through the events store (the partition must exist). */
async function storeReceivedAt(
  receivedAt: Date,
  consumerId: string,
  idempotencyKey: string | null = null,
  creatorId = owner.creator.id,
) {
  const [event] = await inTransaction((tx) =>
    insertEvents(tx, creatorId, receivedAt, [
      {
        id: randomUUID(),
        consumerId,
        type: "page_view",
        payload: {},
        occurredAt: receivedAt,
        idempotencyKey,
        bodyHash: idempotencyKey ? "hash" : null,
      },
    ]),
  );
  return event;
}

/** An agent's decision on `event` (its invocation, completed) with one message planned (an action). */
async function decideOn(event: Event, agentId: string): Promise<void> {
  const invocation = await db.agentInvocation.create({
    data: {
      agentId,
      eventId: event.id,
      eventReceivedAt: event.receivedAt,
      creatorId: event.creatorId,
      consumerId: event.consumerId,
      status: "COMPLETED",
    },
  });
  await db.action.create({
    data: {
      invocationId: invocation.id,
      sequence: 0,
      creatorId: event.creatorId,
      consumerId: event.consumerId,
      channel: "EMAIL",
      payload: { to: "x@example.org", message: "Hi" },
      sendAt: event.receivedAt,
    },
  });
}

/** Pretends the clock reads `at` (Date only: timers run on), for what the API and ingestion stamp. */
function clockAt(at: Date): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(at);
}

describe("the migration to a partitioned events table", () => {
  it("keeps every event, its idempotency key and its invocations, in a first partition that holds them all", async () => {
    // A database of its own, migrated by hand up to this migration, given rows, then migrated on:
    // statements split on semicolons, as the migration runner sends them.
    const name = `closer_partitioning_${randomBytes(4).toString("hex")}`;
    const admin = new URL(process.env.DATABASE_URL as string);
    admin.pathname = "/postgres";
    const target = new URL(admin);
    target.pathname = `/${name}`;
    const adminClient = new pg.Client({ connectionString: admin.toString() });
    await adminClient.connect();
    await adminClient.query(`CREATE DATABASE "${name}"`);
    // In UTC, as the application's sessions are: the bounds PostgreSQL prints are in the session's zone.
    const client = new pg.Client({ connectionString: target.toString(), options: "-c TimeZone=UTC" });
    await client.connect();
    try {
      const dirs = (await readdir("prisma/migrations", { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
      const index = dirs.findIndex((d) => d.endsWith("_events_partitioned"));
      const apply = async (dir: string) => {
        const script = await readFile(`prisma/migrations/${dir}/migration.sql`, "utf8");
        for (const statement of script.split(";").map((s) => s.trim())) if (statement) await client.query(statement);
      };
      for (const dir of dirs.slice(0, index)) await apply(dir);

      const creator = randomUUID();
      const consumer = randomUUID();
      const agent = randomUUID();
      const [old, recent] = [randomUUID(), randomUUID()];
      await client.query(`INSERT INTO creators (id, name, handle, "updatedAt") VALUES ($1, 'C', $2, now())`, [
        creator,
        name,
      ]);
      await client.query(`INSERT INTO consumers (id, "creatorId", "externalId") VALUES ($1, $2, 'x')`, [
        consumer,
        creator,
      ]);
      await client.query(
        `INSERT INTO agents (id, "creatorId", name, kind, "updatedAt") VALUES ($1, $2, 'a', 'generic_sales', now())`,
        [agent, creator],
      );
      await client.query(
        `INSERT INTO events (id, "creatorId", "consumerId", type, "occurredAt", "receivedAt", "idempotencyKey", "bodyHash")
         VALUES ($1, $3, $4, 'page_view', now() - interval '3 years', now() - interval '400 days', 'key-1', 'h'),
                ($2, $3, $4, 'page_view', now(), now(), NULL, NULL)`,
        [old, recent, creator, consumer],
      );
      const {
        rows: [invocation],
      } = await client.query<{ id: string }>(
        `INSERT INTO agent_invocations ("agentId", "eventId", "creatorId", "consumerId") VALUES ($1, $2, $3, $4) RETURNING id`,
        [agent, old, creator, consumer],
      );
      await client.query(
        `INSERT INTO actions ("invocationId", sequence, "creatorId", "consumerId", channel, payload, "sendAt")
         VALUES ($1, 0, $2, $3, 'EMAIL', '{}', now())`,
        [invocation.id, creator, consumer],
      );

      for (const dir of dirs.slice(index, index + 1)) await apply(dir);

      const { rows: events } = await client.query(
        `SELECT id, tableoid::regclass::text AS partition, "receivedAt" FROM events ORDER BY "receivedAt"`,
      );
      expect(events.map((e) => [e.id, e.partition])).toEqual([
        [old, "events_p_initial"],
        [recent, "events_p_initial"],
      ]);
      const { rows: keys } = await client.query(`SELECT * FROM event_idempotency_keys`);
      expect(keys).toEqual([
        { creatorId: creator, idempotencyKey: "key-1", eventId: old, eventReceivedAt: events[0].receivedAt },
      ]);
      const { rows: invocations } = await client.query(`SELECT "eventId", "eventReceivedAt" FROM agent_invocations`);
      expect(invocations).toEqual([{ eventId: old, eventReceivedAt: events[0].receivedAt }]);
      // The first partition ends with the month the migration ran in (UTC).
      const { rows: bounds } = await client.query<{ bound: string }>(
        `SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE relname = 'events_p_initial'`,
      );
      expect(bounds[0].bound).toBe(
        `FOR VALUES FROM (MINVALUE) TO ('${monthStart(new Date(), 1).toISOString().slice(0, 10)} 00:00:00+00')`,
      );
      // The foreign keys hold on the new table: deleting the consumer takes everything with it.
      await client.query(`DELETE FROM consumers WHERE id = $1`, [consumer]);
      for (const table of ["events", "event_idempotency_keys", "agent_invocations", "actions"]) {
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
      }
    } finally {
      await client.end();
      await adminClient.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      await adminClient.end();
    }
  });
});

describe("the schema Prisma describes", () => {
  it("is what the committed migrations build, partitioned table and all: no drift for a later migration to pick up", () => {
    // --exit-code: 0 when the two are the same, 2 when they differ (runPrisma then throws).
    const diff = [
      ...["migrate", "diff", "--from-migrations", "prisma/migrations"],
      ...["--to-schema-datamodel", "prisma/schema.prisma", "--script", "--exit-code"],
    ];
    expect(runPrisma(diff, process.env, { quiet: true })).toContain("This is an empty migration.");
  }, 60_000); // The CLI builds a shadow database from every migration: seconds, more on a busy machine.
});

describe("partitions made ahead", () => {
  it("are made by the worker when it starts: this month and the next ones", async () => {
    const months = Array.from({ length: MONTHS_AHEAD + 1 }, (_, i) => monthStart(now, i));
    const missing = (partitions: EventPartition[]) => months.filter((m) => !partitions.some((p) => holds(p, m)));
    expect(missing(await eventPartitions()).length).toBeGreaterThan(0);

    const worker = await startWorker({ metricsPort: 0, scheduler: false });
    try {
      await eventually(async () => (missing(await eventPartitions()).length === 0 ? true : undefined));
    } finally {
      await worker.close();
    }
    const partitions = await eventPartitions();
    for (const month of months) expect(partitions.filter((p) => holds(p, month))).toHaveLength(1);
    // Contiguous: each partition starts where the one before it ends.
    for (let i = 1; i < partitions.length; i++) expect(partitions[i].from).toEqual(partitions[i - 1].to);
  });

  it("are made by two workers at once without error, each month once", async () => {
    const later = monthStart(now, 5);
    const runs = await Promise.all([maintainEventPartitions({ now: later }), maintainEventPartitions({ now: later })]);
    const expected = Array.from({ length: MONTHS_AHEAD + 1 }, (_, i) => partitionName(monthStart(later, i)));
    expect([...runs[0].made, ...runs[1].made].sort()).toEqual(expected.sort());
    expect(runs.flatMap((r) => r.dropped)).toEqual([]);
    expect(await maintainEventPartitions({ now: later })).toEqual({ made: [], dropped: [] });
  });

  it("hold each event in the month it was received in", async () => {
    const [ingested] = await ingest([{ consumer: { externalId: "monthly" }, type: "page_view" }]);
    const current = (await eventPartitions()).find((p) => holds(p, ingested.event.receivedAt));
    expect(await partitionOf(ingested.event.id)).toBe(current?.name);

    const inTwoMonths = new Date(monthStart(now, 2).getTime() + 3 * DAY_MS);
    const later = await storeReceivedAt(inTwoMonths, ingested.event.consumerId);
    expect(await partitionOf(later.id)).toBe(partitionName(monthStart(now, 2)));
  });
});

describe("an event that occurred long before any partition's range", () => {
  it("is accepted, stored in the month of its receipt, and listed page by page with the others", async () => {
    const ingestEvent = `mutation ($creatorId: ID!, $event: EventInput!) {
      ingestEvent(creatorId: $creatorId, event: $event) {
        __typename ... on IngestedEvent { duplicate event { id occurredAt receivedAt } } ... on Error { code message }
      }
    }`;
    const creator = await makeCreator();
    const sent = [];
    for (const occurredAt of ["1990-05-01T10:00:00.000Z", "2001-01-01T00:00:00.000Z"]) {
      const answer = await api.request<
        { ingestEvent: { __typename: string; event: { id: string; occurredAt: string; receivedAt: string } } },
        unknown
      >(
        ingestEvent,
        { creatorId: creator.gid, event: { consumer: { externalId: "nostalgic" }, type: "page_view", occurredAt } },
        creator.creatorKey,
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.ingestEvent.__typename).toBe("IngestedEvent");
      const event = answer.data?.ingestEvent.event as { id: string; occurredAt: string; receivedAt: string };
      expect(event.occurredAt).toBe(occurredAt);
      const receipt = (await eventPartitions()).find((p) => holds(p, new Date(event.receivedAt)));
      expect(await partitionOf(fromGlobalId(event.id).id)).toBe(receipt?.name);
      sent.push(event.id);
    }

    // Newest first (by occurredAt), one a page, forward and back through the cursors handed out.
    const list = `query ($id: ID!, $after: String, $before: String, $first: Int, $last: Int) {
      node(id: $id) { ... on Creator { events(first: $first, after: $after, last: $last, before: $before) {
        edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } } }
    }`;
    type Page = {
      node: {
        events: {
          edges: { node: { id: string } }[];
          pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string };
          totalCount: number;
        };
      };
    };
    const first = await api.request<Page, unknown>(list, { id: creator.gid, first: 1 }, creator.creatorKey);
    expect(first.errors).toBeUndefined();
    const second = await api.request<Page, unknown>(
      list,
      { id: creator.gid, first: 1, after: first.data?.node.events.pageInfo.endCursor },
      creator.creatorKey,
    );
    expect(second.errors).toBeUndefined();
    const back = await api.request<Page, unknown>(
      list,
      { id: creator.gid, last: 1, before: second.data?.node.events.pageInfo.startCursor },
      creator.creatorKey,
    );
    expect(back.errors).toBeUndefined();
    expect([first, second, back].map((page) => page.data?.node.events.edges.map((e) => e.node.id))).toEqual([
      [sent[1]],
      [sent[0]],
      [sent[1]],
    ]);
    expect([first, second, back].map((page) => page.data?.node.events.pageInfo.hasNextPage)).toEqual([
      true,
      false,
      true,
    ]);
    expect(back.data?.node.events.pageInfo.hasPreviousPage).toBe(false);
    expect(first.data?.node.events.totalCount).toBe(2);
    // And as a node, by its global id alone.
    const node = await api.request<{ node: { id: string } | null }, unknown>(
      `query ($id: ID!) { node(id: $id) { id ... on Event { occurredAt } } }`,
      { id: sent[0] },
      creator.creatorKey,
    );
    expect(node.data?.node).toEqual({ id: sent[0], occurredAt: "1990-05-01T10:00:00.000Z" });
  });
});

describe("ingestion in a month no worker made", () => {
  it("makes that month's partition itself, and idempotency keys hold across months", async () => {
    const [first] = await ingest([{ consumer: { externalId: "traveller" }, type: "page_view", idempotencyKey: "k-1" }]);
    const far = new Date(monthStart(now, 20).getTime() + 5 * DAY_MS);
    expect((await eventPartitions()).some((p) => holds(p, far))).toBe(false);

    clockAt(far);
    // A replay twenty months later, its first event in another partition: the first result.
    const [replay] = await ingest([
      { consumer: { externalId: "traveller" }, type: "page_view", idempotencyKey: "k-1" },
    ]);
    expect(replay).toMatchObject({ duplicate: true, event: { id: first.event.id } });
    // The same key with another body: a conflict, whatever the month.
    await expect(
      ingest([{ consumer: { externalId: "traveller" }, type: "service_click", idempotencyKey: "k-1" }]),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    // Two requests racing with a new key store one event, in the month ingestion made.
    const racing = await Promise.all(
      [1, 2].map(() => ingest([{ consumer: { externalId: "traveller" }, type: "page_view", idempotencyKey: "k-2" }])),
    );
    expect(new Set(racing.map(([r]) => r.event.id)).size).toBe(1);
    expect(racing.map(([r]) => r.duplicate).sort()).toEqual([false, true]);
    expect(await partitionOf(racing[0][0].event.id)).toBe(partitionName(monthStart(far)));
    // Its month only: months ahead are the worker's to make.
    expect((await eventPartitions()).some((p) => holds(p, monthStart(far, 1)))).toBe(false);
    const stored = await db.event.count({
      where: { creatorId: owner.creator.id, idempotencyKey: { in: ["k-1", "k-2"] } },
    });
    expect(stored).toBe(2);
  });

  it("makes a missing month once when several requests and a worker need it at once", async () => {
    const far = new Date(monthStart(now, 22).getTime() + DAY_MS);
    await Promise.all([coverReceivedAt(far), coverReceivedAt(far), makeEventPartitions(far, far)]);
    expect((await eventPartitions()).filter((p) => holds(p, far)).map((p) => p.name)).toEqual([
      partitionName(monthStart(far)),
    ]);
  });
});

describe("deleting a consumer or a creator", () => {
  it("deletes their events in every month, with the events' invocations, actions and idempotency keys", async () => {
    const creator = await makeCreator();
    const agent = await db.agent.create({ data: { creatorId: creator.creator.id, name: "A", kind: "generic_sales" } });
    const ingestFor = async (externalId: string, key: string) =>
      (await ingest([{ consumer: { externalId }, type: "page_view", idempotencyKey: key }], creator.creator.id))[0];
    const kept = await ingestFor("kept", "kept-1");
    const gone = await ingestFor("gone", "gone-1");
    // An event of the same consumer in another month, with an invocation and its action.
    const later = new Date(monthStart(now, 2).getTime() + DAY_MS);
    const elsewhere = await storeReceivedAt(later, gone.event.consumerId, "gone-2", creator.creator.id);
    for (const event of [kept.event, gone.event, elsewhere]) await decideOn(event, agent.id);
    const remaining = async () => ({
      events: (await db.event.findMany({ where: { creatorId: creator.creator.id } })).map((e) => e.id).sort(),
      keys: (await db.eventIdempotencyKey.findMany({ where: { creatorId: creator.creator.id } }))
        .map((k) => k.idempotencyKey)
        .sort(),
      invocations: await db.agentInvocation.count({ where: { creatorId: creator.creator.id } }),
      actions: await db.action.count({ where: { creatorId: creator.creator.id } }),
    });

    await db.consumer.delete({ where: { id: gone.event.consumerId } });
    expect(await remaining()).toEqual({ events: [kept.event.id], keys: ["kept-1"], invocations: 1, actions: 1 });

    await db.creator.delete({ where: { id: creator.creator.id } });
    expect(await remaining()).toEqual({ events: [], keys: [], invocations: 0, actions: 0 });
  });
});

// Last: it drops every month up to a date years from now, today's included.
describe("retention", () => {
  it("is for ever by default, and refused shorter than the agents look back", () => {
    expect(loadConfig({}).EVENT_RETENTION_DAYS).toBe(0);
    expect(loadConfig({ EVENT_RETENTION_DAYS: "400" }).EVENT_RETENTION_DAYS).toBe(400);
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: "90" })).toThrow(
      /EVENT_RETENTION_DAYS="90": must be 0 .* or at least 365/,
    );
    // A cutoff too far back to be a date would compare false with every month, dropping them all.
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: "200000000" })).toThrow(/EVENT_RETENTION_DAYS="200000000": /);
  });

  it("drops nothing for a cutoff that is not a date", async () => {
    const before = await eventPartitions();
    await expect(dropEventPartitionsBefore(new Date(Number.NaN))).rejects.toThrow(RangeError);
    expect(await eventPartitions()).toEqual(before);
  });

  it("drops the months wholly past it, with what refers to their events, and nothing newer", async () => {
    const retentionDays = 365;
    const later = new Date(monthStart(now, 26).getTime() + 10 * DAY_MS);
    const cutoff = new Date(later.getTime() - retentionDays * DAY_MS);
    await makeEventPartitions(now, monthStart(later, MONTHS_AHEAD));
    const agent = await db.agent.create({ data: { creatorId: owner.creator.id, name: "Kept", kind: "generic_sales" } });
    const [today] = await ingest([
      { consumer: { externalId: "ageing" }, type: "page_view", idempotencyKey: "old-key" },
    ]);
    const consumerId = today.event.consumerId;
    const straddling = (await eventPartitions()).find((p) => holds(p, cutoff));
    if (!straddling?.from || !straddling.to) throw new Error("no partition holds the cutoff");
    // Just before the cutoff's month (dropped), and in it on either side of the cutoff (kept: the
    // month is not wholly past it), and recent.
    const [lastDropped, beforeCutoff, afterCutoff, recent] = await Promise.all(
      [
        new Date(straddling.from.getTime() - 1),
        new Date(cutoff.getTime() - DAY_MS),
        new Date(cutoff.getTime() + DAY_MS),
        new Date(later.getTime() - DAY_MS),
      ].map((at, i) => storeReceivedAt(at, consumerId, `key-${i}`)),
    );
    for (const event of [today.event, lastDropped, afterCutoff]) await decideOn(event, agent.id);
    const before = await eventPartitions();

    // Two workers at once: one drops, the other finds it under way and leaves it.
    const runs = await Promise.all([
      maintainEventPartitions({ now: later, retentionDays }),
      dropEventPartitionsBefore(cutoff),
    ]);
    const dropped = [...runs[0].dropped, ...runs[1]].sort();
    expect(dropped).toEqual(
      before
        .filter((p) => p.to && p.to <= cutoff)
        .map((p) => p.name)
        .sort(),
    );
    expect(dropped).toContain("events_p_initial");
    const after = await eventPartitions();
    expect(after.map((p) => p.name)).toEqual(before.filter((p) => !p.to || p.to > cutoff).map((p) => p.name));
    expect(after[0].name).toBe(straddling.name);

    const stored = await db.event.findMany({ where: { consumerId }, orderBy: { receivedAt: "asc" } });
    expect(stored.map((e) => e.id)).toEqual([beforeCutoff.id, afterCutoff.id, recent.id]);
    const invocations = await db.agentInvocation.findMany({ where: { consumerId } });
    expect(invocations.map((i) => i.eventId)).toEqual([afterCutoff.id]);
    // The messages are kept, what was said to the consumer with them, still the agent's (no sentBy).
    const actions = await db.action.findMany({ where: { consumerId }, orderBy: { sendAt: "asc" } });
    expect(actions.map((a) => [a.invocationId, a.sentBy])).toEqual([
      [null, null],
      [null, null],
      [invocations[0].id, null],
    ]);
    const keys = await db.eventIdempotencyKey.findMany({ where: { eventId: { in: stored.map((e) => e.id) } } });
    expect(keys.map((k) => k.idempotencyKey).sort()).toEqual(["key-1", "key-2", "key-3"]);
    expect(await db.eventIdempotencyKey.count({ where: { idempotencyKey: { in: ["old-key", "key-0"] } } })).toBe(0);
    // The consumer's context (its counters) is not the events' to drop.
    expect(await db.consumerContext.findUniqueOrThrow({ where: { consumerId } })).toMatchObject({ eventCount: 1 });

    // A key whose event was dropped is forgotten with it: sent again, it stores a new event.
    clockAt(later);
    const [again] = await ingest([
      { consumer: { externalId: "ageing" }, type: "page_view", idempotencyKey: "old-key" },
    ]);
    expect(again.duplicate).toBe(false);
    expect(again.event.id).not.toBe(today.event.id);

    // Nothing newer goes at the next run.
    expect(await maintainEventPartitions({ now: later, retentionDays })).toEqual({ made: [], dropped: [] });
  });

  it("leaves alone a month someone else detached (to archive it), however old", async () => {
    await pool.query(`CREATE TABLE events_p2001_01 (LIKE events INCLUDING ALL)`);
    expect(await dropEventPartitionsBefore(new Date("2000-01-01T00:00:00Z"))).toEqual([]);
    const { rows } = await pool.query(`SELECT to_regclass('events_p2001_01')::text AS kept`);
    expect(rows[0].kept).toBe("events_p2001_01");
  });
});
