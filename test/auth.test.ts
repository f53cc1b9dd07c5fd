import { beforeAll, describe, expect, it } from "vitest";
import { type MadeCreator, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import type { CreateApiKeyInput } from "./generated/graphql.js";
import { useApi } from "./support/api.js";
import { RevokeApiKey } from "./support/operations.js";
import { CHILD_PROCESS_TEST_MS, eventually, freePort, startProcess, waitForHttp } from "./support/processes.js";

const Viewer = graphql(`
  query Viewer {
    viewer {
      kind
      creator {
        handle
      }
    }
  }
`);

const CreateApiKey = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      __typename
      ... on CreatedApiKey {
        secret
        apiKey {
          id
          kind
          prefix
        }
      }
      ...ErrorFields
    }
  }
`);

const CreatorByHandle = graphql(`
  query CreatorByHandle($handle: String!) {
    creatorByHandle(handle: $handle) {
      id
      name
    }
  }
`);

const api = useApi();
let adminKey: string;
let alice: MadeCreator;

beforeAll(async () => {
  adminKey = await makeAdminKey();
  alice = await makeCreator({ name: "Alice" });
});

describe("authentication", () => {
  it("answers a request without a key with a null viewer, and a protected field with UNAUTHENTICATED", async () => {
    const anonymous = await api.request(Viewer, {});
    expect(anonymous.data?.viewer).toBeNull();

    const protectedField = await api.request(CreatorByHandle, { handle: alice.creator.handle });
    expect(protectedField.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(protectedField.data?.creatorByHandle ?? null).toBeNull();
  });

  it.each([
    ["a header without Bearer", "Token abc"],
    ["a malformed key", "Bearer not-a-key"],
    ["an unknown key", `Bearer clsr_crt_${"A".repeat(43)}`],
  ])("rejects %s with 401 UNAUTHENTICATED", async (_case, header) => {
    const response = await api.request(Viewer, {}, null, { authorization: header });
    expect(response.status).toBe(401);
    expect(response.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("identifies each kind of key", async () => {
    const asAdmin = await api.request(Viewer, {}, adminKey);
    expect(asAdmin.data?.viewer).toEqual({ kind: "ADMIN", creator: null });
    const asCreator = await api.request(Viewer, {}, alice.creatorKey);
    expect(asCreator.data?.viewer).toEqual({ kind: "CREATOR", creator: { handle: alice.creator.handle } });
  });

  it("shows a new key's secret once, stores only its hash, and refuses it once revoked", async () => {
    const created = await api.request(
      CreateApiKey,
      { input: { kind: "CREATOR", creatorId: alice.gid, name: "dashboard" } },
      adminKey,
    );
    const result = created.data?.createApiKey;
    if (result?.__typename !== "CreatedApiKey") throw new Error(`unexpected ${JSON.stringify(created)}`);
    expect(result.secret).toMatch(/^clsr_crt_/);
    expect(result.secret.startsWith(result.apiKey.prefix)).toBe(true);

    const stored = await db.apiKey.findMany({ where: { creatorId: alice.creator.id } });
    expect(JSON.stringify(stored)).not.toContain(result.secret);

    expect((await api.request(Viewer, {}, result.secret)).data?.viewer?.kind).toBe("CREATOR");
    const revoked = await api.request(RevokeApiKey, { id: result.apiKey.id }, alice.creatorKey);
    expect(revoked.data?.revokeApiKey).toMatchObject({ __typename: "ApiKey", revokedAt: expect.any(String) });

    const after = await api.request(Viewer, {}, result.secret);
    expect(after.status).toBe(401);
    expect(after.errors?.[0].message).toMatch(/revoked/);
  });

  it(
    "refuses a revoked key at once on every API instance, though each caches verified keys",
    async () => {
      const created = await api.request(
        CreateApiKey,
        { input: { kind: "CREATOR", creatorId: alice.gid, name: "two instances" } },
        adminKey,
      );
      const { secret, apiKey } = created.data!.createApiKey as { secret: string; apiKey: { id: string } };
      const port = await freePort();
      const other = startProcess("src/server.ts", {
        PORT: String(port),
        HOST: "127.0.0.1",
        API_KEY_CACHE_MS: "300000",
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`);
        const viewerThere = () =>
          fetch(`http://127.0.0.1:${port}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
            body: JSON.stringify({ query: "{ viewer { kind } }" }),
          });
        expect((await viewerThere()).status).toBe(200); // now cached over there for five minutes
        await api.request(RevokeApiKey, { id: apiKey.id }, adminKey);
        const refused = await eventually(
          async () => ((await viewerThere()).status === 401 ? true : undefined),
          3_000,
          "revocation seen by the other instance",
        );
        expect(refused).toBe(true);
      } finally {
        other.kill("SIGTERM");
      }
    },
    CHILD_PROCESS_TEST_MS,
  );

  it("keeps ingest keys to ingestion: they cannot read the creator's data", async () => {
    const response = await api.request(CreatorByHandle, { handle: alice.creator.handle }, alice.ingestKey);
    expect(response.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(response.data?.creatorByHandle ?? null).toBeNull();
  });

  it("lets only admin keys mint admin keys, and creator keys mint keys for their own creator only", async () => {
    const bob = await makeCreator({ name: "Bob" });
    const create = (input: CreateApiKeyInput, key: string) => api.request(CreateApiKey, { input }, key);
    const adminByCreator = await create({ kind: "ADMIN", name: "escalation" }, alice.creatorKey);
    expect(adminByCreator.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const forOther = await create({ kind: "INGEST", creatorId: bob.gid, name: "x" }, alice.creatorKey);
    expect(forOther.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const byIngest = await create({ kind: "INGEST", creatorId: alice.gid, name: "x" }, alice.ingestKey);
    expect(byIngest.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const own = await create({ kind: "INGEST", creatorId: alice.gid, name: "site" }, alice.creatorKey);
    expect(own.data?.createApiKey?.__typename).toBe("CreatedApiKey");
  });

  it("answers an admin key without a creator, or a creator key without one, with a typed validation error", async () => {
    const response = await api.request(CreateApiKey, { input: { kind: "CREATOR", name: "orphan" } }, adminKey);
    expect(response.data?.createApiKey).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    expect(await db.apiKey.count({ where: { name: "orphan" } })).toBe(0);
  });

  it("records who created and revoked keys in the audit log", async () => {
    const rows = await db.auditLog.findMany({
      where: { creatorId: alice.creator.id, operation: { startsWith: "apiKey." } },
    });
    const operations = rows.map((r) => `${r.operation} by ${r.actorKind}`);
    expect(operations).toEqual(expect.arrayContaining(["apiKey.create by ADMIN", "apiKey.revoke by CREATOR"]));
  });
});
