import { describe, expect, it } from "vitest";
import { makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { useApi } from "./support/api.js";

// A dashboard finds a consumer by what a person has at hand: an email as typed, a phone in any
// international format, or the id in the creator's own systems.

const api = useApi();

const FIND = `query ($id: ID!, $filter: ConsumerFilter) {
  node(id: $id) { ... on Creator { consumers(first: 10, filter: $filter) { totalCount edges { node { externalId email phone } } } } }
}`;
const INGEST = `mutation ($creatorId: ID!, $event: EventInput!) {
  ingestEvent(creatorId: $creatorId, event: $event) { __typename ... on Error { code message } }
}`;

type Found = { node: { consumers: { totalCount: number; edges: { node: { externalId: string } }[] } } | null };

describe("consumers found by email, phone or external id", () => {
  it("normalise the search as ingestion stores the consumer, and stay within the creator", async () => {
    const [owner, other] = await Promise.all([makeCreator(), makeCreator()]);
    for (const consumer of [
      { externalId: "crm-1", email: "ana@example.org", phone: "+34612345678" },
      { externalId: "crm-2", email: "ben@example.org", phone: "+14155550123" },
    ]) {
      const ingested = await api.request(
        INGEST,
        { creatorId: owner.gid, event: { consumer, type: "page_view" } },
        owner.ingestKey,
      );
      expect(ingested.data).toMatchObject({ ingestEvent: { __typename: "IngestedEvent" } });
    }
    const find = async (filter: Record<string, unknown>, key = owner.creatorKey) =>
      api.request<Found, unknown>(FIND, { id: owner.gid, filter }, key);
    const ids = async (filter: Record<string, unknown>) =>
      (await find(filter)).data?.node?.consumers.edges.map((e) => e.node.externalId);

    expect(await ids({ phone: "+34 612 345 678" })).toEqual(["crm-1"]);
    expect(await ids({ phone: "+1 (415) 555-0123" })).toEqual(["crm-2"]);
    // As WhatsApp names a sender (a wa_id, digits only): the phone's digits, or the wa_id stored
    // from WhatsApp when it differs (a Brazilian number registered before the ninth digit).
    expect(await ids({ phone: "34612345678" })).toEqual(["crm-1"]);
    expect(await ids({ phone: "0034 612 345 678" })).toEqual(["crm-1"]);
    await db.consumer.updateMany({
      where: { creatorId: owner.creator.id, externalId: "crm-2" },
      data: { waId: "5511987654321" },
    });
    expect(await ids({ phone: "5511987654321" })).toEqual(["crm-2"]);
    expect(await ids({ phone: "4915112345678" })).toEqual([]);
    expect(await ids({ email: "  Ana@Example.ORG " })).toEqual(["crm-1"]);
    expect(await ids({ externalId: "crm-2" })).toEqual(["crm-2"]);
    expect(await ids({ email: "nobody@example.org" })).toEqual([]);

    const bad = await find({ phone: "12" });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: "VALIDATION_FAILED" } });
    expect(bad.errors?.[0].message).toMatch(/filter\.phone/);
    expect((await find({ email: "ana@example.org" }, other.creatorKey)).data?.node ?? null).toBeNull();
  });
});
