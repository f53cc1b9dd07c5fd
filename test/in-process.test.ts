import { describe, expect, it } from "vitest";
import { makeCreator } from "../scripts/fixtures.js";
import { createYogaServer } from "../src/api/yoga.js";

// The Yoga instance is built without I/O, so a test that needs no port asks it in process.

describe("the GraphQL server in process", () => {
  it("answers a query through yoga.fetch, with the key's viewer, without listening on a port", async () => {
    const { creatorKey, creator } = await makeCreator({ name: "In Process" });
    const server = createYogaServer();
    try {
      const response = await server.yoga.fetch("http://closer.test/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${creatorKey}` },
        body: JSON.stringify({ query: "{ viewer { kind creator { name } } }" }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        data: { viewer: { kind: "CREATOR", creator: { name: creator.name } } },
      });
    } finally {
      await server.close();
    }
  });
});
