import { beforeAll, expect, it } from "vitest";
import { type MadeCreator, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { useApi } from "./support/api.js";

// Cursors are opaque and scoped to the key's creator: one made by hand from a row id, or issued
// to another creator, is invalid exactly as an unknown one, so it cannot position a page.

const Page = `query($id: ID!, $after: String) {
  node(id: $id) { ... on Creator { consumers(first: 2, after: $after) {
    edges { cursor node { externalId } } pageInfo { endCursor hasNextPage } } } } }`;

type PageAnswer = {
  data?: {
    node: {
      consumers: {
        edges: { cursor: string; node: { externalId: string } }[];
        pageInfo: { endCursor: string; hasNextPage: boolean };
      };
    } | null;
  } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

const api = useApi();
let alice: MadeCreator;
let bob: MadeCreator;

beforeAll(async () => {
  [alice, bob] = [await makeCreator(), await makeCreator()];
  for (const [owner, prefix] of [
    [alice, "a"],
    [bob, "b"],
  ] as const) {
    for (let i = 0; i < 5; i++) {
      await db.consumer.create({
        data: {
          creatorId: owner.creator.id,
          externalId: `${prefix}${i}`,
          context: { create: { creatorId: owner.creator.id } },
        },
      });
    }
  }
});

const page = (owner: typeof alice, key: string, after?: string) =>
  api.request(Page, { id: owner.gid, after }, key) as Promise<PageAnswer>;

/** The cursor as Pothos makes it, before the API signs it: what anyone could build from an id. */
function handMade(uuid: string): string {
  return Buffer.from(`GPC:S:${uuid}`).toString("base64");
}

it("pages through a creator's own rows with the cursors it was given", async () => {
  const first = await page(alice, alice.creatorKey);
  const second = await page(alice, alice.creatorKey, first.data?.node?.consumers.pageInfo.endCursor);
  expect(second.errors).toBeUndefined();
  const seen = [first, second].flatMap((p) => p.data?.node?.consumers.edges.map((e) => e.node.externalId) ?? []);
  expect(new Set(seen).size).toBe(4);
  // An admin's cursors are its own too.
  const admin = await makeAdminKey();
  const adminFirst = await page(alice, admin);
  expect((await page(alice, admin, adminFirst.data?.node?.consumers.pageInfo.endCursor)).errors).toBeUndefined();
});

it("answers a cursor made from another creator's row, or issued to another creator, as an unknown one", async () => {
  const bobsRow = await db.consumer.findFirstOrThrow({ where: { creatorId: bob.creator.id } });
  const aliceCursor = (await page(alice, alice.creatorKey)).data?.node?.consumers.pageInfo.endCursor as string;
  const attempts = {
    fromBobsRow: await page(alice, alice.creatorKey, handMade(bobsRow.id)),
    fromUnknownRow: await page(alice, alice.creatorKey, handMade("00000000-0000-4000-8000-000000000000")),
    aliceCursorUsedByBob: await page(bob, bob.creatorKey, aliceCursor),
    strippedSignature: await page(alice, alice.creatorKey, aliceCursor.slice(0, aliceCursor.lastIndexOf("."))),
  };
  for (const [name, answer] of Object.entries(attempts)) {
    expect(answer.data ?? null, name).toBeNull();
    expect(answer.errors?.[0].extensions?.code, name).toBe("BAD_USER_INPUT");
    expect(answer.errors?.[0].message, name).toMatch(/^Invalid cursor: /);
  }
});

it("opens a cursor given as a variable's default like any other, and keeps cursor names for cursors", async () => {
  const bobsRow = await db.consumer.findFirstOrThrow({ where: { creatorId: bob.creator.id } });
  const withDefault = `query($id: ID!, $a: String = "${handMade(bobsRow.id)}") {
    node(id: $id) { ... on Creator { consumers(first: 2, after: $a) { edges { cursor } } } } }`;
  const defaulted = (await api.request(withDefault, { id: alice.gid }, alice.creatorKey)) as PageAnswer;
  expect(defaulted.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  expect(defaulted.errors?.[0].message).toMatch(/^Invalid cursor: /);
  // Any other value answered under a cursor's name would come back signed: refused.
  const aliased = `query($id: ID!) {
    node(id: $id) { ... on Creator { consumers(first: 1) { pageInfo { endCursor } edges { node { endCursor: externalId } } } } } }`;
  const refused = (await api.request(aliased, { id: alice.gid }, alice.creatorKey)) as PageAnswer;
  expect(refused.data ?? null).toBeNull();
  expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  // Real cursor fields may be aliased.
  const renamed = `query($id: ID!) { node(id: $id) { ... on Creator { consumers(first: 1) { pageInfo { next: endCursor } } } } }`;
  const answer = (await api.request(renamed, { id: alice.gid }, alice.creatorKey)) as {
    data?: { node: { consumers: { pageInfo: { next: string } } } };
  };
  const next = answer.data?.node.consumers.pageInfo.next as string;
  expect((await page(alice, alice.creatorKey, next)).errors).toBeUndefined();
});
