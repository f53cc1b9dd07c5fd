import { beforeAll, describe, expect, it } from "vitest";
import { type MadeCreator, makeActiveProfile, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { toGlobalId } from "./support/ids.js";
import { AgentDecisions } from "./support/operations.js";
import { subscribeSse } from "./support/sse.js";

const NodeQuery = graphql(`
  query NodeById($id: ID!) {
    node(id: $id) {
      __typename
      id
    }
  }
`);

const CreatorData = graphql(`
  query CreatorData($id: ID!) {
    node(id: $id) {
      ... on Creator {
        handle
        activeProfile {
          version
        }
        consumers(first: 5) {
          totalCount
        }
        events(first: 5) {
          totalCount
        }
        invocations(first: 5) {
          totalCount
        }
        actions(first: 5) {
          totalCount
        }
        agents {
          name
        }
      }
    }
  }
`);

const Creators = graphql(`
  query Creators {
    creators(first: 50) {
      totalCount
      edges {
        node {
          handle
        }
      }
    }
  }
`);

const AuditLog = graphql(`
  query AuditLog {
    auditLog(first: 100) {
      edges {
        node {
          operation
          targetId
        }
      }
    }
  }
`);

const UpdateCreator = graphql(`
  mutation UpdateCreator($id: ID!, $input: UpdateCreatorInput!) {
    updateCreator(id: $id, input: $input) {
      __typename
      ... on Creator {
        name
      }
    }
  }
`);

const api = useApi();
let adminKey: string;
let alice: MadeCreator;
let bob: MadeCreator;
/** Global ids of one row of each node type belonging to Bob. */
const bobNodes: Record<string, string> = {};

beforeAll(async () => {
  adminKey = await makeAdminKey();
  alice = await makeCreator({ name: "Alice" });
  bob = await makeCreator({ name: "Bob" });

  // Bob's world, one row of every kind, written directly: isolation is the subject, not the flows.
  const profile = await makeActiveProfile(bob.creator.id);
  const consumer = await db.consumer.create({
    data: { creatorId: bob.creator.id, externalId: "secret-person", email: "p@bob.example" },
  });
  await db.consumerContext.create({ data: { creatorId: bob.creator.id, consumerId: consumer.id } });
  const event = await db.event.create({
    data: { creatorId: bob.creator.id, consumerId: consumer.id, type: "page_view", occurredAt: new Date() },
  });
  const agent = await db.agent.create({
    data: { creatorId: bob.creator.id, name: "Sales agent", kind: "generic_sales" },
  });
  const invocation = await db.agentInvocation.create({
    data: {
      agentId: agent.id,
      eventId: event.id,
      eventReceivedAt: event.receivedAt,
      creatorId: bob.creator.id,
      consumerId: consumer.id,
      status: "COMPLETED",
    },
  });
  const action = await db.action.create({
    data: {
      invocationId: invocation.id,
      sequence: 0,
      creatorId: bob.creator.id,
      consumerId: consumer.id,
      channel: "EMAIL",
      payload: { to: "p@bob.example", message: "hi" },
      sendAt: new Date(),
    },
  });
  const template = await db.whatsAppTemplate.create({
    data: {
      creatorId: bob.creator.id,
      name: "welcome_interest",
      language: "en_US",
      category: "MARKETING",
      purpose: "WELCOME",
      body: "Hi {{1}}, welcome.",
      variables: ["CONSUMER_NAME"],
    },
  });
  const key = await db.apiKey.findFirstOrThrow({ where: { creatorId: bob.creator.id } });
  const audit = await db.auditLog.findFirstOrThrow({ where: { creatorId: bob.creator.id } });
  Object.assign(bobNodes, {
    Creator: toGlobalId("Creator", bob.creator.id),
    CreatorProfile: toGlobalId("CreatorProfile", profile.id),
    Consumer: toGlobalId("Consumer", consumer.id),
    Event: toGlobalId("Event", event.id),
    Agent: toGlobalId("Agent", agent.id),
    AgentInvocation: toGlobalId("AgentInvocation", invocation.id),
    Action: toGlobalId("Action", action.id),
    ApiKey: toGlobalId("ApiKey", key.id),
    AuditLog: toGlobalId("AuditLog", audit.id),
    WhatsAppTemplate: toGlobalId("WhatsAppTemplate", template.id),
  });
});

describe("tenant isolation", () => {
  it("lets the owner, and admins, read every node by id", async () => {
    for (const [type, id] of Object.entries(bobNodes)) {
      for (const key of [bob.creatorKey, adminKey]) {
        const response = await api.request(NodeQuery, { id }, key);
        expect(response.data?.node, `${type} with ${key === adminKey ? "admin" : "owner"} key`).toEqual({
          __typename: type,
          id,
        });
      }
    }
  });

  it("never shows another creator's rows through node(id), whatever their type, and answers as for an unknown id", async () => {
    for (const [type, id] of Object.entries(bobNodes)) {
      const unknownId = toGlobalId(type, "00000000-0000-4000-8000-000000000000");
      for (const key of [alice.creatorKey, alice.ingestKey, bob.ingestKey]) {
        const response = await api.request(NodeQuery, { id }, key);
        expect(response.data?.node ?? null, type).toBeNull();
        const unknown = await api.request(NodeQuery, { id: unknownId }, key);
        expect(response, `${type}: foreign and unknown ids answer alike`).toEqual(unknown);
      }
      // A creator key gets null, no error at all; ingest keys may not read nodes, whoever owns them.
      expect((await api.request(NodeQuery, { id }, alice.creatorKey)).errors, type).toBeUndefined();
      expect((await api.request(NodeQuery, { id }, bob.ingestKey)).errors?.[0].extensions?.code, type).toBe(
        "FORBIDDEN",
      );
    }
  });

  it.each([
    ["not base64 at all", "garbage"],
    ["a type without a UUID", Buffer.from("Creator:42").toString("base64")],
    ["nothing after the type", Buffer.from("Creator:").toString("base64")],
  ])("answers an ID that is %s with BAD_USER_INPUT, not an internal error", async (_case, id) => {
    const response = await api.request(NodeQuery, { id }, adminKey);
    expect(response.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0].message).toMatch(/^Invalid ID/);
  });

  it("answers an unknown id of a well-formed ID with null", async () => {
    const response = await api.request(
      NodeQuery,
      { id: toGlobalId("Creator", "00000000-0000-4000-8000-000000000000") },
      adminKey,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });

  it("hides every list of another creator", async () => {
    const own = await api.request(CreatorData, { id: bobNodes.Creator }, bob.creatorKey);
    expect(own.data?.node).toMatchObject({
      activeProfile: { version: 1 },
      consumers: { totalCount: 1 },
      events: { totalCount: 1 },
      invocations: { totalCount: 1 },
      actions: { totalCount: 1 },
      agents: [{ name: "Sales agent" }],
    });
    const foreign = await api.request(CreatorData, { id: bobNodes.Creator }, alice.creatorKey);
    expect(foreign.data?.node ?? null).toBeNull();
    expect(JSON.stringify(foreign)).not.toContain("secret-person");
  });

  it("keeps the creators list to admins", async () => {
    const asCreator = await api.request(Creators, {}, alice.creatorKey);
    expect(asCreator.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const asAdmin = await api.request(Creators, {}, adminKey);
    const handles = asAdmin.data?.creators.edges.map((e) => e.node.handle);
    expect(handles).toEqual(expect.arrayContaining([alice.creator.handle, bob.creator.handle]));
  });

  it("shows a creator key only its own audit rows", async () => {
    const rows = await api.request(AuditLog, {}, alice.creatorKey);
    const targets = rows.data?.auditLog.edges.map((e) => e.node.targetId) ?? [];
    expect(targets).toContain(alice.creator.id);
    expect(targets).not.toContain(bob.creator.id);
  });

  it("refuses mutations on another creator's data", async () => {
    const response = await api.request(
      UpdateCreator,
      { id: bobNodes.Creator, input: { name: "Hacked" } },
      alice.creatorKey,
    );
    expect(response.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await db.creator.findUniqueOrThrow({ where: { id: bob.creator.id } })).name).toBe("Bob");
  });

  it("refuses a subscription to another creator's feed, and the platform feed to creator keys", async () => {
    const foreign = await subscribeSse(api.url, AgentDecisions, { creatorId: bobNodes.Creator }, alice.creatorKey);
    const platform = await subscribeSse(api.url, AgentDecisions, {}, alice.creatorKey);
    try {
      for (const feed of [foreign, platform]) {
        const first = await feed.waitFor(() => true, 5000);
        expect(first.errors?.[0].extensions?.code).toBe("FORBIDDEN");
      }
    } finally {
      foreign.close();
      platform.close();
    }
  });
});
