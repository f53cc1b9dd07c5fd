import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatorAnalyticsDocument } from "../client/index.js";
import {
  coachingProfile,
  type MadeCreator,
  makeActiveProfile,
  makeAdminKey,
  makeCreator,
} from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import type { Prisma } from "../src/generated/prisma/client.js";
import type { ActionStatus, Channel } from "../src/generated/prisma/enums.js";
import type { EventInput } from "./generated/graphql.js";
import { useApi } from "./support/api.js";
import { IngestEvent, IngestEvents } from "./support/operations.js";
import { eventually } from "./support/processes.js";

// A creator dashboard's numbers over a time range, from one field: each expected value below is
// worked out from the model in src/analytics (last touch within the window, outcomes by the
// action they name), not read off the answer.

const api = useApi();

// The frontend's own document (client/operations.graphql), so the typed client is what is tested.
const Analytics = CreatorAnalyticsDocument;

let statements = 0;
/** The analytics statements running now, and the most that ever ran at once. */
const analyticsRunning = { now: 0, most: 0 };
/** Each of the four analytics statements (src/analytics/analytics-store.ts), by its text. */
const ANALYTICS_STATEMENT =
  /FROM consumers c LEFT JOIN consumer_contexts|SELECT channel, status, count\(\*\)::int AS count FROM actions|WITH sent AS|WITH enrolment AS/;
const originalQuery = pg.Client.prototype.query;
beforeAll(() => {
  // Counts every statement any pooled client sends, whoever sends it (Prisma or raw pg).
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements += 1;
    const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    if (!text || !ANALYTICS_STATEMENT.test(text))
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    analyticsRunning.now += 1;
    analyticsRunning.most = Math.max(analyticsRunning.most, analyticsRunning.now);
    const done = () => {
      analyticsRunning.now -= 1;
    };
    // pg.Pool's query passes a callback; a client's caller awaits the promise.
    const callback = args.at(-1);
    if (typeof callback === "function") {
      args[args.length - 1] = (...answer: unknown[]) => {
        done();
        return callback(...answer);
      };
    }
    const result = (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) result.then(done, done);
    return result;
  } as typeof originalQuery;
});
afterAll(() => {
  pg.Client.prototype.query = originalQuery;
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.now();
/** `days` days ago, plus `hours` hours. */
const ago = (days: number, hours = 0) => new Date(NOW - days * DAY + hours * HOUR);
const FROM = ago(20);
const TO = new Date(NOW + 60_000);

type Event = { consumer: string; type: string; at: Date; payload?: Record<string, unknown> };

/** Ingests events through the API, as the creator's systems and the providers' callbacks record them. */
async function ingest(owner: MadeCreator, events: Event[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const batch: EventInput[] = events.slice(i, i + 500).map((e) => ({
      consumer: { externalId: e.consumer, email: `${e.consumer}@example.org` },
      type: e.type,
      occurredAt: e.at.toISOString(),
      payload: e.payload ?? {},
    }));
    const answer = await api.request(IngestEvents, { creatorId: owner.gid, events: batch }, owner.creatorKey);
    if (answer.data?.ingestEvents.__typename !== "IngestedEvents") throw new Error(JSON.stringify(answer));
  }
}

type Message = {
  consumer: string;
  channel: Channel;
  status: ActionStatus;
  /** When it was planned; sent an hour later when `sent`. */
  at: Date;
  sent?: boolean;
  rule?: string;
  template?: string;
  whatsAppTemplate?: string;
  person?: true;
  providerMessageId?: string;
};

/**
 * The messages as the agent (an invocation with its decision's rule) or a person (sentBy, no
 * invocation) leave them in the actions table: the scheduler and the send rules are not the
 * subject here. Returns each message's id, in order.
 */
async function messages(owner: MadeCreator, list: Message[]): Promise<string[]> {
  const creatorId = owner.creator.id;
  const consumers = new Map(
    (await db.consumer.findMany({ where: { creatorId }, include: { events: { take: 1 } } })).map((c) => [
      c.externalId,
      c,
    ]),
  );
  const ids: string[] = [];
  for (const m of list) {
    const consumer = consumers.get(m.consumer);
    if (!consumer) throw new Error(`no consumer ${m.consumer}`);
    // The run of an agent (one per rule here) on the consumer's first event decided it.
    const agentId = m.person
      ? null
      : (
          await db.agent.upsert({
            where: { creatorId_name: { creatorId, name: `agent-${m.rule}` } },
            create: { creatorId, name: `agent-${m.rule}`, kind: "generic_sales" },
            update: {},
          })
        ).id;
    const invocation = agentId
      ? await db.agentInvocation.upsert({
          where: { agentId_eventId: { agentId, eventId: consumer.events[0].id } },
          create: {
            agentId,
            eventId: consumer.events[0].id,
            eventReceivedAt: consumer.events[0].receivedAt,
            creatorId,
            consumerId: consumer.id,
            status: "COMPLETED",
            acted: true,
            decision: { act: true, rule: m.rule, reason: "test" },
            queuedAt: m.at,
          },
          update: {},
        })
      : null;
    const sentAt = m.sent ? new Date(m.at.getTime() + HOUR) : null;
    const action = await db.action.create({
      data: {
        creatorId,
        consumerId: consumer.id,
        invocationId: invocation?.id ?? null,
        sequence: ids.length,
        channel: m.channel,
        status: m.status,
        payload: {
          to: m.channel === "WHATSAPP" ? "+14155550100" : `${m.consumer}@example.org`,
          message: "Hello",
          template: m.person ? "person" : m.template,
          ...(m.whatsAppTemplate ? { whatsAppTemplate: { name: m.whatsAppTemplate, language: "en_US" } } : {}),
        },
        sendAt: m.at,
        sentAt,
        sentBy: m.person ? "maya" : null,
        providerMessageId: m.providerMessageId ?? null,
        createdAt: m.at,
      },
    });
    ids.push(action.id);
  }
  return ids;
}

/**
 * Gives `consumer`'s enrolments the payload `payload`, as stored before ingestion checked an
 * enrolment's money (payload.amount, payload.currency), which it now refuses.
 */
async function storedBeforeChecks(owner: MadeCreator, consumer: string, payload: Prisma.InputJsonObject) {
  const { count } = await db.event.updateMany({
    where: { creatorId: owner.creator.id, type: "enrolled", consumer: { externalId: consumer } },
    data: { payload },
  });
  if (count === 0) throw new Error(`${consumer} has no enrolment`);
}

const read = (owner: MadeCreator, key = owner.creatorKey, window?: number, from = FROM, to = TO) =>
  api.request(
    Analytics,
    { creatorId: owner.gid, from: from.toISOString(), to: to.toISOString(), attributionWindowHours: window },
    key,
  );

describe("Creator.analytics", () => {
  let owner: MadeCreator;
  let other: MadeCreator;

  beforeAll(async () => {
    [owner, other] = await Promise.all([makeCreator(), makeCreator()]);
    // Leadership Sprint 1200 USD, 1:1 Coaching 300 USD.
    await makeActiveProfile(owner.creator.id);
    const people = ["ana", "ben", "cara", "dan", "eve", "fay", "gus", "hal", "ivy"];
    await ingest(
      owner,
      people.map((consumer) => ({ consumer, type: "signup", at: ago(40) })),
    );
    // Planned an hour before each `sent` time below.
    const [e1, e4, w1, w2, e2, p1, e3] = await messages(owner, [
      {
        consumer: "ana",
        channel: "EMAIL",
        status: "SENT",
        at: ago(10, -1),
        sent: true,
        rule: "welcome",
        template: "welcome",
      },
      {
        consumer: "ana",
        channel: "EMAIL",
        status: "SENT",
        at: ago(9),
        sent: true,
        rule: "thank_you",
        template: "thank_you",
      },
      {
        consumer: "ben",
        channel: "WHATSAPP",
        status: "SENT",
        at: ago(8, -1),
        sent: true,
        rule: "follow_up",
        template: "follow_up:Leadership Sprint",
        whatsAppTemplate: "follow_up_pitch",
        providerMessageId: `wamid.${owner.creator.id}.w1`,
      },
      {
        consumer: "ben",
        channel: "WHATSAPP",
        status: "SENT",
        at: ago(7, -1),
        sent: true,
        rule: "answer",
        template: "answer:price:leadership sprint",
        providerMessageId: `wamid.${owner.creator.id}.w2`,
      },
      {
        consumer: "cara",
        channel: "EMAIL",
        status: "SENT",
        at: ago(19, -1),
        sent: true,
        rule: "welcome",
        template: "welcome",
      },
      { consumer: "dan", channel: "EMAIL", status: "SENT", at: ago(4, -1), sent: true, person: true },
      // Sent before the range: not counted as sent, but may earn an enrolment of the range.
      {
        consumer: "eve",
        channel: "EMAIL",
        status: "SENT",
        at: ago(22, -1),
        sent: true,
        rule: "welcome",
        template: "welcome",
      },
      { consumer: "gus", channel: "EMAIL", status: "FAILED", at: ago(2), rule: "welcome", template: "welcome" },
      { consumer: "hal", channel: "WHATSAPP", status: "CANCELLED", at: ago(2), rule: "welcome", template: "welcome" },
      { consumer: "gus", channel: "WEBHOOK", status: "PLANNED", at: ago(1), rule: "notify", template: "notify" },
      {
        consumer: "hal",
        channel: "WEBHOOK",
        status: "SENT",
        at: ago(1),
        sent: true,
        rule: "notify",
        template: "notify",
      },
    ]);
    await ingest(owner, [
      // ana: her welcome delivered and opened (an open naming no message is not tied to one), she enrols a
      // day later with the Sprint's listed price; the thank-you after the enrolment earns nothing.
      { consumer: "ana", type: "email_delivered", at: ago(10), payload: { actionId: e1 } },
      { consumer: "ana", type: "email_opened", at: ago(10, 1), payload: { actionId: e1 } },
      { consumer: "ana", type: "email_opened", at: ago(10, 2) },
      { consumer: "ana", type: "enrolled", at: ago(9), payload: { service: "Leadership Sprint" } },
      { consumer: "ana", type: "email_delivered", at: ago(9, 1), payload: { actionId: e4 } },
      // ben: the follow-up delivered and read, the answer delivered; he quotes the follow-up, then
      // writes without quoting (the answer, the last sent before), then enrols with his own amount.
      { consumer: "ben", type: "whatsapp_delivered", at: ago(8, 1), payload: { actionId: w1 } },
      { consumer: "ben", type: "whatsapp_read", at: ago(8, 2), payload: { actionId: w1 } },
      { consumer: "ben", type: "whatsapp_delivered", at: ago(7, 1), payload: { actionId: w2 } },
      {
        consumer: "ben",
        type: "whatsapp_replied",
        at: ago(6),
        payload: { channel: "WHATSAPP", text: "Tell me more", inReplyTo: `wamid.${owner.creator.id}.w1` },
      },
      {
        consumer: "ben",
        type: "whatsapp_replied",
        at: ago(6, 1),
        payload: { channel: "WHATSAPP", text: "And the dates?", inReplyTo: null },
      },
      {
        consumer: "ben",
        type: "enrolled",
        at: ago(5),
        payload: { service: "Leadership Sprint", amount: 950, currency: "eur" },
      },
      // cara: welcome delivered, answered by email; she enrols 16 days after it (outside 7 days). An
      // amount that is not a number (given below) is not hers: the listed price of 1:1 Coaching is.
      { consumer: "cara", type: "email_delivered", at: ago(19), payload: { actionId: e2 } },
      { consumer: "cara", type: "email_replied", at: ago(18), payload: { channel: "EMAIL", text: "Sounds good" } },
      { consumer: "cara", type: "enrolled", at: ago(3), payload: { service: "1:1 Coaching" } },
      // dan: a person's email, then an enrolment in something with no price: revenue unknown.
      { consumer: "dan", type: "email_delivered", at: ago(4), payload: { actionId: p1 } },
      { consumer: "dan", type: "enrolled", at: ago(4, 2), payload: { service: "Private retreat" } },
      // eve: welcomed before the range, enrols inside it three days later.
      { consumer: "eve", type: "email_delivered", at: ago(22), payload: { actionId: e3 } },
      { consumer: "eve", type: "enrolled", at: ago(19), payload: { amount: 100, currency: "usd" } },
      // fay enrolled before the range; gus only looked; hal clicked then opted out; ivy enrolled
      // (the name as typed: trimmed, any case) then opted out.
      { consumer: "fay", type: "enrolled", at: ago(30), payload: { service: "Leadership Sprint" } },
      { consumer: "gus", type: "page_view", at: ago(2) },
      { consumer: "hal", type: "service_click", at: ago(2), payload: { service: "1:1 Coaching" } },
      { consumer: "hal", type: "unsubscribed", at: ago(1) },
      { consumer: "ivy", type: "enrolled", at: ago(2), payload: { service: " leadership SPRINT " } },
      { consumer: "ivy", type: "unsubscribed", at: ago(1) },
    ]);

    // Ingestion refuses an amount that is not a number now; rows stored before it checked remain.
    await storedBeforeChecks(owner, "cara", { service: "1:1 Coaching", amount: "50", currency: "USD" });

    // Another creator: a big enrolment after its own message, and an open naming the owner's
    // email (e2) recorded on its own consumer. None of it is the owner's.
    await makeActiveProfile(other.creator.id);
    await ingest(other, [{ consumer: "zed", type: "signup", at: ago(40) }]);
    const [z1] = await messages(other, [
      {
        consumer: "zed",
        channel: "EMAIL",
        status: "SENT",
        at: ago(3),
        sent: true,
        rule: "welcome",
        template: "welcome",
      },
    ]);
    await ingest(other, [
      { consumer: "zed", type: "email_delivered", at: ago(3, 1), payload: { actionId: z1 } },
      { consumer: "zed", type: "email_opened", at: ago(3, 2), payload: { actionId: e2 } },
      { consumer: "zed", type: "enrolled", at: ago(2), payload: { amount: 5000, currency: "USD" } },
    ]);
  });

  it("tells the funnel, the messages, their outcomes and the conversions attributed to the last message", async () => {
    const answer = await read(owner);
    expect(answer.errors).toBeUndefined();
    const analytics = answer.data?.node && "analytics" in answer.data.node ? answer.data.node.analytics : null;
    if (!analytics) throw new Error(JSON.stringify(answer));
    expect(analytics.attributionWindowHours).toBe(168);

    // Nine consumers, all first seen now. Converted: ana, ben, cara, dan, eve, fay; gus interested;
    // hal and ivy opted out, ivy after enrolling (so she reached CONVERTED).
    expect(analytics.funnel).toEqual({
      firstSeen: 9,
      byStage: [
        { stage: "NEW", consumers: 0 },
        { stage: "INTERESTED", consumers: 1 },
        { stage: "ENGAGED", consumers: 0 },
        { stage: "CONVERTED", consumers: 6 },
        { stage: "LOST", consumers: 0 },
        { stage: "UNSUBSCRIBED", consumers: 2 },
      ],
      reachedAtLeast: [
        { stage: "NEW", consumers: 9 },
        { stage: "INTERESTED", consumers: 8 },
        { stage: "ENGAGED", consumers: 7 },
        { stage: "CONVERTED", consumers: 7 },
      ],
    });

    // Planned in the range (eve's welcome was planned before it); webhooks apart.
    const byKey = <T extends { count: number }>(rows: T[], key: (r: T) => string) =>
      Object.fromEntries(rows.map((r) => [key(r), r.count]));
    expect(byKey(analytics.messages, (r) => `${r.channel} ${r.status}`)).toEqual({
      "EMAIL SENT": 4,
      "EMAIL FAILED": 1,
      "WHATSAPP SENT": 2,
      "WHATSAPP CANCELLED": 1,
    });
    expect(byKey(analytics.webhooks, (r) => r.status)).toEqual({ PLANNED: 1, SENT: 1 });

    // Email: e1, e4, e2, p1 sent and delivered; e1 opened; e2 answered. Conversions: ana (e1,
    // 1200 USD), eve (e3, 100 USD), dan (p1, unknown). WhatsApp: w1 read and quoted, w2 answered
    // by the unquoted message and earning ben's 950 EUR.
    expect(analytics.channels).toEqual([
      {
        channel: "EMAIL",
        sent: 4,
        delivered: 4,
        read: 1,
        replied: 1,
        deliveredRate: 1,
        readRate: 0.25,
        replyRate: 0.25,
        conversions: 3,
        revenue: [{ currency: "USD", amount: 1300 }],
      },
      {
        channel: "WHATSAPP",
        sent: 2,
        delivered: 2,
        read: 1,
        replied: 2,
        deliveredRate: 1,
        readRate: 0.5,
        replyRate: 1,
        conversions: 1,
        revenue: [{ currency: "EUR", amount: 950 }],
      },
    ]);

    // In the range: ana, ben, cara, dan, eve, ivy (not fay). Attributed: ana, ben, dan, eve; cara's
    // welcome is 16 days before her enrolment, ivy had no message.
    expect(analytics.conversions).toEqual({
      count: 6,
      attributed: 4,
      withoutRevenue: 1,
      revenue: [
        { currency: "EUR", amount: 950 },
        { currency: "USD", amount: 1200 + 300 + 100 + 1200 },
      ],
      attributedRevenue: [
        { currency: "EUR", amount: 950 },
        { currency: "USD", amount: 1300 },
      ],
    });

    const kinds = [...analytics.byMessageKind].sort((a, b) =>
      `${a.channel}${a.sender}${a.template}`.localeCompare(`${b.channel}${b.sender}${b.template}`),
    );
    const none = { deliveredRate: null, readRate: null, replyRate: null };
    expect(kinds).toEqual([
      {
        sender: "AGENT",
        channel: "EMAIL",
        rule: "thank_you",
        template: "thank_you",
        whatsAppTemplate: null,
        sent: 1,
        delivered: 1,
        read: 0,
        replied: 0,
        deliveredRate: 1,
        readRate: 0,
        replyRate: 0,
        conversions: 0,
        revenue: [],
      },
      {
        sender: "AGENT",
        channel: "EMAIL",
        rule: "welcome",
        template: "welcome",
        whatsAppTemplate: null,
        sent: 2,
        delivered: 2,
        read: 1,
        replied: 1,
        deliveredRate: 1,
        readRate: 0.5,
        replyRate: 0.5,
        conversions: 2,
        revenue: [{ currency: "USD", amount: 1300 }],
      },
      {
        sender: "PERSON",
        channel: "EMAIL",
        rule: null,
        template: null,
        whatsAppTemplate: null,
        sent: 1,
        delivered: 1,
        read: 0,
        replied: 0,
        deliveredRate: 1,
        readRate: 0,
        replyRate: 0,
        conversions: 1,
        revenue: [],
      },
      {
        sender: "AGENT",
        channel: "WHATSAPP",
        rule: "answer",
        template: "answer:price:leadership sprint",
        whatsAppTemplate: null,
        sent: 1,
        delivered: 1,
        read: 0,
        replied: 1,
        deliveredRate: 1,
        readRate: 0,
        replyRate: 1,
        conversions: 1,
        revenue: [{ currency: "EUR", amount: 950 }],
      },
      {
        sender: "AGENT",
        channel: "WHATSAPP",
        rule: "follow_up",
        template: "follow_up:Leadership Sprint",
        whatsAppTemplate: "follow_up_pitch",
        sent: 1,
        delivered: 1,
        read: 1,
        replied: 1,
        deliveredRate: 1,
        readRate: 1,
        replyRate: 1,
        conversions: 0,
        revenue: [],
      },
    ]);

    // With a 17-day window cara's enrolment goes to her welcome too.
    const wider = await read(owner, owner.creatorKey, 17 * 24);
    const widerAnalytics = wider.data?.node && "analytics" in wider.data.node ? wider.data.node.analytics : null;
    expect(widerAnalytics?.conversions).toMatchObject({
      attributed: 5,
      attributedRevenue: [
        { currency: "EUR", amount: 950 },
        { currency: "USD", amount: 1600 },
      ],
    });
    expect(widerAnalytics?.byMessageKind.find((k) => k.template === "welcome")).toMatchObject({
      conversions: 3,
      revenue: [{ currency: "USD", amount: 1600 }],
    });

    // A range before any message: nothing sent, rates null.
    const early = await read(owner, owner.creatorKey, undefined, ago(60), ago(50));
    const earlyAnalytics = early.data?.node && "analytics" in early.data.node ? early.data.node.analytics : null;
    expect(
      earlyAnalytics?.channels.map(({ channel, sent, deliveredRate, readRate, replyRate }) => ({
        channel,
        sent,
        deliveredRate,
        readRate,
        replyRate,
      })),
    ).toEqual([
      { channel: "EMAIL", sent: 0, ...none },
      { channel: "WHATSAPP", sent: 0, ...none },
    ]);
    expect(earlyAnalytics?.byMessageKind).toEqual([]);
  });

  it("answers the same to an admin, and nothing to another creator's key", async () => {
    const mine = await read(owner);
    const admin = await read(owner, await makeAdminKey());
    expect(admin.data).toEqual(mine.data);
    const theirs = await read(owner, other.creatorKey);
    expect(theirs.errors).toBeUndefined();
    expect(theirs.data?.node ?? null).toBeNull();
    const ingestKey = await read(owner, owner.ingestKey);
    expect(ingestKey.errors?.[0]).toMatchObject({ extensions: { code: "FORBIDDEN" } });
    // Each costs four statements over the range: a page of creators may not ask for everyone's.
    const everyone = await api.request(
      `query ($from: DateTime!, $to: DateTime!) { creators(first: 100) { edges { node { analytics(from: $from, to: $to) { conversions { count } } } } } }`,
      { from: FROM.toISOString(), to: TO.toISOString() },
      await makeAdminKey(),
    );
    expect(everyone.errors?.[0]).toMatchObject({ extensions: { code: "QUERY_LIMIT_EXCEEDED" } });
  });

  it("refuses a range backwards, too long or a window out of bounds, saying which argument", async () => {
    const cases: [Date, Date, number | undefined, string][] = [
      [TO, FROM, undefined, "to"],
      [FROM, FROM, undefined, "to"],
      [ago(400), TO, undefined, "to"],
      [FROM, TO, 0, "attributionWindowHours"],
      [FROM, TO, 2161, "attributionWindowHours"],
    ];
    for (const [from, to, window, path] of cases) {
      const answer = await read(owner, owner.creatorKey, window, from, to);
      expect(answer.data?.node ?? null, path).toBeNull();
      expect(answer.errors?.[0], `${from.toISOString()} ${to.toISOString()} ${window}`).toMatchObject({
        extensions: { code: "VALIDATION_FAILED", issues: [expect.objectContaining({ path })] },
      });
    }
    // The limits themselves are accepted.
    expect((await read(owner, owner.creatorKey, 2160, ago(366), ago(0))).errors).toBeUndefined();
    expect((await read(owner, owner.creatorKey, 1)).errors).toBeUndefined();
  });

  it("costs the same statements for a history ten times larger", async () => {
    /** `n` consumers, each welcomed by email (delivered, opened, answered) and enrolled a day later. */
    async function history(n: number) {
      const made = await makeCreator();
      const names = Array.from({ length: n }, (_, i) => `c${i}`);
      await ingest(
        made,
        names.map((consumer) => ({ consumer, type: "signup", at: ago(15) })),
      );
      const ids = await messages(
        made,
        names.map((consumer) => ({
          consumer,
          channel: "EMAIL" as const,
          status: "SENT" as const,
          at: ago(10),
          sent: true,
          rule: "welcome",
          template: "welcome",
        })),
      );
      await ingest(
        made,
        names.flatMap((consumer, i) => [
          { consumer, type: "email_delivered", at: ago(10, 1), payload: { actionId: ids[i] } },
          { consumer, type: "email_opened", at: ago(10, 2), payload: { actionId: ids[i] } },
          { consumer, type: "email_replied", at: ago(10, 3), payload: { text: "yes" } },
          { consumer, type: "enrolled", at: ago(9), payload: { amount: 10, currency: "USD" } },
        ]),
      );
      return made;
    }
    const small = await history(5);
    const large = await history(50);
    const cost = async (made: MadeCreator) => {
      const before = statements;
      const answer = await read(made);
      expect(answer.errors).toBeUndefined();
      return { count: statements - before, answer };
    };
    const few = await cost(small);
    const many = await cost(large);
    const conversions =
      many.answer.data?.node && "analytics" in many.answer.data.node
        ? many.answer.data.node.analytics.conversions
        : null;
    expect(conversions).toMatchObject({
      count: 50,
      attributed: 50,
      attributedRevenue: [{ currency: "USD", amount: 500 }],
    });
    expect(few.count).toBeGreaterThanOrEqual(4);
    expect(many.count).toBe(few.count);
    expect(many.count).toBeLessThanOrEqual(10);
  });
});

/** `count` analytics fields over [FROM, TO) in one request, each with `selection`. */
const aliased = (count: number, selection = "conversions { count }") =>
  `query ($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { ... on Creator { ${Array.from(
    { length: count },
    (_, i) => `a${i}: analytics(from: $from, to: $to) { ${selection} }`,
  ).join(" ")} } } }`;
const range = (owner: MadeCreator) => ({ id: owner.gid, from: FROM.toISOString(), to: TO.toISOString() });

describe("Creator.analytics against bad rows and heavy use", () => {
  it("leaves out amounts and prices outside 0 to a billion, stored before ingestion checked them, and answers", async () => {
    const made = await makeCreator();
    const [sprint] = coachingProfile.services;
    await makeActiveProfile(made.creator.id, {
      ...coachingProfile,
      services: [{ ...sprint, name: "Island", price: 1e300 }],
    });
    const buyers = ["huge-1", "huge-2", "negative", "billions", "island", "fine"];
    await ingest(
      made,
      buyers.map((consumer) => ({ consumer, type: "enrolled", at: ago(2), payload: { service: "Island" } })),
    );
    // Two of 1.7e308 overflowed a float8 sum: the whole field failed for any range holding them.
    await storedBeforeChecks(made, "huge-1", { amount: 1.7e308, currency: "USD" });
    await storedBeforeChecks(made, "huge-2", { amount: 1.7e308, currency: "USD" });
    await storedBeforeChecks(made, "negative", { amount: -5, currency: "USD" });
    await storedBeforeChecks(made, "billions", { amount: 2e9, currency: "USD" });
    await storedBeforeChecks(made, "fine", { amount: 100, currency: "USD" });

    const answer = await read(made);
    expect(answer.errors).toBeUndefined();
    const analytics = answer.data?.node && "analytics" in answer.data.node ? answer.data.node.analytics : null;
    // island's listed price (1e300) is out of bounds too: five without revenue.
    expect(analytics?.conversions).toEqual({
      count: 6,
      attributed: 0,
      withoutRevenue: 5,
      revenue: [{ currency: "USD", amount: 100 }],
      attributedRevenue: [],
    });
  });

  it("counts replies until 90 days after the range's end, not later", async () => {
    const made = await makeCreator();
    const people = ["prompt", "tardy"];
    await ingest(
      made,
      people.map((consumer) => ({ consumer, type: "signup", at: ago(250) })),
    );
    await messages(
      made,
      people.map((consumer) => ({
        consumer,
        channel: "EMAIL" as const,
        status: "SENT" as const,
        at: ago(200),
        sent: true,
        rule: "welcome",
        template: "welcome",
      })),
    );
    // The range ends at ago(190): prompt answers 80 days after it, tardy 100 days after it.
    await ingest(made, [
      { consumer: "prompt", type: "email_replied", at: ago(110), payload: { channel: "EMAIL", text: "Yes" } },
      { consumer: "tardy", type: "email_replied", at: ago(90), payload: { channel: "EMAIL", text: "Yes" } },
    ]);
    const answer = await read(made, made.creatorKey, undefined, ago(210), ago(190));
    const analytics = answer.data?.node && "analytics" in answer.data.node ? answer.data.node.analytics : null;
    expect(analytics?.channels.find((c) => c.channel === "EMAIL")).toMatchObject({ sent: 2, replied: 1 });
  });

  it("holds two analytics fields in a request, with every field selected, and refuses a third", async () => {
    const made = await makeCreator();
    const everything = `attributionWindowHours funnel { firstSeen byStage { stage consumers } reachedAtLeast { stage consumers } }
      messages { channel status count } webhooks { status count }
      channels { channel sent delivered read replied deliveredRate readRate replyRate conversions revenue { currency amount } }
      conversions { count attributed withoutRevenue revenue { currency amount } attributedRevenue { currency amount } }
      byMessageKind { sender channel rule template whatsAppTemplate sent delivered read replied deliveredRate readRate
        replyRate conversions revenue { currency amount } }`;
    expect((await api.request(aliased(2, everything), range(made), made.creatorKey)).errors).toBeUndefined();
    const three = await api.request(aliased(3), range(made), made.creatorKey);
    expect(three.errors?.[0]).toMatchObject({ extensions: { code: "QUERY_LIMIT_EXCEEDED", limit: "complexity" } });
  });

  it("computes at most two analytics at once in a process: the others wait their turn", async () => {
    const made = await makeCreator();
    analyticsRunning.most = 0;
    const answers = await Promise.all([1, 2, 3].map(() => api.request(aliased(2), range(made), made.creatorKey)));
    for (const answer of answers) expect(answer.errors).toBeUndefined();
    expect(analyticsRunning.most).toBeGreaterThan(0);
    expect(analyticsRunning.most).toBeLessThanOrEqual(2);
  });

  it("stops a statement that runs too long (QUERY_LIMIT_EXCEEDED), a wait too long for a turn (RATE_LIMITED), and keeps ingestion going", async () => {
    const [made, neighbour] = await Promise.all([makeCreator(), makeCreator()]);
    // A session holding creator_profiles, which the enrolments' statement reads: each computation
    // stops there, holding its connection, as a very long statement would.
    const blocker = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await blocker.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE creator_profiles IN ACCESS EXCLUSIVE MODE");
      const started = Date.now();
      const stuck = [1, 2].map(() => api.request(aliased(1), range(made), made.creatorKey));
      await eventually(async () => (analyticsRunning.now === 2 ? true : undefined), 5_000, "two blocked computations");
      const third = await api.request(aliased(1), range(made), made.creatorKey);
      expect(third.status).toBe(429);
      expect(third.errors?.[0]).toMatchObject({ extensions: { code: "RATE_LIMITED", retryAfterSeconds: 5 } });

      // Two computations hold two of the pool's connections at most: another creator's events go in.
      const ingestStarted = Date.now();
      const ingested = await api.request(
        IngestEvent,
        { creatorId: neighbour.gid, event: { consumer: { externalId: "visitor" }, type: "page_view" } },
        neighbour.ingestKey,
      );
      expect(ingested.data?.ingestEvent.__typename).toBe("IngestedEvent");
      expect(Date.now() - ingestStarted).toBeLessThan(2_000);

      for (const answer of await Promise.all(stuck)) {
        expect(answer.errors?.[0]).toMatchObject({ extensions: { code: "QUERY_LIMIT_EXCEEDED", limit: "time" } });
        expect(answer.errors?.[0].message).toMatch(/shorter range/);
      }
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await blocker.query("ROLLBACK");
      await blocker.end();
    }
    // Their connections went back to the pool, rolled back: the next computation runs.
    expect((await read(made)).errors).toBeUndefined();
  });
});
