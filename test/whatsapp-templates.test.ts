import { randomInt, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeActiveProfile, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { runAgents } from "../src/agents/agent-run.js";
import { db } from "../src/db/client.js";
import { DeliveryScheduler } from "../src/delivery/scheduler.js";
import { fillTemplateBody } from "../src/whatsapp/template-rules.js";
import { graphql } from "./generated/gql.js";
import type { DeployAgentInput, RegisterWhatsAppTemplateInput } from "./generated/graphql.js";
import { useApi } from "./support/api.js";
import {
  type HttpSink,
  type SmtpSink,
  startHttpSink,
  startSmtpSink,
  testClock,
  testProviders,
  UNLIMITED_RATES,
  WHATSAPP_PHONE_NUMBER_ID,
  whatsAppAccepted,
} from "./support/delivery-fixtures.js";
import { fromGlobalId, toGlobalId } from "./support/ids.js";
import { DeployAgent } from "./support/operations.js";

// WhatsApp as the platform behaves: free-form messages only within the customer-service window
// (24 hours from the consumer's last message), approved template messages outside it. Creators
// register templates, an operator records Meta's review, and the agent sends an approved template
// for a message it starts outside the window, else email, else nothing and says why. The send
// rules check the window and the template's approval again when the message goes out. The agent
// runs and the scheduler sends on the test's clock; the WhatsApp sink records each request.

const api = useApi();
const HOUR = 3_600_000;
const MINUTE = 60_000;

const RegisterTemplate = graphql(`
  mutation RegisterWhatsAppTemplate($creatorId: ID!, $input: RegisterWhatsAppTemplateInput!) {
    registerWhatsAppTemplate(creatorId: $creatorId, input: $input) {
      __typename
      ... on WhatsAppTemplate {
        id
        name
        language
        category
        purpose
        body
        variables
        status
        statusReason
      }
      ...ErrorFields
    }
  }
`);

const SetTemplateStatus = graphql(`
  mutation SetWhatsAppTemplateStatus($id: ID!, $status: WhatsAppTemplateStatus!, $reason: String) {
    setWhatsAppTemplateStatus(id: $id, status: $status, reason: $reason) {
      __typename
      ... on WhatsAppTemplate {
        id
        status
        statusReason
      }
      ...ErrorFields
    }
  }
`);

const CreatorTemplates = graphql(`
  query CreatorWhatsAppTemplates($id: ID!, $filter: WhatsAppTemplateFilter) {
    node(id: $id) {
      ... on Creator {
        whatsAppTemplates(first: 10, filter: $filter) {
          totalCount
          edges {
            node {
              name
              language
              status
            }
          }
        }
      }
    }
  }
`);

const SetSender = graphql(`
  mutation SetWhatsAppSenderForTemplates($creatorId: ID!, $phoneNumberId: String!, $accessToken: String!) {
    setWhatsAppSender(creatorId: $creatorId, input: { phoneNumberId: $phoneNumberId, accessToken: $accessToken }) {
      __typename
      ...ErrorFields
    }
  }
`);

const Ingest = graphql(`
  mutation IngestForTemplates($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on IngestedEvent {
        event {
          id
          consumer {
            id
          }
        }
      }
      ...ErrorFields
    }
  }
`);

/** What the creator reads of the agent's runs for a consumer's event, and of its messages. */
const Invocations = graphql(`
  query TemplateInvocations($id: ID!) {
    node(id: $id) {
      ... on Creator {
        invocations(first: 20) {
          edges {
            node {
              acted
              reason
              decision
              event {
                id
              }
              actions {
                id
                channel
                payload
                status
                statusReason
              }
            }
          }
        }
      }
    }
  }
`);

const WELCOME: RegisterWhatsAppTemplateInput = {
  name: "welcome_interest",
  language: "en_US",
  category: "MARKETING",
  purpose: "WELCOME",
  body: "Hi {{1}}! Thanks for your interest in {{2}}'s work. Reply here any time.",
  variables: ["CONSUMER_NAME", "CREATOR_NAME"],
};

/**
 * A template name of the creator's own, prefixed with its handle: creators on the platform's shared
 * number share one namespace at Meta, so two of them may not both register `welcome_interest`.
 */
const ownName = (owner: { creator: { handle: string } }, name = WELCOME.name) =>
  `${owner.creator.handle.replace(/-/g, "_")}_${name}`;

let adminKey: string;
let whatsapp: HttpSink;
let smtp: SmtpSink;
let clock: ReturnType<typeof testClock>;
/** An EXTERNAL_HTTP agent service: it plans what `runtimePlan` says, as any runtime may (forged payloads included). */
let runtime: Server;
let runtimeUrl: string;
let runtimePlan: { channel: "WHATSAPP"; payload: Record<string, unknown> }[] = [];

beforeAll(async () => {
  adminKey = await makeAdminKey();
  [whatsapp, smtp] = await Promise.all([startHttpSink(), startSmtpSink()]);
  whatsapp.reply = whatsAppAccepted;
  runtime = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          decision: { act: true, reason: "the external agent writes", rule: "external_welcome" },
          actions: runtimePlan.map((a) => ({ ...a, sendAt: clock.now().toISOString() })),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => runtime.listen(0, "127.0.0.1", resolve));
  runtimeUrl = `http://127.0.0.1:${(runtime.address() as { port: number }).port}/decide`;
});

afterAll(async () => {
  await Promise.all([whatsapp.close(), smtp.close(), new Promise((resolve) => runtime.close(resolve))]);
});

beforeEach(() => {
  // Events may be dated up to 5 minutes ahead of the real clock: the test's starts at the real time.
  clock = testClock(new Date(Math.floor(Date.now() / 1000) * 1000));
});

/**
 * A creator named Maya Rao, with the coaching profile, its sales agent welcoming at once (or the
 * agent `deploy` says), and no quiet hours.
 */
async function creatorWithTemplates(
  templates: RegisterWhatsAppTemplateInput[] = [],
  approve = true,
  deploy: Omit<DeployAgentInput, "creatorId"> = {},
) {
  const made = await makeCreator({ name: "Maya Rao", quietHoursStart: "00:00", quietHoursEnd: "00:00" });
  await makeActiveProfile(made.creator.id);
  const deployed = await api.request(
    DeployAgent,
    { input: { creatorId: made.gid, tunables: { welcomeDelayMinutes: 0 }, ...deploy } },
    made.creatorKey,
  );
  expect(deployed.data?.deployAgent.__typename).toBe("Agent");
  for (const input of templates) {
    const registered = await api.request(
      RegisterTemplate,
      { creatorId: made.gid, input: { ...input, name: ownName(made, input.name) } },
      made.creatorKey,
    );
    const template = registered.data?.registerWhatsAppTemplate;
    if (template?.__typename !== "WhatsAppTemplate") throw new Error(`not registered: ${JSON.stringify(registered)}`);
    if (approve) await setStatus(template.id, "APPROVED");
  }
  return made;
}

async function setStatus(id: string, status: "APPROVED" | "PAUSED", reason?: string) {
  const answer = await api.request(SetTemplateStatus, { id, status, reason }, adminKey);
  expect(answer.data?.setWhatsAppTemplateStatus).toMatchObject({ __typename: "WhatsAppTemplate", status });
}

const newPhone = () => `+1415${randomInt(2_000_000, 10_000_000)}`;

type Owner = Awaited<ReturnType<typeof makeCreator>>;
type ConsumerSpec = { phone: string; email?: string; consents: ("WHATSAPP" | "EMAIL")[] };

/** Ingests an event for the consumer with the creator's key, dated `at`; answers the event's and the consumer's ids. */
async function ingest(owner: Owner, consumer: ConsumerSpec, type: string, payload: object, at: Date) {
  const answer = await api.request(
    Ingest,
    {
      creatorId: owner.gid,
      event: {
        consumer: {
          name: "Sam Lee",
          phone: consumer.phone,
          email: consumer.email,
          consents: consumer.consents.map((channel) => ({ channel, granted: true, source: "signup_form" })),
        },
        type,
        payload,
        occurredAt: at.toISOString(),
      },
    },
    owner.creatorKey,
  );
  const ingested = answer.data?.ingestEvent;
  if (ingested?.__typename !== "IngestedEvent") throw new Error(`not ingested: ${JSON.stringify(answer)}`);
  return { eventId: ingested.event.id, consumerId: ingested.event.consumer.id };
}

/**
 * A consumer who wrote on WhatsApp `wroteHoursAgo` hours before the clock (never: null) visits the
 * creator's page now; the agent runs on the visit at the clock's time. Answers the visit's run, as
 * the creator reads it.
 */
async function visitAfterWriting(owner: Owner, consumer: ConsumerSpec, wroteHoursAgo: number | null) {
  if (wroteHoursAgo !== null) {
    const wrote = new Date(clock.now().getTime() - wroteHoursAgo * HOUR);
    await ingest(owner, consumer, "whatsapp_replied", { channel: "WHATSAPP", text: "Hi, tell me more" }, wrote);
  }
  const visit = await ingest(owner, consumer, "page_view", { url: "/" }, clock.now());
  await runAgents(fromGlobalId(visit.eventId).id, true, clock.now());
  const answer = await api.request(Invocations, { id: owner.gid }, owner.creatorKey);
  const run = answer.data?.node?.invocations?.edges.find((e) => e.node.event.id === visit.eventId)?.node;
  if (!run) throw new Error(`no run for the visit: ${JSON.stringify(answer)}`);
  return { ...run, consumerId: visit.consumerId };
}

/** One scheduler tick at the clock's time, to the local sinks. */
async function sendDue() {
  const scheduler = new DeliveryScheduler({
    now: clock.now,
    providers: testProviders({ smtpUrl: smtp.url, whatsAppUrl: whatsapp.url }),
    sendRates: UNLIMITED_RATES,
    batchSize: 50,
  });
  try {
    await scheduler.tick();
  } finally {
    await scheduler.close();
  }
}

const requestsTo = (phone: string) =>
  whatsapp.received.filter((r) => (JSON.parse(r.body) as { to?: string }).to === phone);

const actionRow = (gid: string) => db.action.findUniqueOrThrow({ where: { id: fromGlobalId(gid).id } });

describe("registering a WhatsApp template", () => {
  it("refuses what Meta would refuse, with the field and a code", async () => {
    const owner = await makeCreator();
    const cases: [Partial<RegisterWhatsAppTemplateInput>, string, RegExp][] = [
      [{ name: "Welcome Offer" }, "name", /lowercase letters, digits and underscores/],
      [{ name: "x".repeat(513) }, "name", /at most 512/],
      [{ language: "english" }, "language", /language code/],
      [
        { body: "Hi {{1}}, have a look at {{3}} today.", variables: ["CONSUMER_NAME", "SERVICE_URL"] },
        "body",
        /consecutively/,
      ],
      [{ body: "Hi {{1}}, meet {{1}} today.", variables: ["CONSUMER_NAME", "CONSUMER_NAME"] }, "body", /each once/],
      [{ body: "Hi {{name}}, welcome.", variables: ["CONSUMER_NAME"] }, "body", /numbered/],
      [{ variables: ["CONSUMER_NAME"] }, "variables", /the body has 2, 1 given/],
      [
        { body: "{{1}}, thanks for your interest in {{2}}.", variables: ["CONSUMER_NAME", "CREATOR_NAME"] },
        "body",
        /starts or ends/,
      ],
      [{ body: "x".repeat(1025), variables: [] }, "body", /1024/],
      [{ category: "AUTHENTICATION" }, "category", /MARKETING or UTILITY/],
    ];
    for (const [change, path, message] of cases) {
      const answer = await api.request(
        RegisterTemplate,
        { creatorId: owner.gid, input: { ...WELCOME, ...change } },
        owner.creatorKey,
      );
      const result = answer.data?.registerWhatsAppTemplate;
      expect(result, JSON.stringify(change).slice(0, 80)).toMatchObject({
        __typename: "ValidationError",
        code: "VALIDATION_FAILED",
      });
      const issues = result?.__typename === "ValidationError" ? result.issues : [];
      expect(issues.find((i) => i.path === path)?.message, path).toMatch(message);
    }
    expect(await db.whatsAppTemplate.count({ where: { creatorId: owner.creator.id } })).toBe(0);

    const registered = await api.request(RegisterTemplate, { creatorId: owner.gid, input: WELCOME }, owner.creatorKey);
    expect(registered.data?.registerWhatsAppTemplate).toMatchObject({
      ...WELCOME,
      __typename: "WhatsAppTemplate",
      status: "PENDING",
      statusReason: null,
    });
    // Meta's own key is the name and the language: the same again conflicts, another language does not.
    const again = await api.request(RegisterTemplate, { creatorId: owner.gid, input: WELCOME }, owner.creatorKey);
    expect(again.data?.registerWhatsAppTemplate).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });
    const spanish = await api.request(
      RegisterTemplate,
      {
        creatorId: owner.gid,
        input: { ...WELCOME, language: "es", body: "¡Hola {{1}}! Gracias por tu interés en {{2}}." },
      },
      owner.creatorKey,
    );
    expect(spanish.data?.registerWhatsAppTemplate).toMatchObject({ __typename: "WhatsAppTemplate", language: "es" });

    // Another creator's key may not register for this one.
    const stranger = await makeCreator();
    const refused = await api.request(
      RegisterTemplate,
      { creatorId: owner.gid, input: { ...WELCOME, name: "other" } },
      stranger.creatorKey,
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    const listed = await api.request(CreatorTemplates, { id: owner.gid }, owner.creatorKey);
    expect(listed.data?.node?.whatsAppTemplates?.edges.map((e) => e.node)).toEqual([
      { name: "welcome_interest", language: "en_US", status: "PENDING" },
      { name: "welcome_interest", language: "es", status: "PENDING" },
    ]);
    const audited = await db.auditLog.findMany({
      where: { creatorId: owner.creator.id, operation: "whatsapp_template.register" },
    });
    expect(audited).toHaveLength(2);
  });

  it("takes Meta's review from an operator only", async () => {
    const owner = await makeCreator();
    const registered = await api.request(
      RegisterTemplate,
      { creatorId: owner.gid, input: { ...WELCOME, name: ownName(owner) } },
      owner.creatorKey,
    );
    const template = registered.data?.registerWhatsAppTemplate;
    if (template?.__typename !== "WhatsAppTemplate") throw new Error(`not registered: ${JSON.stringify(registered)}`);
    const { id } = template;

    const byCreator = await api.request(SetTemplateStatus, { id, status: "APPROVED" }, owner.creatorKey);
    expect(byCreator.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(byCreator.data?.setWhatsAppTemplateStatus ?? null).toBeNull();

    const unexplained = await api.request(SetTemplateStatus, { id, status: "REJECTED" }, adminKey);
    expect(unexplained.data?.setWhatsAppTemplateStatus).toMatchObject({
      __typename: "ValidationError",
      code: "VALIDATION_FAILED",
    });
    const rejected = await api.request(
      SetTemplateStatus,
      { id, status: "REJECTED", reason: "INCORRECT_CATEGORY" },
      adminKey,
    );
    expect(rejected.data?.setWhatsAppTemplateStatus).toEqual({
      __typename: "WhatsAppTemplate",
      id,
      status: "REJECTED",
      statusReason: "INCORRECT_CATEGORY",
    });
    const approved = await api.request(SetTemplateStatus, { id, status: "APPROVED" }, adminKey);
    expect(approved.data?.setWhatsAppTemplateStatus).toEqual({
      __typename: "WhatsAppTemplate",
      id,
      status: "APPROVED",
      statusReason: null,
    });

    const unknown = await api.request(
      SetTemplateStatus,
      { id: toGlobalId("WhatsAppTemplate", "00000000-0000-4000-8000-000000000000"), status: "APPROVED" },
      adminKey,
    );
    expect(unknown.data?.setWhatsAppTemplateStatus).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });

    const listed = await api.request(
      CreatorTemplates,
      { id: owner.gid, filter: { status: ["APPROVED"] } },
      owner.creatorKey,
    );
    expect(listed.data?.node?.whatsAppTemplates?.totalCount).toBe(1);
    const audited = await db.auditLog.findMany({
      where: { targetId: fromGlobalId(id).id, operation: "whatsapp_template.set_status" },
      orderBy: { createdAt: "asc" },
    });
    expect(audited.map((a) => a.details)).toEqual([
      { from: "PENDING", to: "REJECTED", reason: "INCORRECT_CATEGORY" },
      { from: "REJECTED", to: "APPROVED", reason: null },
    ]);
  });
});

describe("the agent's WhatsApp messages", () => {
  it("go as free text within the customer-service window and as the approved template outside it", async () => {
    const owner = await creatorWithTemplates([WELCOME]);
    const name = ownName(owner);
    const recent = { phone: newPhone(), consents: ["WHATSAPP" as const] };
    const lapsed = { phone: newPhone(), consents: ["WHATSAPP" as const] };
    const silent = { phone: newPhone(), consents: ["WHATSAPP" as const] };
    const toRecent = await visitAfterWriting(owner, recent, 2);
    const toLapsed = await visitAfterWriting(owner, lapsed, 30);
    const toSilent = await visitAfterWriting(owner, silent, null);
    await sendDue();

    // Wrote 2 h ago: the welcome as written, a text message.
    expect(toRecent.actions).toHaveLength(1);
    expect(toRecent.actions[0].payload).not.toHaveProperty("whatsAppTemplate");
    const [text] = requestsTo(recent.phone);
    expect(JSON.parse(text.body)).toMatchObject({
      type: "text",
      text: { body: expect.stringMatching(/^Hi Sam! Thanks for your interest in Maya Rao's work\./) },
    });

    // Wrote 30 h ago, or never: the approved template, with the consumer's and the creator's names.
    const filled = "Hi Sam! Thanks for your interest in Maya Rao's work. Reply here any time.";
    for (const [consumer, run] of [
      [lapsed, toLapsed],
      [silent, toSilent],
    ] as const) {
      expect(run.acted).toBe(true);
      expect(run.actions).toHaveLength(1);
      expect(run.actions[0]).toMatchObject({
        channel: "WHATSAPP",
        payload: {
          message: filled,
          template: "welcome",
          whatsAppTemplate: { name, language: "en_US", parameters: ["Sam", "Maya Rao"] },
        },
      });
      expect((run.decision as { notes: string[] }).notes.join("\n")).toMatch(
        new RegExp(`outside the WhatsApp customer-service window.*sent as the approved template "${name}" \\(en_US\\)`),
      );
      expect((await actionRow(run.actions[0].id)).status).toBe("SENT");
      const requests = requestsTo(consumer.phone);
      expect(requests).toHaveLength(1);
      expect(requests[0].path).toBe(`/v19.0/${WHATSAPP_PHONE_NUMBER_ID}/messages`);
      expect(requests[0].answer?.status).toBe(200);
      expect(JSON.parse(requests[0].body)).toEqual({
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to: consumer.phone,
        type: "template",
        template: {
          name,
          language: { code: "en_US" },
          components: [
            {
              type: "body",
              parameters: [
                { type: "text", text: "Sam" },
                { type: "text", text: "Maya Rao" },
              ],
            },
          ],
        },
      });
      // The conversation records what the consumer read.
      const message = await db.conversationMessage.findFirstOrThrow({
        where: { actionId: fromGlobalId(run.actions[0].id).id },
      });
      expect(message).toMatchObject({ direction: "OUTBOUND", text: filled });
    }
  });

  it("fall back to email without an approved template, or are not sent, with the reason for the creator", async () => {
    // Registered but not approved yet: Meta has not reviewed it, so it may not be sent.
    const owner = await creatorWithTemplates([WELCOME], false);
    const reachable = {
      phone: newPhone(),
      email: `sam-${randomInt(1e9)}@example.test`,
      consents: ["WHATSAPP" as const, "EMAIL" as const],
    };
    const whatsAppOnly = { phone: newPhone(), consents: ["WHATSAPP" as const] };

    const emailed = await visitAfterWriting(owner, reachable, 30);
    expect(emailed.acted).toBe(true);
    expect(emailed.actions).toEqual([
      expect.objectContaining({
        channel: "EMAIL",
        payload: expect.objectContaining({ to: reachable.email, template: "welcome" }),
      }),
    ]);
    expect((emailed.decision as { notes: string[] }).notes.join("\n")).toMatch(
      /outside the WhatsApp customer-service window.*no approved WELCOME template: sent on EMAIL instead/,
    );

    const unsent = await visitAfterWriting(owner, whatsAppOnly, null);
    expect(unsent.acted).toBe(false);
    expect(unsent.actions).toEqual([]);
    expect(unsent.reason).toMatch(
      /welcome: not sent: outside the WhatsApp customer-service window .*the consumer never wrote on WhatsApp.*no approved WELCOME template.*no other channel/,
    );

    await sendDue();
    expect(smtp.received.filter((m) => m.to.includes(reachable.email))).toHaveLength(1);
    expect([...requestsTo(reachable.phone), ...requestsTo(whatsAppOnly.phone)]).toEqual([]);
  });

  it("are held back by the guardrail when an approved body makes an offer the profile does not", async () => {
    const promo: RegisterWhatsAppTemplateInput = {
      ...WELCOME,
      name: "welcome_promo",
      body: "Hi {{1}}, get 50% off with code SAVE50 at https://evil.example/pay from {{2}} today.",
    };
    const owner = await creatorWithTemplates([promo]);
    const consumer = { phone: newPhone(), consents: ["WHATSAPP" as const] };

    const run = await visitAfterWriting(owner, consumer, null);
    expect(run.actions).toEqual([]);
    expect(run.reason).toMatch(/held back by the guardrail, not in the profile: .*percentage 50%.*code SAVE50/);
    await sendDue();
    expect(requestsTo(consumer.phone)).toEqual([]);
  });

  it("are skipped when the window closes between planning and sending", async () => {
    const owner = await creatorWithTemplates();
    const consumer = { phone: newPhone(), consents: ["WHATSAPP" as const] };
    // Wrote 23 h 50 min ago: the window is open when the agent plans, closed 15 minutes later.
    const run = await visitAfterWriting(owner, consumer, 23 + 50 / 60);
    expect(run.actions).toHaveLength(1);
    expect(run.actions[0].payload).not.toHaveProperty("whatsAppTemplate");

    clock.advance(15 * MINUTE);
    await sendDue();
    expect(await actionRow(run.actions[0].id)).toMatchObject({
      status: "SKIPPED",
      statusReason: expect.stringMatching(
        /^WhatsApp customer-service window closed: only template messages may be sent \(the consumer last wrote at /,
      ),
    });
    expect(requestsTo(consumer.phone)).toEqual([]);
  });

  it("are skipped when their template stops being approved between planning and sending", async () => {
    const owner = await creatorWithTemplates([WELCOME]);
    const consumer = { phone: newPhone(), consents: ["WHATSAPP" as const] };
    const run = await visitAfterWriting(owner, consumer, null);
    expect(run.actions[0].payload).toMatchObject({ whatsAppTemplate: { name: ownName(owner) } });

    const template = await db.whatsAppTemplate.findFirstOrThrow({ where: { creatorId: owner.creator.id } });
    await setStatus(toGlobalId("WhatsAppTemplate", template.id), "PAUSED", "low quality rating");
    await sendDue();
    const answer = await api.request(Invocations, { id: owner.gid }, owner.creatorKey);
    const action = answer.data?.node?.invocations?.edges
      .flatMap((e) => e.node.actions)
      .find((a) => a.id === run.actions[0].id);
    expect(action).toMatchObject({
      status: "SKIPPED",
      statusReason: `WhatsApp template "${ownName(owner)}" (en_US) is PAUSED (low quality rating): only approved templates may be sent`,
    });
    expect(requestsTo(consumer.phone)).toEqual([]);
  });
});

/** The registration's result, as the creator reads it. */
async function register(owner: Owner, input: RegisterWhatsAppTemplateInput) {
  const answer = await api.request(RegisterTemplate, { creatorId: owner.gid, input }, owner.creatorKey);
  const result = answer.data?.registerWhatsAppTemplate;
  if (!result) throw new Error(`no answer: ${JSON.stringify(answer)}`);
  return result;
}

describe("template bodies Meta rejects for their variables", () => {
  it("are refused at registration, naming the body", async () => {
    const owner = await makeCreator();
    const two = WELCOME.variables;
    const cases: [string, RegisterWhatsAppTemplateInput["variables"], RegExp][] = [
      // Only whitespace between two variables (a non-breaking space and a line break are whitespace too).
      ["Hi {{1}} {{2}} and welcome.", two, /side by side/],
      ["Hi {{1}}{{2}} and welcome.", two, /side by side/],
      ["Hi {{1}}\u00a0\n{{2}} and welcome.", two, /side by side/],
      // A third brace, stray or unmatched braces.
      ["Hi {{{1}}}, welcome to {{2}}'s work.", two, /brace/],
      ["Hi {1}} and {{ welcome.", [], /brace/],
      ["Hi {{1}}, welcome to {{2}}'s work }", two, /brace/],
      // A leading zero.
      ["Hi {{01}}, welcome to {{2}}'s work.", two, /numbered.*found \{\{01\}\}/],
    ];
    for (const [body, variables, message] of cases) {
      const result = await register(owner, { ...WELCOME, name: ownName(owner), body, variables });
      expect(result, body).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
      const issues = result.__typename === "ValidationError" ? result.issues : [];
      expect(issues.find((i) => i.path === "body")?.message, body).toMatch(message);
    }
    expect(await db.whatsAppTemplate.count({ where: { creatorId: owner.creator.id } })).toBe(0);

    // Words between the variables, and braces only in them: accepted.
    const fine = await register(owner, {
      ...WELCOME,
      name: ownName(owner),
      body: "Hi {{1}}, welcome to {{2}}'s work.",
    });
    expect(fine).toMatchObject({ __typename: "WhatsAppTemplate", status: "PENDING" });
  });
});

describe("templates on the platform's shared number", () => {
  it("are one namespace: a name and language another creator on it has is a conflict, suggesting the handle as a prefix", async () => {
    const name = `shared_welcome_${randomInt(1e9)}`;
    const first = await makeCreator();
    const second = await makeCreator();
    expect(await register(first, { ...WELCOME, name })).toMatchObject({ __typename: "WhatsAppTemplate", name });

    // Another body under the same name and language would reach the first creator's consumers too.
    const clash = await register(second, { ...WELCOME, name, body: "Hello {{1}}, {{2}} here: welcome aboard." });
    expect(clash).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });
    expect(clash.__typename === "ConflictError" && clash.message).toMatch(
      new RegExp(`another creator on the platform's shared WhatsApp number .*"${ownName(second, name)}"`, "i"),
    );
    expect(await db.whatsAppTemplate.count({ where: { creatorId: second.creator.id } })).toBe(0);

    // Another language is another template at Meta; a name of its own is free.
    expect(await register(second, { ...WELCOME, name, language: "es" })).toMatchObject({
      __typename: "WhatsAppTemplate",
      language: "es",
    });
    expect(await register(second, { ...WELCOME, name: ownName(second, name) })).toMatchObject({
      __typename: "WhatsAppTemplate",
    });

    // A creator with a number of its own has its own namespace: the name is free there.
    const own = await makeCreator();
    const sender = await api.request(
      SetSender,
      { creatorId: own.gid, phoneNumberId: String(randomInt(1e11, 2e11)), accessToken: `EAAG-own-${randomUUID()}` },
      adminKey,
    );
    expect(sender.data?.setWhatsAppSender.__typename).toBe("Creator");
    expect(await register(own, { ...WELCOME, name })).toMatchObject({ __typename: "WhatsAppTemplate", name });
  });

  it("let one of several creators registering the same name at once have it", async () => {
    for (let round = 0; round < 3; round++) {
      const name = `race_welcome_${randomInt(1e9)}`;
      const creators = await Promise.all([makeCreator(), makeCreator(), makeCreator()]);
      const results = await Promise.all(creators.map((owner) => register(owner, { ...WELCOME, name })));
      expect(results.map((r) => r.__typename).sort()).toEqual(["ConflictError", "ConflictError", "WhatsAppTemplate"]);
      expect(await db.whatsAppTemplate.count({ where: { name, language: "en_US" } })).toBe(1);
    }
  });
});

describe("a runtime's template messages", () => {
  it("are refused when a parameter breaks WhatsApp's rules or the filled body is over 1,024 characters", async () => {
    const owner = await creatorWithTemplates([WELCOME], true, {
      runtime: "EXTERNAL_HTTP",
      externalHttp: { url: runtimeUrl, secret: "s".repeat(20) },
    });
    const name = ownName(owner);
    const consumer = { phone: newPhone(), consents: ["WHATSAPP" as const] };
    const forged = (first: string) => {
      const parameters = [first, "Maya Rao"];
      const message = fillTemplateBody(WELCOME.body, parameters);
      return {
        channel: "WHATSAPP" as const,
        payload: {
          to: consumer.phone,
          template: "welcome",
          message,
          whatsAppTemplate: { name, language: "en_US", parameters },
        },
      };
    };
    // Cloud API error 132018: line breaks of any kind, tabs, five whitespace characters in a row.
    const breaks = /whatsAppTemplate\.parameters\.0: no line breaks or tabs/;
    const run = /whatsAppTemplate\.parameters\.0: no more than four whitespace characters in a row/;
    const blank = /whatsAppTemplate\.parameters\.0: empty or only whitespace/;
    const refused: [string, RegExp][] = [
      ["Sam\rLee", breaks],
      ["Sam\u2028Lee", breaks],
      ["Sam\u2029Lee", breaks],
      ["Sam\tLee", breaks],
      ["Sam\nLee", breaks],
      ["Sam     Lee", run],
      ["Sam\u00a0\u00a0\u00a0\u00a0\u00a0Lee", run],
      ["Sam \u00a0 \u2003 Lee", run],
      ["   ", blank],
      ["\u00a0", blank],
    ];
    // Each parameter within 1,024 characters, the filled body not.
    const long = "S".repeat(1000);
    runtimePlan = [...refused.map(([text]) => forged(text)), forged(long)];
    const planned = await visitAfterWriting(owner, consumer, null);
    runtimePlan = [];
    expect(planned.actions).toHaveLength(refused.length + 1);
    for (const [i, [text, reason]] of refused.entries()) {
      expect(planned.actions[i], JSON.stringify(text)).toMatchObject({
        status: "FAILED",
        statusReason: expect.stringMatching(reason),
      });
    }

    await sendDue();
    const filled = Array.from(forged(long).payload.message).length;
    expect(filled).toBeGreaterThan(1024);
    expect(await actionRow(planned.actions[refused.length].id)).toMatchObject({
      status: "SKIPPED",
      statusReason: `WhatsApp template "${name}" (en_US) is ${filled} characters once filled: WhatsApp refuses a body over 1024`,
    });
    expect(requestsTo(consumer.phone)).toEqual([]);
  });
});
