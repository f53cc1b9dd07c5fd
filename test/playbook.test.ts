import { describe, expect, it } from "vitest";
import { coachingProfile } from "../scripts/fixtures.js";
import type { AgentContext, AgentEvent } from "../src/agents/agent.js";
import { agentConfigSchema } from "../src/agents/agent-config.js";
import { GenericSalesAgent } from "../src/agents/generic-sales-agent.js";
import type { ConsumerContext } from "../src/generated/prisma/client.js";
import type { Channel } from "../src/generated/prisma/enums.js";

// The generic sales agent's playbook as a table: context + event -> decision and actions.
const NOW = new Date("2026-11-25T12:00:00Z");
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

const agent = new GenericSalesAgent(
  agentConfigSchema.parse({
    profile: {
      ...coachingProfile,
      profileId: "00000000-0000-4000-8000-000000000001",
      version: 3,
      creatorName: "Maya Rao",
    },
  }),
);

type Scenario = {
  name: string;
  context?: Partial<ConsumerContext>;
  consents?: Channel[];
  contact?: { email?: string | null; phone?: string | null };
  previous?: (Pick<AgentContext["previousActions"][number], "channel" | "status" | "sendAt" | "template"> & {
    outcomeUnknown?: boolean;
  })[];
  /** Pauses in the consumer's activity (AgentContext.activityGaps). */
  gaps?: AgentContext["activityGaps"];
  visits?: AgentContext["serviceVisits"];
  /**
   * When the consumer last wrote on WhatsApp (null: never). By default an hour ago: the window is
   * open, so free text may go and the scenario is about the playbook alone.
   */
  wroteOnWhatsApp?: Date | null;
  /** The creator's approved WhatsApp templates (none by default). */
  templates?: AgentContext["whatsAppTemplates"];
  event: { type: string; payload?: Record<string, unknown> };
  expected: {
    act: boolean;
    rule: string;
    channel?: Channel;
    template?: string;
    text?: RegExp;
    priority?: number;
    inMinutes?: number;
    /** The WhatsApp template the message goes as (payload.whatsAppTemplate). */
    whatsAppTemplate?: { name: string; language: string; parameters: string[] };
    /** Said by the decision's notes (how the message was fitted to WhatsApp's rules). */
    note?: RegExp;
    /** The decision's reason, as a person reads it. */
    reason?: RegExp;
  };
};

const WELCOME_TEMPLATE = {
  name: "welcome_interest",
  language: "en_US",
  purpose: "WELCOME" as const,
  body: "Hi {{1}}! Thanks for your interest in {{2}}'s work. Reply here any time.",
  variables: ["CONSUMER_NAME" as const, "CREATOR_NAME" as const],
};

const scenarios: Scenario[] = [
  {
    name: "welcomes a newly interested consumer on the preferred channel, after a short delay",
    context: { stage: "INTERESTED", pageViews: 1 },
    event: { type: "page_view", payload: { url: "/" } },
    expected: {
      act: true,
      rule: "welcome",
      channel: "WHATSAPP",
      template: "welcome",
      text: /^Hi Sam! Thanks for your interest in Maya Rao's work\. /,
      priority: 0.8,
      inMinutes: 5,
    },
  },
  {
    name: "uses email when only email has consent",
    context: { stage: "INTERESTED" },
    consents: ["EMAIL"],
    event: { type: "page_view" },
    expected: { act: true, rule: "welcome", channel: "EMAIL", template: "welcome" },
  },
  {
    name: "does not welcome twice",
    context: { stage: "ENGAGED" },
    previous: [{ channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(48), template: "welcome" }],
    event: { type: "page_view" },
    expected: { act: false, rule: "nothing_to_do" },
  },
  {
    name: "does not welcome again when the welcome's send was cut off mid-call (it may have arrived)",
    context: { stage: "ENGAGED" },
    previous: [{ channel: "EMAIL", status: "FAILED", sendAt: hoursAgo(48), template: "welcome", outcomeUnknown: true }],
    event: { type: "page_view" },
    expected: { act: false, rule: "nothing_to_do" },
  },
  {
    name: "welcomes again when the provider refused the welcome (it never arrived)",
    context: { stage: "ENGAGED" },
    previous: [{ channel: "WHATSAPP", status: "FAILED", sendAt: hoursAgo(2), template: "welcome" }],
    event: { type: "page_view" },
    expected: { act: true, rule: "welcome", template: "welcome" },
  },
  {
    name: "follows up repeated views of a service with that service's pitch and price",
    context: { stage: "ENGAGED", counters: { "service:leadership sprint": 2 } },
    previous: [{ channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(30), template: "welcome" }],
    event: { type: "service_click", payload: { service: "Leadership Sprint" } },
    expected: {
      act: true,
      rule: "service_follow_up",
      template: "follow_up:Leadership Sprint",
      text: /from surviving to leading.*\$1,200/,
      priority: 1,
    },
  },
  {
    name: "waits for a second view before following up",
    context: { stage: "ENGAGED", counters: { "service:leadership sprint": 1 } },
    previous: [{ channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(30), template: "welcome" }],
    event: { type: "service_click", payload: { service: "Leadership Sprint" } },
    expected: { act: false, rule: "nothing_to_do" },
  },
  {
    name: "answers a price objection with the profile's response, at once",
    context: { stage: "ENGAGED" },
    previous: [{ channel: "WHATSAPP", status: "PLANNED", sendAt: hoursAgo(1), template: "welcome" }],
    event: { type: "objection", payload: { objection: "price" } },
    expected: {
      act: true,
      rule: "objection",
      text: /price includes twelve live sessions/,
      priority: 1.5,
      inMinutes: 0,
    },
  },
  {
    name: "reads an objection in a WhatsApp reply",
    context: { stage: "ENGAGED" },
    event: { type: "whatsapp_replied", payload: { text: "Sounds great but I really don't have the time right now" } },
    expected: { act: true, rule: "objection", text: /90 minutes/ },
  },
  {
    name: "hands an invoice request to the creator, saying so in plain English",
    context: { stage: "ENGAGED" },
    event: { type: "whatsapp_replied", payload: { text: "Can I get an invoice for my company?" } },
    expected: {
      act: true,
      rule: "hand_off:support:invoice",
      reason: /^An invoice request: for the creator$/,
      text: /passed your invoice request to Maya Rao/,
    },
  },
  {
    name: "hands an objection the profile cannot answer to the creator, telling the consumer",
    context: { stage: "ENGAGED" },
    event: { type: "objection", payload: { objection: "my cat disapproves" } },
    expected: { act: true, rule: "hand_off:unknown", text: /passed your message to Maya Rao/ },
  },
  {
    name: "welcomes with the service the consumer clicked, its price as people write it",
    context: { stage: "ENGAGED", counters: { "service:1:1 coaching": 1 } },
    event: { type: "service_click", payload: { service: "1:1 Coaching" } },
    expected: { act: true, rule: "welcome", text: /^Hi Sam! Thanks for looking at 1:1 Coaching\. .*\$300\b(?!\.00)/ },
  },
  {
    name: "follows up again in a new cycle: back after 62 quiet days",
    context: { stage: "ENGAGED", counters: { "service:leadership sprint": 4 } },
    previous: [
      { channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(24 * 70), template: "follow_up:Leadership Sprint" },
      { channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(24 * 75), template: "welcome" },
    ],
    gaps: [{ from: hoursAgo(24 * 62 + 1), to: hoursAgo(1) }],
    visits: [
      { service: "leadership sprint", at: NOW },
      { service: "leadership sprint", at: hoursAgo(1) },
      { service: "leadership sprint", at: hoursAgo(24 * 63) },
    ],
    event: { type: "page_view", payload: { service: "Leadership Sprint" } },
    expected: { act: true, rule: "service_follow_up", template: "follow_up:Leadership Sprint" },
  },
  {
    name: "waits for a second view in the new cycle before following up again",
    context: { stage: "ENGAGED", counters: { "service:leadership sprint": 3 } },
    previous: [
      { channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(24 * 70), template: "follow_up:Leadership Sprint" },
      { channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(24 * 75), template: "welcome" },
    ],
    gaps: [{ from: hoursAgo(24 * 62), to: NOW }],
    visits: [
      { service: "leadership sprint", at: NOW },
      { service: "leadership sprint", at: hoursAgo(24 * 62) },
    ],
    event: { type: "page_view", payload: { service: "Leadership Sprint" } },
    expected: { act: false, rule: "nothing_to_do" },
  },
  {
    name: "does not follow up twice in one cycle",
    context: { stage: "ENGAGED", counters: { "service:leadership sprint": 4 } },
    previous: [
      { channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(24 * 20), template: "follow_up:Leadership Sprint" },
      { channel: "WHATSAPP", status: "SENT", sendAt: hoursAgo(24 * 40), template: "welcome" },
    ],
    gaps: [{ from: hoursAgo(24 * 12), to: hoursAgo(1) }],
    event: { type: "page_view", payload: { service: "Leadership Sprint" } },
    expected: { act: false, rule: "nothing_to_do" },
  },
  {
    name: "spaces messages: nothing within the minimum gap after the last one",
    context: { stage: "ENGAGED", counters: { "service:leadership sprint": 3 }, lastMessageAt: hoursAgo(2) },
    event: { type: "service_click", payload: { service: "Leadership Sprint" } },
    expected: {
      act: false,
      rule: "spacing",
      reason: /^Last message 2 hours ago; at least 24 h between messages$/,
    },
  },
  {
    name: "counts a planned but unsent message for spacing",
    context: { stage: "INTERESTED" },
    previous: [{ channel: "EMAIL", status: "PLANNED", sendAt: hoursAgo(-1), template: "follow_up:1:1 Coaching" }],
    event: { type: "page_view" },
    // Not "-1.0 h ago": the message is ahead.
    expected: {
      act: false,
      rule: "spacing",
      reason: /^A message is already planned, due in 1 hour; at least 24 h between messages$/,
    },
  },
  {
    name: "thanks a consumer who enrolled, with top priority",
    context: { stage: "CONVERTED", enrolled: true },
    event: { type: "enrolled", payload: { service: "Leadership Sprint" } },
    expected: { act: true, rule: "thank_you", text: /Welcome aboard, Sam/, priority: 2 },
  },
  {
    name: "stops selling after conversion",
    context: { stage: "CONVERTED", enrolled: true, counters: { "service:1:1 coaching": 5 } },
    event: { type: "service_click", payload: { service: "1:1 Coaching" } },
    expected: { act: false, rule: "converted" },
  },
  {
    name: "stops after an opt-out",
    context: { stage: "UNSUBSCRIBED" },
    event: { type: "page_view" },
    expected: { act: false, rule: "opted_out" },
  },
  {
    name: "does nothing without consent on any channel",
    context: { stage: "INTERESTED" },
    consents: [],
    event: { type: "page_view" },
    expected: { act: false, rule: "unreachable" },
  },
  {
    name: "welcomes with the approved template when the consumer never wrote on WhatsApp",
    context: { stage: "INTERESTED", pageViews: 1 },
    wroteOnWhatsApp: null,
    templates: [WELCOME_TEMPLATE],
    event: { type: "page_view", payload: { url: "/" } },
    expected: {
      act: true,
      rule: "welcome",
      channel: "WHATSAPP",
      template: "welcome",
      text: /^Hi Sam! Thanks for your interest in Maya Rao's work\. Reply here any time\.$/,
      whatsAppTemplate: { name: "welcome_interest", language: "en_US", parameters: ["Sam", "Maya Rao"] },
      note: /outside the WhatsApp customer-service window.*sent as the approved template "welcome_interest" \(en_US\)/,
    },
  },
  {
    name: "moves the welcome to email when the window closed and no template fits",
    context: { stage: "INTERESTED", pageViews: 1 },
    wroteOnWhatsApp: hoursAgo(30),
    event: { type: "page_view", payload: { url: "/" } },
    expected: {
      act: true,
      rule: "welcome",
      channel: "EMAIL",
      template: "welcome",
      text: /^Hi Sam! Thanks for your interest in Maya Rao's work\. /,
      note: /no approved WELCOME template: sent on EMAIL instead/,
    },
  },
  {
    name: "sends no welcome on WhatsApp outside the window without a template or another channel",
    context: { stage: "INTERESTED", pageViews: 1 },
    consents: ["WHATSAPP"],
    wroteOnWhatsApp: null,
    event: { type: "page_view", payload: { url: "/" } },
    expected: { act: false, rule: "welcome", note: /not sent: outside the WhatsApp customer-service window/ },
  },
  {
    name: "answers an objection raised on the site by email when the consumer's WhatsApp window closed days ago",
    context: { stage: "ENGAGED" },
    wroteOnWhatsApp: hoursAgo(72),
    event: { type: "objection", payload: { objection: "price" } },
    expected: {
      act: true,
      rule: "objection",
      channel: "EMAIL",
      text: /price includes twelve live sessions/,
      note: /sent on EMAIL instead/,
    },
  },
  {
    name: "does nothing with consent but no contact details for that channel",
    context: { stage: "INTERESTED" },
    consents: ["WHATSAPP"],
    contact: { phone: null },
    event: { type: "page_view" },
    expected: { act: false, rule: "unreachable" },
  },
];

function contextFor(s: Scenario): AgentContext {
  return {
    now: NOW,
    creator: { id: "c", name: "Maya Rao", timezone: "UTC" },
    consumer: {
      id: "p",
      name: "Sam Lee",
      email: s.contact?.email === undefined ? "sam@example.com" : s.contact.email,
      phone: s.contact?.phone === undefined ? "+14155550100" : s.contact.phone,
      timezone: null,
      consentedChannels: s.consents ?? ["WHATSAPP", "EMAIL"],
    },
    context: {
      creatorId: "c",
      consumerId: "p",
      stage: "NEW",
      lastSeenAt: NOW,
      eventCount: 1,
      pageViews: 0,
      serviceClicks: 0,
      emailsSent: 0,
      emailsOpened: 0,
      whatsappSent: 0,
      whatsappReplied: 0,
      objections: 0,
      enrolled: false,
      counters: {},
      attributes: {},
      lastMessageAt: null,
      createdAt: NOW,
      updatedAt: NOW,
      ...s.context,
    },
    previousActions: (s.previous ?? []).map((a, i) => ({
      outcomeUnknown: false,
      ...a,
      id: `a${i}`,
      byAgent: true,
      inReplyTo: null,
    })),
    conversations:
      s.wroteOnWhatsApp === null
        ? []
        : [{ channel: "WHATSAPP", holder: "AGENT", lastInboundAt: s.wroteOnWhatsApp ?? hoursAgo(1), messages: [] }],
    activityGaps: s.gaps ?? [],
    serviceVisits: s.visits ?? [],
    whatsAppTemplates: s.templates ?? [],
  };
}

describe("the generic sales agent's playbook", () => {
  it.each(scenarios)("$name", async (scenario) => {
    const ctx = contextFor(scenario);
    const event: AgentEvent = {
      id: "e",
      type: scenario.event.type,
      payload: scenario.event.payload ?? {},
      occurredAt: NOW,
    };
    // As a runtime runs it: decide, plan, settle (what WhatsApp would refuse is left out).
    const decided = await agent.shouldAct(ctx, event);
    const { decision, actions } = agent.settle(
      decided,
      decided.act ? await agent.planActions(ctx, event, decided) : [],
    );
    expect(decision).toMatchObject({ act: scenario.expected.act, rule: scenario.expected.rule });
    expect(decision.reason.length).toBeGreaterThan(10);
    if (scenario.expected.note) expect(decision.notes?.join("\n")).toMatch(scenario.expected.note);
    if (scenario.expected.reason) expect(decision.reason).toMatch(scenario.expected.reason);
    expect(actions).toHaveLength(scenario.expected.act ? 1 : 0);
    if (!scenario.expected.act) return;
    const [action] = actions;
    const payload = action.payload as { to: string; message: string; template: string };
    if (scenario.expected.channel) expect(action.channel).toBe(scenario.expected.channel);
    if (scenario.expected.template) expect(payload.template).toBe(scenario.expected.template);
    if (scenario.expected.text) expect(payload.message).toMatch(scenario.expected.text);
    if (scenario.expected.priority !== undefined) expect(action.priority).toBe(scenario.expected.priority);
    expect(action.payload.whatsAppTemplate).toEqual(scenario.expected.whatsAppTemplate);
    if (scenario.expected.inMinutes !== undefined) {
      expect((new Date(action.sendAt as Date).getTime() - NOW.getTime()) / 60_000).toBe(scenario.expected.inMinutes);
    }
    expect(payload.to).toBe(action.channel === "EMAIL" ? "sam@example.com" : "+14155550100");
  });

  it("offers the other consented channel as a fallback", async () => {
    const ctx = contextFor({
      name: "",
      context: { stage: "INTERESTED" },
      event: { type: "page_view" },
      expected: { act: true, rule: "welcome" },
    });
    const event: AgentEvent = { id: "e", type: "page_view", payload: {}, occurredAt: NOW };
    const [action] = await agent.planActions(ctx, event, await agent.shouldAct(ctx, event));
    expect(action.payload.fallback).toEqual({
      channel: "EMAIL",
      to: "sam@example.com",
      subject: "Welcome from Maya Rao",
    });
  });

  it("skips everything until the creator has a profile", async () => {
    const bare = new GenericSalesAgent(agentConfigSchema.parse({}));
    const ctx = contextFor({
      name: "",
      context: { stage: "INTERESTED" },
      event: { type: "page_view" },
      expected: { act: false, rule: "" },
    });
    expect(await bare.shouldAct(ctx, { id: "e", type: "page_view", payload: {}, occurredAt: NOW })).toMatchObject({
      act: false,
      rule: "no_profile",
    });
  });
});
