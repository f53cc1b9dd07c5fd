import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "../src/db/client.js";
import { useApi } from "./support/api.js";
import { creatorWithAgent, ingestPageView } from "./support/operations.js";
import { eventually } from "./support/processes.js";

// An agent's plan is checked against each channel's payload contract when it is planned: a
// message that breaks it is stored FAILED at once with the reason, never PLANNED, never sent.

const api = useApi({ worker: true });
let remote: Server;
let url: string;

beforeAll(async () => {
  // An external agent that plans a valid webhook and an email to an address that is none.
  remote = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const sendAt = new Date(Date.now() + 3_600_000).toISOString();
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          decision: { act: true, reason: "follow up" },
          actions: [
            { channel: "WEBHOOK", payload: { url: "https://crm.example.com/hook", event: "lead", data: {} }, sendAt },
            { channel: "EMAIL", payload: { to: "not-an-address", message: "Hi", template: "t" }, sendAt },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => remote.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(remote.address() as { port: number }).port}/decide`;
});

afterAll(() => new Promise<void>((resolve) => remote.close(() => resolve())));

describe("a planned message", () => {
  it("that breaks its channel's contract is FAILED with the reason when planned; the valid one is PLANNED", async () => {
    const owner = await creatorWithAgent(api, {
      runtime: "EXTERNAL_HTTP",
      externalHttp: { url, secret: "s".repeat(20) },
    });
    await ingestPageView(api, owner, "contract-1");

    const actions = await eventually(async () => {
      const rows = await db.action.findMany({ where: { creatorId: owner.creator.id }, orderBy: { sequence: "asc" } });
      return rows.length === 2 ? rows : undefined;
    });
    expect(actions.map((a) => [a.channel, a.status])).toEqual([
      ["WEBHOOK", "PLANNED"],
      ["EMAIL", "FAILED"],
    ]);
    expect(actions[1].statusReason).toMatch(/^invalid EMAIL payload: to: /);
    expect(actions[1].attempts).toBe(0);
  });
});
