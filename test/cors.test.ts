import { beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";

vi.hoisted(() => {
  process.env.CORS_ALLOWED_ORIGINS = "https://dash.example";
});

import { type MadeCreator, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { useApi } from "./support/api.js";

// Landing pages anywhere send events with their ingest key; creator and admin keys are accepted
// from browsers only on the configured origins (or the API's own page, GraphiQL).

const api = useApi();
let owner: MadeCreator;

beforeAll(async () => {
  owner = await makeCreator({ name: "Cors Creator" });
});

const rename = (name: string) =>
  JSON.stringify({
    query: "mutation($id: ID!, $name: String!) { updateCreator(id: $id, input: { name: $name }) { __typename } }",
    variables: { id: owner.gid, name },
  });

async function post(body: string, key: string, origin?: string) {
  const response = await fetch(api.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${key}`,
      ...(origin ? { origin } : {}),
    },
    body,
  });
  return {
    response,
    body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
  };
}

describe("browsers", () => {
  it("let any page preflight and send events with its ingest key", async () => {
    const preflight = await fetch(api.url, {
      method: "OPTIONS",
      headers: {
        origin: "https://landing.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://landing.example");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(preflight.headers.get("access-control-allow-credentials")).not.toBe("true");

    const ingested = await post(
      JSON.stringify({
        query: "mutation($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) { __typename } }",
        variables: { c: owner.gid, e: { consumer: { externalId: "visitor" }, type: "page_view" } },
      }),
      owner.ingestKey,
      "https://landing.example",
    );
    expect(ingested.body).toEqual({ data: { ingestEvent: { __typename: "IngestedEvent" } } });
    expect(ingested.response.headers.get("access-control-allow-origin")).toBe("https://landing.example");
  });

  it("refuse a creator key from an unlisted page, and write nothing", async () => {
    const refused = await post(rename("Hijacked"), owner.creatorKey, "https://evil.example");
    expect(refused.body.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await db.creator.findUniqueOrThrow({ where: { id: owner.creator.id } })).name).toBe("Cors Creator");
  });

  it("accept a creator key from a listed origin, from the API's own page, and from servers (no Origin)", async () => {
    const ownOrigin = new URL(api.url).origin;
    for (const origin of ["https://dash.example", ownOrigin, undefined]) {
      const answer = await post(rename(`Renamed from ${origin ?? "a server"}`), owner.creatorKey, origin);
      expect(answer.body, origin).toEqual({ data: { updateCreator: { __typename: "Creator" } } });
    }
  });

  it("refuse a WebSocket opened with a creator key by an unlisted page (4403)", async () => {
    const socket = new WebSocket(api.url.replace("http", "ws"), "graphql-transport-ws", {
      origin: "https://evil.example",
    });
    const closed = new Promise<[number, string]>((resolve) =>
      socket.on("close", (code, reason) => resolve([code, String(reason)])),
    );
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${owner.creatorKey}` } }));
    const [code, reason] = await closed;
    expect(code).toBe(4403);
    expect(reason).toMatch(/CORS_ALLOWED_ORIGINS/);
  });
});
