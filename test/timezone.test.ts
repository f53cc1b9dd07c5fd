import { expect, it, vi } from "vitest";

// This file's database runs in Tokyo time (as a database an operator did not set up for us
// might): every session Closer opens must still read and write instants in UTC.
await vi.hoisted(async () => {
  const { default: pg } = await import("pg");
  const url = new URL(process.env.DATABASE_URL as string);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await client.query(`ALTER DATABASE "${decodeURIComponent(url.pathname.slice(1))}" SET timezone TO 'Asia/Tokyo'`);
  await client.end();
});

import { makeCreator } from "../scripts/fixtures.js";
import { pool } from "../src/db/client.js";
import { useApi } from "./support/api.js";

const api = useApi();

it("stores and reads instants in UTC whatever the database's time zone", async () => {
  const owner = await makeCreator();
  const at = "2026-03-10T10:00:00.000Z";
  const ingest = await api.request(
    `mutation($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) { __typename ... on IngestedEvent { event { occurredAt } } } }`,
    { c: owner.gid, e: { consumer: { externalId: "tz" }, type: "page_view", occurredAt: at } },
    owner.creatorKey,
  );
  expect(ingest.data).toEqual({ ingestEvent: { __typename: "IngestedEvent", event: { occurredAt: at } } });
  const events = await api.request(
    `query($id: ID!, $after: DateTime) { node(id: $id) { ... on Creator {
      events(first: 5, filter: { occurredAfter: $after }) { totalCount edges { node { occurredAt } } } } } }`,
    { id: owner.gid, after: "2026-03-10T09:59:00.000Z" },
    owner.creatorKey,
  );
  expect(events.data).toEqual({ node: { events: { totalCount: 1, edges: [{ node: { occurredAt: at } }] } } });

  // A grant, then an unsubscribe: the later change wins, read back in the right order.
  const consent = (granted: boolean) =>
    api.request(
      `mutation($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) { __typename } }`,
      {
        c: owner.gid,
        e: { consumer: { externalId: "tz", consents: [{ channel: "EMAIL", granted }] }, type: "page_view" },
      },
      owner.creatorKey,
    );
  await consent(true);
  await consent(false);
  const consents = await api.request(
    `query($id: ID!) { node(id: $id) { ... on Creator { consumers(first: 1) { edges { node { consents { channel status } } } } } } }`,
    { id: owner.gid },
    owner.creatorKey,
  );
  expect(JSON.stringify(consents.data)).toContain('"status":"WITHDRAWN"');
  // The sessions Closer opens say so themselves.
  const { rows } = await pool.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz");
  expect(rows[0].tz).toBe("UTC");
});
