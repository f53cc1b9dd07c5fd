import { describe, expect, it, vi } from "vitest";

// DATABASE_READ_URL naming a server that is no standby (here the primary's own database, as a
// mistyped URL would): it cannot tell what it has replayed, so read-your-writes and the lag bound
// would mean nothing. It is never read from, and the operator is told once, as an error.
vi.hoisted(() => {
  process.env.DATABASE_READ_URL = process.env.DATABASE_URL;
});

import { makeCreator } from "../scripts/fixtures.js";
import { readReplica } from "../src/db/reads.js";
import { logger } from "../src/logger.js";
import { useApi } from "./support/api.js";
import { eventually } from "./support/processes.js";

const error = vi.spyOn(logger, "error");
const api = useApi();

describe("a DATABASE_READ_URL that is not a standby", () => {
  it("is never read from, and is reported once; queries are answered by the primary", async () => {
    const owner = await makeCreator();
    const told = () =>
      error.mock.calls.filter((call) =>
        call.some((arg) => typeof arg === "string" && arg.startsWith("DATABASE_READ_URL is not a streaming replica")),
      ).length;
    await eventually(async () => (told() > 0 ? true : undefined), 10_000, "the operator told");
    const query = "query ($id: ID!) { node(id: $id) { ... on Creator { handle } } }";
    for (let i = 0; i < 3; i++) {
      const answer = await api.request<{ node: { handle: string } | null }, { id: string }>(
        query,
        { id: owner.gid },
        owner.creatorKey,
      );
      expect(answer.data?.node?.handle).toBe(owner.creator.handle);
    }
    expect(readReplica()?.available).toBe(false);
    // Past a lag check or two: still once.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(told()).toBe(1);
  });
});
