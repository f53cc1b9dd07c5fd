import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMERCIAL_CLAIMS, claimsNotIn } from "../src/conversations/grounding.js";
import { db } from "../src/db/client.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";
import { AgentDecisions, creatorWithAgent, IngestEvent } from "./support/operations.js";
import { eventually } from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

// Whatever an agent's runtime writes, a message reaches a consumer only if every amount,
// percentage, discount, code and link in it is the active profile's (here the fixture's: the
// Leadership Sprint at $1,200, https://maya.example/sprint). An external service stands in for
// any runtime that might invent: the check sits after every runtime, in the worker.

const api = useApi({ worker: true });
let remote: Server;
let url: string;
/** What the external agent plans for the next request: messages on the consumer's address. */
let plan: (to: string) => { channel: "EMAIL" | "WHATSAPP"; payload: Record<string, unknown> }[] = () => [];

beforeAll(async () => {
  remote = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const { context } = JSON.parse(body) as { context: { consumer: { email: string } } };
      const sendAt = new Date(Date.now() + 60_000).toISOString();
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          decision: { act: true, reason: "the external agent answers", rule: "external_answer" },
          actions: plan(context.consumer.email).map((a) => ({ ...a, sendAt })),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => remote.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(remote.address() as { port: number }).port}/decide`;
});

afterAll(() => new Promise<void>((resolve) => remote.close(() => resolve())));

const externalAgent = () =>
  creatorWithAgent(api, {
    runtime: "EXTERNAL_HTTP",
    externalHttp: { url, secret: "s".repeat(20) },
    // A reply is decided at once: the burst wait is not the subject here.
    tunables: { replyDelaySeconds: 0 },
  });

/**
 * Sends one event as Closer's clients do: a page view from a page, with the ingest key; a
 * consumer's email from the creator's server (its inbound mail), with the creator key, as an ingest
 * key may not send it.
 */
async function ingest(
  owner: { gid: string; ingestKey: string; creatorKey: string },
  externalId: string,
  type: string,
  payload: Record<string, unknown> = {},
) {
  const consumer = {
    externalId,
    email: `${externalId}@example.com`,
    consents: [{ channel: "EMAIL" as const, granted: true }],
  };
  const response = await api.request(
    IngestEvent,
    { creatorId: owner.gid, event: { consumer, type, payload } },
    type === "page_view" ? owner.ingestKey : owner.creatorKey,
  );
  const ingested = response.data?.ingestEvent;
  if (ingested?.__typename !== "IngestedEvent") throw new Error(`not ingested: ${JSON.stringify(response)}`);
  return ingested.event;
}

const finishedInvocation = (creatorId: string) =>
  eventually(async () => {
    const rows = await db.agentInvocation.findMany({ where: { creatorId, status: { in: ["COMPLETED", "SKIPPED"] } } });
    return rows.length === 1 ? rows[0] : undefined;
  });

describe("the outbound guardrail", () => {
  it("holds back an answer with an invented price, code and link, hands the conversation to the creator with one notice, and publishes why", async () => {
    const owner = await externalAgent();
    const decisions = await subscribeSse(api.url, AgentDecisions, { creatorId: owner.gid }, owner.creatorKey);
    plan = (to) => [
      {
        channel: "EMAIL",
        payload: {
          to,
          subject: "Re: price",
          template: "answer",
          message:
            "Good news: the Sprint is only $999 today, or 50% off with code SPRINT50 at https://pay.evil.example/x",
        },
      },
    ];
    await ingest(owner, "guard-1", "email_replied", {
      channel: "EMAIL",
      text: "How much is the sprint?",
      subject: "price",
    });

    const invocation = await finishedInvocation(owner.creator.id);
    const decision = invocation.decision as { guardrail?: { blocked: { claims: string[] }[] }; handOff?: unknown };
    expect(decision.guardrail?.blocked).toEqual([
      {
        channel: "EMAIL",
        template: "answer",
        claims: expect.arrayContaining([
          "amount USD 999",
          "percentage 50%",
          "code SPRINT50",
          "link https://pay.evil.example/x",
        ]),
      },
    ]);
    expect(invocation.reason).toMatch(/held back by the guardrail, not in the profile: .*SPRINT50/);

    const actions = await db.action.findMany({ where: { creatorId: owner.creator.id } });
    expect(actions).toHaveLength(1);
    const notice = actions[0].payload as { message: string; subject: string; handOffNotice?: boolean };
    expect(notice.message).toMatch(/I've asked .+ to help you personally; you'll hear back here/);
    expect(notice.message).not.toMatch(/999|SPRINT50|evil/);
    expect(notice).toMatchObject({ subject: "Re: price", handOffNotice: true });
    const conversation = await db.conversation.findFirstOrThrow({ where: { creatorId: owner.creator.id } });
    expect(conversation.holder).toBe("PERSON");

    // Ops consoles see it live: the decision streams with what was held back and why.
    const streamed = await decisions.waitFor(
      (m) => (m.data?.agentDecisions?.decision as { guardrail?: unknown } | undefined)?.guardrail !== undefined,
    );
    expect(streamed.data?.agentDecisions?.reason).toMatch(/guardrail/);
    decisions.close();
  });

  it("drops a business-initiated message with an invented discount, without a hand-off", async () => {
    const owner = await externalAgent();
    plan = (to) => [
      {
        channel: "EMAIL",
        payload: { to, subject: "A gift", template: "promo", message: "Take 30% off this week only!" },
      },
    ];
    await ingest(owner, "guard-2", "page_view");

    const invocation = await finishedInvocation(owner.creator.id);
    expect((invocation.decision as { guardrail?: unknown }).guardrail).toEqual({
      blocked: [{ channel: "EMAIL", template: "promo", claims: ["percentage 30%"] }],
    });
    expect((invocation.decision as { handOff?: unknown }).handOff).toBeUndefined();
    expect(await db.action.count({ where: { creatorId: owner.creator.id } })).toBe(0);
    expect(await db.conversation.count({ where: { creatorId: owner.creator.id, holder: "PERSON" } })).toBe(0);
  });

  it("lets through a message whose price and link are the profile's", async () => {
    const owner = await externalAgent();
    const message = "The Leadership Sprint is $1,200 for twelve weeks. Join here: https://maya.example/sprint";
    plan = (to) => [{ channel: "EMAIL", payload: { to, subject: "The Sprint", template: "pitch", message } }];
    const event = await ingest(owner, "guard-3", "page_view");

    const invocation = await finishedInvocation(owner.creator.id);
    expect((invocation.decision as { guardrail?: unknown }).guardrail).toBeUndefined();
    const [action] = await db.action.findMany({ where: { creatorId: owner.creator.id } });
    expect(action).toMatchObject({
      channel: "EMAIL",
      status: "PLANNED",
      payload: expect.objectContaining({ message }),
    });
    expect(fromGlobalId(event.id).id).toBe(invocation.eventId);
  });

  it("never reuses the subject of a message it held back, and checks a subject like a text", async () => {
    const owner = await externalAgent();
    plan = (to) => [
      {
        channel: "EMAIL",
        payload: {
          to,
          subject: "Use code EVIL50 at https://pay.evil.example for 50% off",
          template: "answer",
          message: "Thanks for asking.",
        },
      },
    ];
    await ingest(owner, "guard-4", "email_replied", { channel: "EMAIL", text: "Any news?", subject: "Question" });

    await finishedInvocation(owner.creator.id);
    const [notice] = await db.action.findMany({ where: { creatorId: owner.creator.id } });
    expect(notice.payload).toMatchObject({ subject: "Re: Question", handOffNotice: true });
    expect(JSON.stringify(notice.payload)).not.toMatch(/EVIL50|evil|50%/);
  });

  it('takes the consumer\'s own subject quoted back ("Re: ...") as their words, not a claim', async () => {
    const owner = await externalAgent();
    const subject = "Is there a 50% student discount?";
    plan = (to) => [
      {
        channel: "EMAIL",
        payload: { to, subject: `Re: ${subject}`, template: "answer", message: "The Leadership Sprint is $1,200." },
      },
    ];
    await ingest(owner, "guard-5", "email_replied", { channel: "EMAIL", text: "Please tell me.", subject });

    const invocation = await finishedInvocation(owner.creator.id);
    expect((invocation.decision as { guardrail?: unknown }).guardrail).toBeUndefined();
    const [answer] = await db.action.findMany({ where: { creatorId: owner.creator.id } });
    expect(answer.payload).toMatchObject({ subject: `Re: ${subject}`, message: "The Leadership Sprint is $1,200." });
  });
});

describe("what the guardrail reads as a claim", () => {
  const profile =
    "Maya Rao. Leadership Sprint: a 12-week program for new managers, $1,200. https://maya.example/sprint " +
    "Each 90-minute session is live. Write clean code that works.";
  const invented: [string, string][] = [
    ["Use code friends at checkout", "code friends"],
    ["The code is FRIENDS", "code FRIENDS"],
    ["Enter MAYAVIP at checkout", "code MAYAVIP"],
    ["Only CAD 99 this week", "amount CAD 99"],
    ["9,999 yen for you", "amount JPY 9999"],
    ["It's only 999 for you", "amount price 999"],
    ["just 99/month", "amount price 99"],
    ["ninety-nine dollars and it's yours", "amount ninety-nine dollars"],
    ["twenty percent off today", "percentage twenty percent"],
    ["20 pct off", "percentage 20%"],
    ["₹३९९ only", "amount INR 399"],
    ["٥٠٪ off", "percentage 50%"],
    ["Pay at PAY.EVIL.COM", "address PAY.EVIL.COM"],
    ["pay dot evil dot com", "address pay.evil.com"],
    ["pay[.]evil[.]com", "address pay.evil.com"],
    ["$\u200B999 today", "amount USD 999"],
    ["https://maya.example/sprint?ref=evil", "link https://maya.example/sprint?ref=evil"],
    ["Der Sprint kostet 1.200 €.", "amount EUR 1200"],
  ];
  it.each(invented)("finds the invented claim in %j", (text, claim) => {
    expect(claimsNotIn(text, profile, COMMERCIAL_CLAIMS)).toContain(claim);
  });

  const honest = [
    "The Leadership Sprint is $1,200: https://maya.example/sprint",
    "Join here: maya.example/sprint",
    "www.maya.example/sprint has the details.",
    "A 12-week program; each 90-minute session is live.",
    "Write clean code that works.",
    "Hi Ana! Thanks for looking at the Leadership Sprint.",
  ];
  it.each(honest)("finds nothing to hold back in %j", (text) => {
    expect(claimsNotIn(text, profile, COMMERCIAL_CLAIMS)).toEqual([]);
  });
});
