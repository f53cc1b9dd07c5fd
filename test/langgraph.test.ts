import { afterAll, describe, expect, it } from "vitest";
import { answer, apiError, startFakeOpenAI } from "./support/fake-openai.js";

// The LANGGRAPH runtime against our local OpenAI-compatible server, through the whole loop.
const fake = await startFakeOpenAI();
Object.assign(process.env, {
  OPENAI_API_KEY: "sk-test",
  OPENAI_BASE_URL: fake.url,
  OPENAI_MAX_RETRIES: "0",
  OPENAI_TIMEOUT_MS: "2000",
  RATE_LIMIT_MAX: "100000",
});

const { db } = await import("../src/db/client.js");
const { approveAgentTemplates } = await import("../scripts/fixtures.js");
const { useApi } = await import("./support/api.js");
const { creatorWithAgent, IngestEvent } = await import("./support/operations.js");
const { eventually } = await import("./support/processes.js");

const api = useApi({ worker: true });

afterAll(async () => {
  await fake.close();
});

const langGraphCreator = () =>
  creatorWithAgent(api, { runtime: "LANGGRAPH", tunables: { minHoursBetweenMessages: 0 } });

const consumer = {
  externalId: "sam",
  name: "Sam Lee",
  phone: "+14155550100",
  consents: [{ channel: "WHATSAPP" as const, granted: true }],
};

/**
 * The consumer, who wrote on WhatsApp a minute ago: WhatsApp's customer-service window is open, so
 * the agent's message goes as (personalised) free text. Made directly: their message is not the subject.
 */
async function wroteJustNow(creatorId: string) {
  await db.consumer.create({
    data: {
      creatorId,
      externalId: consumer.externalId,
      name: consumer.name,
      phone: consumer.phone,
      context: { create: { creatorId } },
      conversations: { create: { creatorId, channel: "WHATSAPP", lastInboundAt: new Date(Date.now() - 60_000) } },
    },
  });
}

async function firstAction(creatorId: string, template: string) {
  return eventually(
    async () => {
      const actions = await db.action.findMany({ where: { creatorId }, include: { invocation: true } });
      const found = actions.find((a) => (a.payload as { template: string }).template === template);
      if (!found) return undefined;
      // An agent's action always has the invocation that planned it.
      const { invocation } = found;
      if (!invocation) throw new Error(`the ${template} action has no invocation`);
      return { ...found, invocation };
    },
    15_000,
    `${template} action`,
  );
}

describe("the LANGGRAPH runtime", () => {
  it("decides with the playbook, then has the model rewrite the message in the creator's voice", async () => {
    fake.behave(() => answer(JSON.stringify({ message: "Sam! So glad you found Maya. Ask me anything." })));
    const owner = await langGraphCreator();
    await wroteJustNow(owner.creator.id);
    await api.request(IngestEvent, { creatorId: owner.gid, event: { consumer, type: "page_view" } }, owner.ingestKey);
    const action = await firstAction(owner.creator.id, "welcome");
    const payload = action.payload as { message: string; draft: string };
    expect(payload.message).toBe("Sam! So glad you found Maya. Ask me anything.");
    expect(payload.draft).toMatch(/^Hi Sam! Thanks for your interest in /);
    expect(action.invocation.decision).toMatchObject({
      rule: "welcome",
      trace: ["decide: welcome", "plan: 1 action(s)", "personalise #0: personalised by the model"],
    });
    const prompt = fake.requests[0].body.messages[0].content;
    expect(prompt).toContain("Warm, concise, never pushy.");
  });

  it("keeps the drafted message when the model fails, and still completes", async () => {
    fake.behave(() => apiError(500, "model overloaded"));
    const owner = await langGraphCreator();
    await wroteJustNow(owner.creator.id);
    await api.request(IngestEvent, { creatorId: owner.gid, event: { consumer, type: "page_view" } }, owner.ingestKey);
    const action = await firstAction(owner.creator.id, "welcome");
    expect((action.payload as { message: string }).message).toMatch(/^Hi Sam! Thanks for your interest in /);
    expect(action.invocation.status).toBe("COMPLETED");
    expect((action.invocation.decision as { trace: string[] }).trace[2]).toMatch(/kept the draft: .*500/);
  });

  it("keeps the draft when the rewrite drops the service's link", async () => {
    fake.behave(() => answer(JSON.stringify({ message: "You should join the Sprint!" })));
    const owner = await langGraphCreator();
    await wroteJustNow(owner.creator.id);
    for (let i = 0; i < 2; i++) {
      await api.request(
        IngestEvent,
        { creatorId: owner.gid, event: { consumer, type: "service_click", payload: { service: "Leadership Sprint" } } },
        owner.ingestKey,
      );
    }
    const action = await firstAction(owner.creator.id, "follow_up:Leadership Sprint");
    expect((action.payload as { message: string }).message).toContain("https://maya.example/sprint");
    expect((action.invocation.decision as { trace: string[] }).trace).toContain(
      "personalise #0: kept the draft: the rewrite dropped a link",
    );
  });

  it("sends a WhatsApp template message as Meta approved it, without asking the model", async () => {
    fake.behave(() => answer(JSON.stringify({ message: "should not be asked" })));
    const owner = await langGraphCreator();
    await approveAgentTemplates(owner.creator.id);
    // Never wrote on WhatsApp: only a template may start the conversation.
    await api.request(IngestEvent, { creatorId: owner.gid, event: { consumer, type: "page_view" } }, owner.ingestKey);
    const action = await firstAction(owner.creator.id, "welcome");
    expect(action.payload).toMatchObject({
      message: "Hi Sam! Thanks for your interest in Test Creator's work. Reply here any time if you have questions.",
      whatsAppTemplate: {
        name: expect.stringMatching(/_welcome_interest$/),
        language: "en_US",
        parameters: ["Sam", "Test Creator"],
      },
    });
    expect((action.invocation.decision as { trace: string[] }).trace).toEqual([
      "decide: welcome",
      "plan: 1 action(s)",
      "personalise #0: kept: a WhatsApp template message",
    ]);
    expect(fake.requests).toHaveLength(0);
  });

  it("skips without calling the model when the playbook says not to act", async () => {
    fake.behave(() => answer(JSON.stringify({ message: "should not be asked" })));
    const owner = await langGraphCreator();
    await api.request(
      IngestEvent,
      { creatorId: owner.gid, event: { consumer: { externalId: "quiet" }, type: "page_view" } },
      owner.ingestKey,
    );
    const invocation = await eventually(
      async () => (await db.agentInvocation.findFirst({ where: { creatorId: owner.creator.id } })) ?? undefined,
    );
    const settled = await eventually(async () => {
      const row = await db.agentInvocation.findUniqueOrThrow({ where: { id: invocation.id } });
      return row.status === "SKIPPED" ? row : undefined;
    });
    expect(settled.decision).toMatchObject({ rule: "unreachable", trace: ["decide: unreachable"] });
    expect(fake.requests).toHaveLength(0);
  });
});
