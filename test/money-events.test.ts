import { describe, expect, it } from "vitest";
import { type MadeCreator, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import type { EventInput } from "./generated/graphql.js";
import { useApi } from "./support/api.js";
import { IngestEvent, IngestEvents } from "./support/operations.js";

// Ingestion rules for sales and for what became of Closer's messages: a publishable ingest key
// (anyone can read it in a web page) may not send them, and an enrolment's money is checked
// before it is stored, since the creator's analytics add it up.

const api = useApi();

const KnownEventTypes = graphql(`
  query KnownEventTypes {
    knownEventTypes {
      type
      description
    }
  }
`);

/** What a page cannot know: sales, the fate of a message Closer sent, a consumer's message, the creator's judgement. */
const SERVER_ONLY = [
  "enrolled",
  "email_delivered",
  "email_bounced",
  "email_opened",
  "email_clicked",
  "email_replied",
  "whatsapp_delivered",
  "whatsapp_read",
  "whatsapp_failed",
  "whatsapp_replied",
  "lost",
];
/** What a visitor does on a page. */
const FROM_PAGES = ["page_view", "service_click", "objection", "unsubscribed", "lesson_watched"];

const event = (type: string, payload: Record<string, unknown> = {}, externalId = "visitor"): EventInput => ({
  consumer: { externalId },
  type,
  payload,
});

const storedEvents = (owner: MadeCreator) => db.event.count({ where: { creatorId: owner.creator.id } });

describe("events only a server may send", () => {
  it("refuses each from an ingest key with FORBIDDEN, storing nothing, and takes it from a creator key", async () => {
    const owner = await makeCreator();
    for (const type of SERVER_ONLY) {
      const answer = await api.request(IngestEvent, { creatorId: owner.gid, event: event(type) }, owner.ingestKey);
      expect(answer.data?.ingestEvent ?? null, type).toBeNull();
      expect(answer.errors?.[0].extensions?.code, type).toBe("FORBIDDEN");
      expect(answer.errors?.[0].message, type).toMatch(/from the creator's server with a creator key/);
    }
    // The review's case: two enrolments of 1.7e308 from a page broke the creator's analytics.
    const huge = event("enrolled", { amount: 1.7e308, currency: "USD" });
    const refused = await api.request(IngestEvent, { creatorId: owner.gid, event: huge }, owner.ingestKey);
    expect(refused.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await storedEvents(owner)).toBe(0);
    expect(await db.consumer.count({ where: { creatorId: owner.creator.id } })).toBe(0);

    for (const type of FROM_PAGES) {
      const answer = await api.request(IngestEvent, { creatorId: owner.gid, event: event(type) }, owner.ingestKey);
      expect(answer.data?.ingestEvent.__typename, type).toBe("IngestedEvent");
    }
    for (const type of SERVER_ONLY) {
      const answer = await api.request(IngestEvent, { creatorId: owner.gid, event: event(type) }, owner.creatorKey);
      expect(answer.data?.ingestEvent.__typename, type).toBe("IngestedEvent");
    }
    expect(await storedEvents(owner)).toBe(FROM_PAGES.length + SERVER_ONLY.length);

    // knownEventTypes, shown to people wiring a page, says which ones.
    const known = (await api.request(KnownEventTypes, {}, owner.ingestKey)).data?.knownEventTypes ?? [];
    for (const { type, description } of known) {
      expect(description.includes("an ingest key is refused"), type).toBe(SERVER_ONLY.includes(type));
    }
  });

  it("refuses a batch from an ingest key naming the event it may not send, and stores none of it", async () => {
    const owner = await makeCreator();
    const events = [event("page_view"), event("service_click"), event("whatsapp_replied", { text: "Yes" }, "other")];
    const answer = await api.request(IngestEvents, { creatorId: owner.gid, events }, owner.ingestKey);
    expect(answer.data?.ingestEvents ?? null).toBeNull();
    expect(answer.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^events\.2: An ingest key may not send whatsapp_replied events/),
      extensions: { code: "FORBIDDEN" },
    });
    expect(await storedEvents(owner)).toBe(0);
    expect(await db.consumer.count({ where: { creatorId: owner.creator.id } })).toBe(0);
  });
});

describe("an enrolment's money", () => {
  it("must be an amount from 0 to a billion and an ISO 4217 currency: else a ValidationError naming it, and nothing stored", async () => {
    const owner = await makeCreator();
    const refused: [Record<string, unknown>, string][] = [
      [{ amount: 1.7e308, currency: "USD" }, "payload.amount"],
      [{ amount: 1_000_000_000.01, currency: "USD" }, "payload.amount"],
      [{ amount: -1, currency: "USD" }, "payload.amount"],
      [{ amount: "50", currency: "USD" }, "payload.amount"],
      [{ amount: 50, currency: "ZZZ" }, "payload.currency"],
      [{ amount: 50, currency: "dollars" }, "payload.currency"],
      [{ amount: 50, currency: 840 }, "payload.currency"],
      // Look-alikes JavaScript upper-cases into a code: the long s, the dotless i.
      [{ amount: 50, currency: "uſd" }, "payload.currency"],
      [{ amount: 50, currency: "ınr" }, "payload.currency"],
    ];
    for (const [payload, path] of refused) {
      const answer = await api.request(
        IngestEvent,
        { creatorId: owner.gid, event: event("enrolled", payload) },
        owner.creatorKey,
      );
      expect(answer.data?.ingestEvent, JSON.stringify(payload)).toMatchObject({
        __typename: "ValidationError",
        issues: [{ path }],
      });
    }
    const batch = [event("enrolled", { amount: 10, currency: "USD" }), event("enrolled", { amount: -10 }, "b")];
    const answer = await api.request(IngestEvents, { creatorId: owner.gid, events: batch }, owner.creatorKey);
    expect(answer.data?.ingestEvents).toMatchObject({
      __typename: "ValidationError",
      issues: [{ path: "events.1.payload.amount" }],
    });
    expect(await storedEvents(owner)).toBe(0);

    // The bounds themselves, a code in any case, or no money at all (the listed price counts).
    const accepted = [
      { amount: 1_000_000_000, currency: "usd" },
      { amount: 0, currency: "EUR" },
      { service: "Leadership Sprint" },
      { service: "Leadership Sprint", amount: null },
    ];
    for (const payload of accepted) {
      const ok = await api.request(
        IngestEvent,
        { creatorId: owner.gid, event: event("enrolled", payload) },
        owner.creatorKey,
      );
      expect(ok.data?.ingestEvent.__typename, JSON.stringify(payload)).toBe("IngestedEvent");
    }
    // Other events' payloads are their senders' own.
    const custom = event("invoice_sent", { amount: -1, currency: "dollars" });
    const other = await api.request(IngestEvent, { creatorId: owner.gid, event: custom }, owner.creatorKey);
    expect(other.data?.ingestEvent.__typename).toBe("IngestedEvent");
  });
});
