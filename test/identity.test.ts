import { describe, expect, it } from "vitest";
import { approveAgentTemplates, type MadeCreator, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { useApi } from "./support/api.js";
import { creatorWithAgent } from "./support/operations.js";
import { eventually } from "./support/processes.js";

// One test per row of the README's "Consumer identity" table, each through the API as a creator's
// dashboard would see it: the consumer an event landed on, its details, and its listed conflicts.

const CONSUMER_FIELDS = `
  fragment Person on Consumer {
    id
    externalId
    name
    email
    phone
    timezone
    identityConflicts {
      field
      keptValue
      offeredValue
      heldBy {
        id
        externalId
      }
      occurrences
      firstSeenAt
      lastSeenAt
    }
  }
`;

const INGEST = `
  mutation Ingest($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on IngestedEvent {
        event {
          consumer {
            ...Person
          }
        }
      }
      ... on ValidationError {
        code
        issues {
          path
          message
        }
      }
    }
  }
  ${CONSUMER_FIELDS}
`;

const INGEST_BATCH = `
  mutation IngestBatch($creatorId: ID!, $events: [EventInput!]!) {
    ingestEvents(creatorId: $creatorId, events: $events) {
      __typename
      ... on IngestedEvents {
        results {
          event {
            consumer {
              ...Person
            }
          }
        }
      }
    }
  }
  ${CONSUMER_FIELDS}
`;

const CONSUMER = `
  query Consumer($id: ID!) {
    node(id: $id) {
      ...Person
    }
  }
  ${CONSUMER_FIELDS}
`;

const CONSUMER_COUNT = `
  query ConsumerCount($id: ID!) {
    node(id: $id) {
      ... on Creator {
        consumers(first: 1) {
          totalCount
        }
      }
    }
  }
`;

const ACTIONS = `
  query Actions($id: ID!) {
    node(id: $id) {
      ... on Creator {
        actions(first: 20) {
          edges {
            node {
              channel
              payload
              consumer {
                externalId
              }
            }
          }
        }
      }
    }
  }
`;

type Conflict = {
  field: string;
  keptValue: string | null;
  offeredValue: string;
  heldBy: { id: string; externalId: string | null } | null;
  occurrences: number;
  firstSeenAt: string;
  lastSeenAt: string;
};
type Person = {
  id: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  timezone: string | null;
  identityConflicts: Conflict[];
};
type Owner = MadeCreator;

const api = useApi({ worker: true });

/** Sends one page_view naming `consumer` with the creator's key; answers the consumer it landed on. */
async function ingest(owner: Owner, consumer: Record<string, unknown>): Promise<Person> {
  const response = await api.request(
    INGEST,
    { creatorId: owner.gid, event: { type: "page_view", consumer } },
    owner.creatorKey,
  );
  const answer = (response.data as { ingestEvent?: { __typename: string; event?: { consumer: Person } } })?.ingestEvent;
  if (answer?.__typename !== "IngestedEvent") throw new Error(`not ingested: ${JSON.stringify(response)}`);
  return (answer.event as { consumer: Person }).consumer;
}

async function consumer(owner: Owner, id: string): Promise<Person> {
  const response = await api.request(CONSUMER, { id }, owner.creatorKey);
  return (response.data as { node: Person }).node;
}

async function consumerCount(owner: Owner): Promise<number> {
  const response = await api.request(CONSUMER_COUNT, { id: owner.gid }, owner.creatorKey);
  return (response.data as { node: { consumers: { totalCount: number } } }).node.consumers.totalCount;
}

const whatsApp = [{ channel: "WHATSAPP", granted: true, source: "signup_form" }];

describe("consumer identity", () => {
  it("row 1: an external id a consumer has is that person: name, timezone, email and phone follow the event", async () => {
    const owner = await makeCreator();
    const first = await ingest(owner, {
      externalId: "u-1",
      name: "Ana",
      email: "ana@old.example",
      phone: "+14155550101",
      timezone: "Europe/Madrid",
    });
    const moved = await ingest(owner, {
      externalId: "u-1",
      name: "Ana María",
      email: "ana@new.example",
      phone: "+14155550102",
      timezone: "Europe/Lisbon",
    });
    expect(moved).toMatchObject({
      id: first.id,
      name: "Ana María",
      email: "ana@new.example",
      phone: "+14155550102",
      timezone: "Europe/Lisbon",
      identityConflicts: [],
    });
    expect(await consumerCount(owner)).toBe(1);
  });

  it("row 1: an email or phone another consumer holds stays with it, and the conflict is listed", async () => {
    const owner = await makeCreator();
    const ana = await ingest(owner, { externalId: "u-1", email: "ana@example.org", phone: "+14155550101" });
    const bea = await ingest(owner, { externalId: "u-2", email: "bea@example.org", phone: "+14155550102" });
    const after = await ingest(owner, { externalId: "u-1", email: "bea@example.org", phone: "+14155550102" });
    expect(after).toMatchObject({
      id: ana.id,
      email: "ana@example.org",
      phone: "+14155550101",
    });
    expect(after.identityConflicts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          field: "email",
          keptValue: "ana@example.org",
          offeredValue: "bea@example.org",
          heldBy: { id: bea.id, externalId: "u-2" },
          occurrences: 1,
        }),
        expect.objectContaining({
          field: "phone",
          keptValue: "+14155550101",
          offeredValue: "+14155550102",
          heldBy: { id: bea.id, externalId: "u-2" },
        }),
      ]),
    );
    expect(after.identityConflicts).toHaveLength(2);
    expect(await consumer(owner, bea.id)).toMatchObject({
      email: "bea@example.org",
      phone: "+14155550102",
      identityConflicts: [],
    });
  });

  it("row 2: an email of a consumer without an external id links the event, and the consumer takes the id", async () => {
    const owner = await makeCreator();
    const lead = await ingest(owner, { email: "lea@example.org", name: "Lea" });
    expect(lead.externalId).toBeNull();
    const known = await ingest(owner, { externalId: "crm-7", email: "lea@example.org" });
    expect(known).toMatchObject({ id: lead.id, externalId: "crm-7", name: "Lea", identityConflicts: [] });
    // From now on the external id alone names her.
    expect((await ingest(owner, { externalId: "crm-7" })).id).toBe(lead.id);
    expect(await consumerCount(owner)).toBe(1);
  });

  it("row 3: an email or phone of a consumer with another external id is someone else", async () => {
    const owner = await makeCreator();
    const ana = await ingest(owner, { externalId: "a", name: "Ana", phone: "+14155550101" });
    const bo = await ingest(owner, { externalId: "b", name: "Bo", phone: "+14155550101" });
    expect(bo.id).not.toBe(ana.id);
    expect(bo).toMatchObject({
      externalId: "b",
      name: "Bo",
      phone: null,
      identityConflicts: [
        {
          field: "phone",
          keptValue: null,
          offeredValue: "+14155550101",
          heldBy: { id: ana.id, externalId: "a" },
          occurrences: 1,
        },
      ],
    });
    expect(await consumer(owner, ana.id)).toMatchObject({ name: "Ana", phone: "+14155550101", identityConflicts: [] });
  });

  it("row 4: the email of one consumer and the phone of another: the email's, and the phone stays", async () => {
    const owner = await makeCreator();
    const xena = await ingest(owner, { email: "xena@example.org", phone: "+14155550101", name: "Xena" });
    const yuri = await ingest(owner, { phone: "+14155550102", name: "Yuri" });
    const landed = await ingest(owner, { email: "xena@example.org", phone: "+14155550102" });
    expect(landed).toMatchObject({
      id: xena.id,
      name: "Xena",
      phone: "+14155550101",
      identityConflicts: [
        {
          field: "phone",
          keptValue: "+14155550101",
          offeredValue: "+14155550102",
          heldBy: { id: yuri.id, externalId: null },
        },
      ],
    });
    expect(await consumer(owner, yuri.id)).toMatchObject({ name: "Yuri", phone: "+14155550102" });
  });

  it("row 5: linked by a contact detail, a known name and timezone are kept (and filled in when missing)", async () => {
    const owner = await makeCreator();
    const carla = await ingest(owner, { email: "carla@example.org", name: "Carla", timezone: "Europe/Rome" });
    const landed = await ingest(owner, { email: "carla@example.org", name: "Carl", timezone: "America/New_York" });
    expect(landed).toMatchObject({ id: carla.id, name: "Carla", timezone: "Europe/Rome" });
    expect(landed.identityConflicts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: "name", keptValue: "Carla", offeredValue: "Carl", heldBy: null }),
        expect.objectContaining({
          field: "timezone",
          keptValue: "Europe/Rome",
          offeredValue: "America/New_York",
          heldBy: null,
        }),
      ]),
    );
    expect(landed.identityConflicts).toHaveLength(2);

    const nameless = await ingest(owner, { phone: "+14155550103" });
    const named = await ingest(owner, { phone: "+14155550103", name: "Dee", timezone: "Asia/Tokyo" });
    expect(named).toMatchObject({ id: nameless.id, name: "Dee", timezone: "Asia/Tokyo", identityConflicts: [] });
  });

  it("row 6: linked by a contact detail, a missing one is filled in unless held; a different one is kept", async () => {
    const owner = await makeCreator();
    const dan = await ingest(owner, { email: "dan@example.org" });
    expect(await ingest(owner, { email: "dan@example.org", phone: "+14155550101" })).toMatchObject({
      id: dan.id,
      phone: "+14155550101",
      identityConflicts: [],
    });

    const other = await ingest(owner, { phone: "+14155550102" });
    const changed = await ingest(owner, { email: "dan@example.org", phone: "+14155550109" });
    expect(changed).toMatchObject({
      id: dan.id,
      phone: "+14155550101",
      identityConflicts: [
        { field: "phone", keptValue: "+14155550101", offeredValue: "+14155550109", heldBy: null, occurrences: 1 },
      ],
    });

    const fay = await ingest(owner, { externalId: "fay", email: "fay@example.org" });
    // Fay's email cannot link Gus (another external id); the phone links the consumer without one.
    const held = await ingest(owner, { externalId: "gus", phone: "+14155550102", email: "fay@example.org" });
    expect(held).toMatchObject({
      id: other.id,
      externalId: "gus",
      email: null,
      identityConflicts: [
        { field: "email", keptValue: null, offeredValue: "fay@example.org", heldBy: { id: fay.id, externalId: "fay" } },
      ],
    });
  });

  it("row 7: no eligible match is a new consumer with the free details (the fam-a / fam-b report), and WhatsApp reaches each one's own phone", async () => {
    const owner = await creatorWithAgent(api);
    // The welcomes start conversations on WhatsApp: only as an approved template (the window is closed).
    await approveAgentTemplates(owner.creator.id);
    const phoneA = "+34612345601";
    const phoneB = "+34612345602";

    const ana = await ingest(owner, {
      externalId: "fam-a",
      name: "Ana",
      email: "home@example.org",
      phone: phoneA,
      consents: whatsApp,
    });
    const bruno = await ingest(owner, {
      externalId: "fam-b",
      name: "Bruno",
      email: "home@example.org",
      phone: phoneB,
      consents: whatsApp,
    });
    expect(bruno.id).not.toBe(ana.id);
    expect(bruno).toMatchObject({
      externalId: "fam-b",
      name: "Bruno",
      email: null,
      phone: phoneB,
      identityConflicts: [
        {
          field: "email",
          keptValue: null,
          offeredValue: "home@example.org",
          heldBy: { id: ana.id, externalId: "fam-a" },
          occurrences: 1,
        },
      ],
    });
    expect(await consumer(owner, ana.id)).toMatchObject({
      externalId: "fam-a",
      name: "Ana",
      email: "home@example.org",
      phone: phoneA,
      identityConflicts: [],
    });

    // The agent welcomes each on WhatsApp: Bruno's greeting goes to Bruno's phone, never Ana's.
    type Planned = { channel: string; payload: { to: string; message: string }; consumer: { externalId: string } };
    const planned = await eventually(async () => {
      const response = await api.request(ACTIONS, { id: owner.gid }, owner.creatorKey);
      const edges = (response.data as { node: { actions: { edges: { node: Planned }[] } } }).node.actions.edges;
      return edges.length === 2 ? edges.map((e) => e.node) : undefined;
    });
    const toBruno = planned.find((a) => a.consumer.externalId === "fam-b");
    const toAna = planned.find((a) => a.consumer.externalId === "fam-a");
    expect(toBruno).toMatchObject({ channel: "WHATSAPP", payload: { to: phoneB } });
    expect(toBruno?.payload.message).toContain("Bruno");
    expect(toAna).toMatchObject({ channel: "WHATSAPP", payload: { to: phoneA } });
    expect(toAna?.payload.message).not.toContain("Bruno");
  });

  it("row 8: the same conflict again counts once more on the one listed row", async () => {
    const owner = await makeCreator();
    await ingest(owner, { externalId: "fam-a", email: "home@example.org" });
    const first = await ingest(owner, { externalId: "fam-b", email: "home@example.org" });
    const again = await ingest(owner, { externalId: "fam-b", email: "home@example.org" });
    expect(again.id).toBe(first.id);
    expect(again.identityConflicts).toHaveLength(1);
    const [conflict] = again.identityConflicts;
    expect(conflict).toMatchObject({ field: "email", offeredValue: "home@example.org", occurrences: 2 });
    expect(conflict.firstSeenAt).toBe(first.identityConflicts[0].firstSeenAt);
    expect(new Date(conflict.lastSeenAt).getTime()).toBeGreaterThan(new Date(conflict.firstSeenAt).getTime());
  });

  it("row 9: a phone written with spaces or without is one consumer, stored as E.164", async () => {
    const owner = await makeCreator();
    const spaced = await ingest(owner, { phone: "+34 612 345 678", name: "Pau" });
    const packed = await ingest(owner, { phone: "+34612345678" });
    expect(packed).toMatchObject({ id: spaced.id, phone: "+34612345678", name: "Pau" });
    expect(await consumerCount(owner)).toBe(1);
  });

  it.each([
    ["too short", "+1 555"],
    ["too long", "+1415555012345678"],
    ["without the country code", "4155550123"],
    ["with an extension", "+14155550123 ext. 5"],
  ])("row 9: a phone %s is refused with the field's path, and nothing is written", async (_case, phone) => {
    const owner = await makeCreator();
    const response = await api.request(
      INGEST,
      { creatorId: owner.gid, event: { type: "page_view", consumer: { externalId: "x", phone } } },
      owner.creatorKey,
    );
    expect(response.data).toEqual({
      ingestEvent: {
        __typename: "ValidationError",
        code: "VALIDATION_FAILED",
        issues: [{ path: "consumer.phone", message: "must be an international number such as +14155550123" }],
      },
    });
    expect(await consumerCount(owner)).toBe(0);
  });

  it("row 10: an email with spaces or capitals is one consumer, stored trimmed and lower-cased", async () => {
    const owner = await makeCreator();
    const loud = await ingest(owner, { email: " Home@Example.org ", name: "Hal" });
    expect(loud.email).toBe("home@example.org");
    const quiet = await ingest(owner, { email: "home@example.org" });
    expect(quiet).toMatchObject({ id: loud.id, name: "Hal" });
    expect(await consumerCount(owner)).toBe(1);
  });

  it("row 11: one new person named several times in a batch is one consumer with every detail", async () => {
    const owner = await makeCreator();
    const response = await api.request(
      INGEST_BATCH,
      {
        creatorId: owner.gid,
        events: [
          { type: "page_view", consumer: { externalId: "new-1", name: "Nia" } },
          { type: "page_view", consumer: { externalId: "new-1", email: "nia@example.org" } },
          { type: "service_click", consumer: { email: "nia@example.org", phone: "+14155550101" } },
        ],
      },
      owner.creatorKey,
    );
    const results = (response.data as { ingestEvents: { results: { event: { consumer: Person } }[] } }).ingestEvents
      .results;
    expect(new Set(results.map((r) => r.event.consumer.id)).size).toBe(1);
    expect(results[2].event.consumer).toMatchObject({
      externalId: "new-1",
      name: "Nia",
      email: "nia@example.org",
      phone: "+14155550101",
      identityConflicts: [],
    });
    expect(await consumerCount(owner)).toBe(1);
  });

  it("row 11: concurrent requests naming one new person create one consumer", async () => {
    const owner = await makeCreator();
    const landed = await Promise.all(
      Array.from({ length: 6 }, () =>
        ingest(owner, { externalId: "rush", name: "Rui", email: "rui@example.org", phone: "+14155550101" }),
      ),
    );
    expect(new Set(landed.map((p) => p.id)).size).toBe(1);
    expect(await consumer(owner, landed[0].id)).toMatchObject({
      externalId: "rush",
      email: "rui@example.org",
      phone: "+14155550101",
      identityConflicts: [],
    });
    expect(await consumerCount(owner)).toBe(1);
  });

  it("lists conflicts to the creator's keys and admins only", async () => {
    const owner = await makeCreator();
    await ingest(owner, { externalId: "fam-a", email: "home@example.org" });
    const bruno = await ingest(owner, { externalId: "fam-b", email: "home@example.org" });

    const asAdmin = await api.request(CONSUMER, { id: bruno.id }, await makeAdminKey());
    expect((asAdmin.data as { node: Person }).node.identityConflicts).toHaveLength(1);

    const stranger = await makeCreator();
    expect((await api.request(CONSUMER, { id: bruno.id }, stranger.creatorKey)).data).toEqual({ node: null });

    // The publishable ingest key learns nothing back about the consumer, conflicts included.
    const viaIngestKey = await api.request(
      INGEST,
      { creatorId: owner.gid, event: { type: "page_view", consumer: { externalId: "fam-b" } } },
      owner.ingestKey,
    );
    expect(viaIngestKey.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });
});
