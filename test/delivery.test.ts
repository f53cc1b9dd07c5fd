import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

vi.hoisted(() => {
  // Webhooks may only call the local sink.
  process.env.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1, localhost";
});

import { config } from "../src/config.js";
import { lockConsumers } from "../src/consumers/consumer-locks.js";
import { handOffToPerson } from "../src/conversations/conversation-store.js";
import { db } from "../src/db/client.js";
import { LEASE_REASONS } from "../src/delivery/delivery-store.js";
import { DeliveryScheduler, type SchedulerOptions, startScheduler } from "../src/delivery/scheduler.js";
import { quietHoursEnd } from "../src/delivery/send-rules.js";
import { publishFeed } from "../src/pubsub.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import {
  emailTo,
  type HttpSink,
  makeConsumer,
  makeDeliveryCreator,
  planActions,
  type SmtpSink,
  startHttpSink,
  startSmtpSink,
  testClock,
  testProviders,
  UNLIMITED_RATES,
  WHATSAPP_PHONE_NUMBER_ID,
  WHATSAPP_TOKEN,
  wamidOf,
  webhookTo,
  whatsAppAccepted,
  whatsAppTo,
} from "./support/delivery-fixtures.js";
import { toGlobalId } from "./support/ids.js";
import { eventually } from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

const ActionUpdates = graphql(`
  subscription DeliveryActionUpdates($creatorId: ID) {
    actionUpdates(creatorId: $creatorId) {
      id
      status
      statusReason
      sendAt
    }
  }
`);

/** 16:00 in Paris, 10:00 in New York: outside the usual quiet hours. */
const T0 = new Date("2026-03-10T15:00:00.000Z");
const minutes = (n: number) => n * 60_000;

const api = useApi();
let smtp: SmtpSink;
let whatsapp: HttpSink;
let hooks: HttpSink;
let clock: ReturnType<typeof testClock>;
let scheduler: DeliveryScheduler;
const extraSchedulers: DeliveryScheduler[] = [];

/** A scheduler on the test clock and the local sinks; options override the defaults. */
function newScheduler(options: SchedulerOptions = {}, timeoutMs?: number): DeliveryScheduler {
  const made = new DeliveryScheduler({
    now: clock.now,
    providers: testProviders({ smtpUrl: smtp.url, whatsAppUrl: whatsapp.url }, timeoutMs),
    sendRates: UNLIMITED_RATES,
    batchSize: 50,
    ...options,
  });
  extraSchedulers.push(made);
  return made;
}

const reload = (id: string) => db.action.findUniqueOrThrow({ where: { id } });

/** Counts the SQL statements every pooled client sends until `stop`, whoever sends them. */
function countStatements(): { stop(): number } {
  const original = pg.Client.prototype.query;
  let statements = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements += 1;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return {
    stop() {
      pg.Client.prototype.query = original;
      return statements;
    },
  };
}
const deliveriesTo = (sink: HttpSink) => sink.received.map((r) => r.headers["x-closer-delivery"]);

beforeAll(async () => {
  [smtp, whatsapp, hooks] = await Promise.all([startSmtpSink(), startHttpSink(), startHttpSink()]);
});

beforeEach(() => {
  clock = testClock(T0);
  for (const sink of [smtp, whatsapp, hooks]) sink.received.length = 0;
  whatsapp.reply = whatsAppAccepted;
  hooks.reply = () => ({ status: 200, body: { ok: true } });
  scheduler = newScheduler();
});

afterEach(async () => {
  await Promise.all(extraSchedulers.splice(0).map((s) => s.close()));
  // Whatever a test left planned must not be sent by the next one.
  await db.action.updateMany({ where: { status: { in: ["PLANNED", "SENDING"] } }, data: { status: "CANCELLED" } });
});

afterAll(async () => {
  await Promise.all([smtp.close(), whatsapp.close(), hooks.close()]);
});

describe("providers", () => {
  it("sends a due email over SMTP once: SENT with its lateness, counted on the context, and an email_delivered event", async () => {
    const { creator } = await makeDeliveryCreator({ name: "Mail Creator" });
    const consumer = await makeConsumer(creator.id);
    const [due, later] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: new Date(T0.getTime() - 1500) },
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: new Date(T0.getTime() + minutes(1)) },
    ]);

    expect(await scheduler.tick()).toBe(1);

    expect(await reload(due.id)).toMatchObject({
      status: "SENT",
      attempts: 1,
      sentAt: T0,
      latenessMs: 1500,
      providerMessageId: `<${due.id}@closer.test>`,
    });
    expect((await reload(later.id)).status).toBe("PLANNED");
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.to).toEqual([consumer.email]);
    expect(mail.raw).toContain("Subject: A test message");
    expect(mail.raw).toContain("Hello from the test");
    expect(mail.raw).toContain(`Message-ID: <${due.id}@closer.test>`);

    const context = await db.consumerContext.findUniqueOrThrow({ where: { consumerId: consumer.id } });
    expect(context).toMatchObject({ emailsSent: 1, whatsappSent: 0, lastMessageAt: T0 });
    const delivered = await db.event.findFirstOrThrow({ where: { consumerId: consumer.id, type: "email_delivered" } });
    expect(delivered.payload).toMatchObject({ actionId: due.id, providerMessageId: `<${due.id}@closer.test>` });
    expect(delivered.idempotencyKey).toBe(`email_delivered:${due.id}`);
  });

  it("streams each status an action goes through, in order, even when the row has moved on when the update is read", async () => {
    const { creator, gid, creatorKey } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const feed = await subscribeSse(api.url, ActionUpdates, { creatorId: gid }, creatorKey);
    try {
      const [action] = await planActions(consumer, [
        { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: T0 },
      ]);
      await scheduler.tick();
      const id = toGlobalId("Action", action.id);
      const statuses = () =>
        feed.received.filter((m) => m.data?.actionUpdates?.id === id).map((m) => m.data?.actionUpdates?.status);
      await feed.waitFor((m) => m.data?.actionUpdates?.id === id && m.data.actionUpdates.status === "SENT");
      expect(statuses()).toEqual(["SENDING", "SENT"]);
      // An update read late (a slow subscriber, a busy API) says the change it announces, not
      // the status the row has reached since: here SENDING, read when the row says SENT.
      await publishFeed("actions", creator.id, { creatorId: creator.id, actionId: action.id, status: "SENDING" });
      await eventually(async () => (statuses().length === 3 ? true : undefined));
      expect(statuses()).toEqual(["SENDING", "SENT", "SENDING"]);
    } finally {
      feed.close();
    }
  });

  it("sends WhatsApp in the Cloud API's shape and keeps the message id it answers", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const [action] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: T0 },
    ]);

    await scheduler.tick();

    expect(whatsapp.received).toHaveLength(1);
    const [request] = whatsapp.received;
    expect(request.method).toBe("POST");
    expect(request.path).toBe(`/v19.0/${WHATSAPP_PHONE_NUMBER_ID}/messages`);
    expect(request.headers.authorization).toBe(`Bearer ${WHATSAPP_TOKEN}`);
    expect(JSON.parse(request.body)).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: consumer.phone,
      type: "text",
      text: { body: "Hello on WhatsApp", preview_url: false },
    });
    expect(await reload(action.id)).toMatchObject({ status: "SENT", providerMessageId: wamidOf(request), attempts: 1 });
    const context = await db.consumerContext.findUniqueOrThrow({ where: { consumerId: consumer.id } });
    expect(context).toMatchObject({ whatsappSent: 1, emailsSent: 0, lastMessageAt: T0 });
  });

  it("POSTs a webhook signed with HMAC-SHA256 over timestamp and body", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [action] = await planActions(consumer, [
      { channel: "WEBHOOK", payload: webhookTo(`${hooks.url}/crm`, { stage: "engaged" }), sendAt: T0 },
    ]);

    await scheduler.tick();

    expect(hooks.received).toHaveLength(1);
    const [request] = hooks.received;
    expect(request.path).toBe("/crm");
    expect(JSON.parse(request.body)).toEqual({ id: action.id, event: "lead.update", data: { stage: "engaged" } });
    const timestamp = request.headers["x-closer-timestamp"] as string;
    const expected = createHmac("sha256", config().WEBHOOK_SIGNING_SECRET)
      .update(`${timestamp}.${request.body}`)
      .digest("hex");
    expect(request.headers["x-closer-signature"]).toBe(`sha256=${expected}`);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(request.headers["x-closer-delivery"]).toBe(action.id);
    expect(await reload(action.id)).toMatchObject({ status: "SENT", providerMessageId: null });
    // A webhook tells a machine, not the consumer: no message is counted.
    const context = await db.consumerContext.findUniqueOrThrow({ where: { consumerId: consumer.id } });
    expect(context).toMatchObject({ emailsSent: 0, whatsappSent: 0, lastMessageAt: null });
  });
});

describe("scheduling", () => {
  it("sends due actions higher priority first, then earlier sendAt, and nothing before it is due", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const hook = (name: string) => webhookTo(hooks.url, { name });
    const [low, high, highEarlier, mid, notDue] = await planActions(consumer, [
      { channel: "WEBHOOK", payload: hook("low"), sendAt: new Date(T0.getTime() - minutes(10)), priority: 0.5 },
      { channel: "WEBHOOK", payload: hook("high"), sendAt: new Date(T0.getTime() - minutes(1)), priority: 2 },
      { channel: "WEBHOOK", payload: hook("highEarlier"), sendAt: new Date(T0.getTime() - minutes(5)), priority: 2 },
      { channel: "WEBHOOK", payload: hook("mid"), sendAt: new Date(T0.getTime() - minutes(30)), priority: 1 },
      { channel: "WEBHOOK", payload: hook("notDue"), sendAt: new Date(T0.getTime() + 1), priority: 9 },
    ]);
    const oneAtATime = newScheduler({ batchSize: 1 });

    for (let i = 0; i < 4; i++) expect(await oneAtATime.tick()).toBe(1);
    expect(await oneAtATime.tick()).toBe(0);

    expect(deliveriesTo(hooks)).toEqual([highEarlier.id, high.id, mid.id, low.id]);
    expect((await reload(notDue.id)).status).toBe("PLANNED");
  });

  it("recovers actions whose worker stopped: planned again if never dispatched, failed as interrupted otherwise", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const expired = new Date(T0.getTime() - config().DELIVERY_LEASE_MS - 1000);
    const [neverDispatched, dispatched, stillLeased] = await planActions(consumer, [
      { channel: "WEBHOOK", payload: webhookTo(hooks.url), sendAt: expired, status: "SENDING", claimedAt: expired },
      {
        channel: "WEBHOOK",
        payload: webhookTo(hooks.url),
        sendAt: expired,
        status: "SENDING",
        claimedAt: expired,
        dispatchedAt: expired,
      },
      {
        channel: "WEBHOOK",
        payload: webhookTo(hooks.url),
        sendAt: expired,
        status: "SENDING",
        claimedAt: new Date(T0.getTime() - minutes(1)),
      },
    ]);

    await scheduler.tick();

    expect(await reload(neverDispatched.id)).toMatchObject({ status: "SENT", attempts: 1 });
    expect(await reload(dispatched.id)).toMatchObject({
      status: "FAILED",
      statusReason: LEASE_REASONS.interrupted,
      attempts: 1,
      outcomeUnknown: true,
    });
    expect((await reload(stillLeased.id)).status).toBe("SENDING");
    expect(deliveriesTo(hooks)).toEqual([neverDispatched.id]);
  });

  it("fails an action whose payload is malformed, without calling a provider", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [action] = await planActions(consumer, [
      { channel: "EMAIL", payload: { to: "not-an-address", message: "hi", template: "t" }, sendAt: T0 },
    ]);

    await scheduler.tick();

    const failed = await reload(action.id);
    expect(failed).toMatchObject({ status: "FAILED", attempts: 0 });
    expect(failed.statusReason).toMatch(/^invalid EMAIL payload: to: /);
    expect(smtp.received).toHaveLength(0);
  });

  it("refuses a webhook to a host outside WEBHOOK_ALLOWED_HOSTS, without calling it", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [action] = await planActions(consumer, [
      { channel: "WEBHOOK", payload: webhookTo("http://169.254.169.254/latest/meta-data"), sendAt: T0 },
    ]);

    await scheduler.tick();

    const failed = await reload(action.id);
    expect(failed).toMatchObject({ status: "FAILED", attempts: 0 });
    expect(failed.statusReason).toMatch(/host is not in WEBHOOK_ALLOWED_HOSTS/);
  });
});

describe("send-time rules", () => {
  it("skips a consumer without consent on the channel, or who withdrew it, and says so on the feed", async () => {
    const { creator, gid, creatorKey } = await makeDeliveryCreator();
    const never = await makeConsumer(creator.id, { consents: [] });
    const withdrew = await makeConsumer(creator.id, { consents: ["WHATSAPP"], withdrawn: ["EMAIL"] });
    const [toNever] = await planActions(never, [
      { channel: "EMAIL", payload: emailTo(never.email as string), sendAt: T0 },
    ]);
    const [toWithdrew] = await planActions(withdrew, [
      { channel: "EMAIL", payload: emailTo(withdrew.email as string), sendAt: T0 },
    ]);
    const feed = await subscribeSse(api.url, ActionUpdates, { creatorId: gid }, creatorKey);

    await scheduler.tick();

    expect(await reload(toNever.id)).toMatchObject({ status: "SKIPPED", statusReason: "no EMAIL consent" });
    expect(await reload(toWithdrew.id)).toMatchObject({
      status: "SKIPPED",
      statusReason: "EMAIL consent withdrawn (test)",
    });
    expect(smtp.received).toHaveLength(0);
    for (const action of [toNever, toWithdrew]) {
      const update = await feed.waitFor((m) => m.data?.actionUpdates?.id === toGlobalId("Action", action.id));
      expect(update.data?.actionUpdates).toMatchObject({
        status: "SKIPPED",
        statusReason: expect.stringMatching(/consent/),
      });
    }
    feed.close();
  });

  it("defers a message in the consumer's quiet hours to the next allowed time (DEFER), then sends it", async () => {
    const { creator, gid, creatorKey } = await makeDeliveryCreator({
      timezone: "Europe/Paris",
      quietHoursStart: "21:00",
      quietHoursEnd: "08:00",
      quietHoursPolicy: "DEFER",
    });
    const consumer = await makeConsumer(creator.id, { timezone: "America/New_York" });
    // 06:00 in New York (quiet), 11:00 in Paris (not): the consumer's zone decides.
    clock.set(new Date("2026-03-10T10:00:00.000Z"));
    const [action] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: clock.now() },
    ]);
    const feed = await subscribeSse(api.url, ActionUpdates, { creatorId: gid }, creatorKey);

    await scheduler.tick();

    const endOfQuiet = new Date("2026-03-10T12:00:00.000Z"); // 08:00 in New York (EDT)
    const reason = `quiet hours 21:00-08:00 (America/New_York): deferred to ${endOfQuiet.toISOString()}`;
    expect(await reload(action.id)).toMatchObject({ status: "PLANNED", sendAt: endOfQuiet, statusReason: reason });
    expect(smtp.received).toHaveLength(0);
    const update = await feed.waitFor((m) => m.data?.actionUpdates?.statusReason === reason);
    expect(update.data?.actionUpdates).toMatchObject({ status: "PLANNED", sendAt: endOfQuiet.toISOString() });
    feed.close();

    clock.set(new Date(endOfQuiet.getTime() - 1000));
    expect(await scheduler.tick()).toBe(0);
    clock.set(endOfQuiet);
    await scheduler.tick();
    expect(await reload(action.id)).toMatchObject({ status: "SENT", latenessMs: 0, statusReason: null });
    expect(smtp.received).toHaveLength(1);
  });

  it.each([
    ["before a spring-forward morning", "2026-03-08T05:00:00Z", "2026-03-08T12:00:00.000Z"],
    ["before a fall-back morning", "2026-11-01T04:00:00Z", "2026-11-01T13:00:00.000Z"],
    ["in the evening part", "2026-03-11T01:00:00Z", "2026-03-11T12:00:00.000Z"],
    ["in the last minute", "2026-03-10T11:59:30Z", "2026-03-10T12:00:00.000Z"],
    ["at the end itself", "2026-03-10T12:00:00Z", null],
    ["in the afternoon", "2026-06-01T15:00:00Z", null],
  ])("ends New York quiet hours 21:00-08:00 at 08:00 local time, %s", (_case, at, end) => {
    const quiet = { start: 21 * 60, end: 8 * 60, timezone: "America/New_York" };
    expect(quietHoursEnd(new Date(at), quiet)?.toISOString() ?? null).toBe(end);
  });

  it("skips a message in the creator's quiet hours when the policy is SKIP; webhooks are not held", async () => {
    const { creator } = await makeDeliveryCreator({
      timezone: "Asia/Tokyo",
      quietHoursStart: "22:00",
      quietHoursEnd: "07:00",
      quietHoursPolicy: "SKIP",
    });
    const consumer = await makeConsumer(creator.id);
    clock.set(new Date("2026-03-10T14:00:00.000Z")); // 23:00 in Tokyo
    const [email, hook] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: clock.now() },
      { channel: "WEBHOOK", payload: webhookTo(hooks.url), sendAt: clock.now() },
    ]);

    await scheduler.tick();

    expect(await reload(email.id)).toMatchObject({
      status: "SKIPPED",
      statusReason: "quiet hours 22:00-07:00 (Asia/Tokyo)",
    });
    expect((await reload(hook.id)).status).toBe("SENT");
    expect(smtp.received).toHaveLength(0);
  });

  it("caps messages per channel and consumer over a rolling window, counting only SENT ones inside it", async () => {
    const { creator } = await makeDeliveryCreator({
      frequencyCaps: [{ channel: "EMAIL", max: 2, windowHours: 24 }],
    });
    const consumer = await makeConsumer(creator.id);
    const email = emailTo(consumer.email as string);
    await planActions(consumer, [
      {
        channel: "EMAIL",
        payload: email,
        sendAt: T0,
        status: "SENT",
        sentAt: new Date(T0.getTime() - minutes(25 * 60)),
      },
      { channel: "EMAIL", payload: email, sendAt: T0, status: "SENT", sentAt: new Date(T0.getTime() - minutes(60)) },
      { channel: "EMAIL", payload: email, sendAt: T0, status: "FAILED" },
    ]);
    const due = await planActions(consumer, [
      { channel: "EMAIL", payload: email, sendAt: T0 },
      { channel: "EMAIL", payload: email, sendAt: T0 },
    ]);

    await scheduler.tick();

    const outcomes = await Promise.all(due.map((a) => reload(a.id)));
    expect(outcomes.map((a) => a.status).sort()).toEqual(["SENT", "SKIPPED"]);
    expect(outcomes.find((a) => a.status === "SKIPPED")?.statusReason).toBe(
      "frequency cap reached: 2 EMAIL messages in 24 h",
    );
    expect(smtp.received).toHaveLength(1);
  });

  it("counts against the cap a send whose outcome is unknown: it may have reached the consumer", async () => {
    const { creator } = await makeDeliveryCreator({ frequencyCaps: [{ channel: "EMAIL", max: 1, windowHours: 24 }] });
    const consumer = await makeConsumer(creator.id);
    const email = emailTo(consumer.email as string);
    const anHourAgo = new Date(T0.getTime() - minutes(60));
    const [cutOff] = await planActions(consumer, [
      { channel: "EMAIL", payload: email, sendAt: anHourAgo, status: "FAILED", dispatchedAt: anHourAgo },
    ]);
    await db.action.update({ where: { id: cutOff.id }, data: { outcomeUnknown: true } });
    const [next] = await planActions(consumer, [{ channel: "EMAIL", payload: email, sendAt: T0 }]);

    await scheduler.tick();

    expect(await reload(next.id)).toMatchObject({
      status: "SKIPPED",
      statusReason: "frequency cap reached: 1 EMAIL messages in 24 h",
    });
    expect(smtp.received).toHaveLength(0);
  });

  it("caps a person's messages by people's alone: the agent's do not use up their allowance, a loop is still held", async () => {
    // The agent has used the day's one email; a person then writes twice.
    const { creator } = await makeDeliveryCreator({ frequencyCaps: [{ channel: "EMAIL", max: 1, windowHours: 24 }] });
    const consumer = await makeConsumer(creator.id);
    const email = emailTo(consumer.email as string);
    await planActions(consumer, [
      { channel: "EMAIL", payload: email, sendAt: T0, status: "SENT", sentAt: new Date(T0.getTime() - minutes(60)) },
    ]);
    const [agents] = await planActions(consumer, [{ channel: "EMAIL", payload: email, sendAt: T0 }]);
    const personal = (sequence: number, sendAt: Date) =>
      db.action.create({
        data: {
          creatorId: creator.id,
          consumerId: consumer.id,
          sequence,
          channel: "EMAIL",
          payload: { ...email, template: "person" },
          sendAt,
          sentBy: "creator:test",
        },
      });
    const first = await personal(1, T0);
    const second = await personal(2, T0);

    await scheduler.tick();

    expect(await reload(agents.id)).toMatchObject({
      status: "SKIPPED",
      statusReason: "frequency cap reached: 1 EMAIL messages in 24 h",
    });
    // Both are due in one tick and sent side by side: whichever goes first, the other is held.
    const people = await Promise.all([first, second].map((a) => reload(a.id)));
    expect(people.map((a) => a.status).sort()).toEqual(["SENT", "SKIPPED"]);
    expect(people.find((a) => a.status === "SKIPPED")?.statusReason).toBe(
      "frequency cap reached: 1 EMAIL messages from people in 24 h",
    );
    expect(smtp.received).toHaveLength(1);
  });

  it("applies the default cap where the creator set none: 3 WhatsApp messages a day, even when sent concurrently", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const due = await planActions(
      consumer,
      Array.from({ length: 6 }, () => ({
        channel: "WHATSAPP" as const,
        payload: whatsAppTo(consumer.phone as string),
        sendAt: T0,
      })),
    );

    await scheduler.tick();

    const statuses = await Promise.all(due.map(async (a) => (await reload(a.id)).status));
    expect(statuses.filter((s) => s === "SENT")).toHaveLength(3);
    expect(statuses.filter((s) => s === "SKIPPED")).toHaveLength(3);
    expect(whatsapp.received).toHaveLength(3);
  });

  it("holds sends over a provider's rate limit until the bucket has a send again, without sending them", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const due = await planActions(
      consumer,
      Array.from({ length: 4 }, () => ({ channel: "WEBHOOK" as const, payload: webhookTo(hooks.url), sendAt: T0 })),
    );
    // Two sends in the bucket, refilled far slower than the test runs.
    const limited = newScheduler({ sendRates: { ...UNLIMITED_RATES, WEBHOOK: { perSecond: 0.001, burst: 2 } } });

    await limited.tick();
    await limited.tick();

    const after = await Promise.all(due.map((a) => reload(a.id)));
    expect(after.filter((a) => a.status === "SENT")).toHaveLength(2);
    const held = after.filter((a) => a.status === "PLANNED");
    expect(held).toHaveLength(2);
    for (const action of held) {
      expect(action.statusReason).toBe("send rate of webhook (0.001/s) reached: waiting for a send to be allowed");
      // Held until its turn at 0.001/s (1,000 s per send, one after the other), so no scheduler
      // churns on it before; still due since T0, which its lateness will count from.
      expect(action.sendAt.getTime() - T0.getTime()).toBeGreaterThan(900_000);
      expect(action.sendAt.getTime() - T0.getTime()).toBeLessThanOrEqual(2_000_000);
      expect(action.firstDueAt).toEqual(T0);
    }
    expect(hooks.received).toHaveLength(2);
    // One after the other, not all at the next send: each waits for a send of its own.
    const turns = held.map((a) => a.sendAt.getTime()).sort();
    expect(turns[1] - turns[0]).toBeGreaterThan(900_000);
  });
});

describe("batches", () => {
  it("sends a batch in a number of SQL statements that does not grow with it: rules, marks and outcome events set-based", async () => {
    const statementsFor = async (consumers: number) => {
      const { creator } = await makeDeliveryCreator();
      const actions = [];
      for (let i = 0; i < consumers; i++) {
        const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
        actions.push(
          ...(await planActions(consumer, [
            { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: T0 },
            { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: T0 },
            { channel: "WEBHOOK", payload: webhookTo(hooks.url), sendAt: T0 },
          ])),
        );
      }
      // Every send of the batch has a slot: the rules run once for all of them.
      const batch = newScheduler({ batchSize: actions.length, concurrency: actions.length });
      const counted = countStatements();
      expect(await batch.tick()).toBe(actions.length);
      const statements = counted.stop();
      const sent = await db.action.count({ where: { id: { in: actions.map((a) => a.id) }, status: "SENT" } });
      expect(sent).toBe(actions.length);
      const delivered = await db.event.count({
        where: { type: "email_delivered", consumer: { creatorId: creator.id } },
      });
      expect(delivered).toBe(consumers);
      return statements;
    };
    const few = await statementsFor(2);
    const many = await statementsFor(20);
    // One action by one cost about fifteen statements (900 here). Now the rules run once, and the
    // outcomes are written in as many batches as sends ended apart: a handful, whatever the size.
    expect(many).toBeLessThan(120);
    expect(many).toBeLessThan(few * 3);
  });
});

describe("batches: each action keeps its own outcome", () => {
  it("marks the others of a group SENT when one provider answer holds what PostgreSQL cannot store (NUL)", async () => {
    const a = await makeDeliveryCreator();
    const b = await makeDeliveryCreator();
    const ca = await makeConsumer(a.creator.id);
    const cb = await makeConsumer(b.creator.id);
    const [pacer] = await planActions(ca, [
      { channel: "WEBHOOK", payload: webhookTo(hooks.url, { k: "pacer" }), sendAt: T0, priority: 9 },
    ]);
    const innocents = await planActions(ca, [
      { channel: "WEBHOOK", payload: webhookTo(hooks.url, { k: "innocent1" }), sendAt: T0 },
      { channel: "WEBHOOK", payload: webhookTo(hooks.url, { k: "innocent2" }), sendAt: T0 },
    ]);
    const [poison] = await planActions(cb, [
      { channel: "WEBHOOK", payload: webhookTo(hooks.url, { k: "poison" }), sendAt: T0 },
    ]);
    // Once the pacer is sent, its SENT mark waits on its row: the others' answers are marked together after it.
    const locker = new pg.Client({ connectionString: config().DATABASE_URL });
    await locker.connect();
    let releaseOthers: () => void = () => {};
    const others = new Promise<void>((resolve) => {
      releaseOthers = resolve;
    });
    hooks.reply = async (request) => {
      const id = request.headers["x-closer-delivery"];
      if (id === pacer.id) {
        await locker.query("BEGIN");
        await locker.query(`SELECT 1 FROM actions WHERE id = $1 FOR UPDATE`, [pacer.id]);
        return { status: 200, body: { ok: true } };
      }
      await others;
      return { status: 200, body: id === poison.id ? { note: "a\u0000b" } : { ok: true } };
    };
    const ticking = newScheduler({ concurrency: 10 }).tick();
    await eventually(async () => (hooks.received.length === 4 ? true : undefined), 20_000, "all four called");
    await sleep(300);
    releaseOthers();
    await sleep(500);
    await locker.query("COMMIT");
    await locker.end();
    await ticking;

    const rows = await Promise.all([pacer, ...innocents, poison].map((x) => reload(x.id)));
    expect(rows.map((r) => r.status)).toEqual(["SENT", "SENT", "SENT", "SENT"]);
    // Stored with the replacement character, as every unstorable text is.
    expect((rows[3].providerResponse as { body: { note: string } }).body.note).toBe("a\uFFFDb");
  });

  it("counts an action the send rate holds for no cap: a later one of the batch still goes when its turn comes", async () => {
    const { creator } = await makeDeliveryCreator({ frequencyCaps: [{ channel: "EMAIL", max: 2, windowHours: 24 }] });
    const consumer = await makeConsumer(creator.id);
    const due = await planActions(
      consumer,
      [0, 1, 2].map(() => ({ channel: "EMAIL" as const, payload: emailTo(consumer.email as string), sendAt: T0 })),
    );
    // One email in the bucket, refilled far slower than the test.
    await newScheduler({ sendRates: { ...UNLIMITED_RATES, EMAIL: { perSecond: 0.001, burst: 1 } } }).tick();

    const after = await Promise.all(due.map((a) => reload(a.id)));
    expect(smtp.received).toHaveLength(1);
    // One sent, two waiting for the send rate: the cap of 2 is not reached, none is skipped for it.
    expect(after.map((a) => a.status).sort()).toEqual(["PLANNED", "PLANNED", "SENT"]);
  });

  it("counts a reply sent earlier in the batch for the cap of the actions after it, as across batches", async () => {
    const { creator } = await makeDeliveryCreator({ frequencyCaps: [{ channel: "EMAIL", max: 1, windowHours: 24 }] });
    const outcome = async (scheduler: DeliveryScheduler, ticks: number) => {
      const consumer = await makeConsumer(creator.id);
      const email = emailTo(consumer.email as string);
      const planned = await planActions(consumer, [
        { channel: "EMAIL", payload: { ...email, inReplyTo: "evt-1" }, sendAt: T0, priority: 5 },
        { channel: "EMAIL", payload: email, sendAt: T0, priority: 1 },
      ]);
      for (let i = 0; i < ticks; i++) await scheduler.tick();
      return Promise.all(planned.map(async (a) => (await reload(a.id)).status));
    };
    // The reply is exempt from the cap, but it is a message: the marketing email after it is held to it.
    expect(await outcome(newScheduler(), 1)).toEqual(["SENT", "SKIPPED"]);
    expect(await outcome(newScheduler({ batchSize: 1, concurrency: 1 }), 2)).toEqual(["SENT", "SKIPPED"]);
  });

  it("fails alone an action whose payload check throws, and sends the rest of its batch", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const planned = await planActions(consumer, [
      { channel: "WEBHOOK", payload: webhookTo(hooks.url, { i: 1 }), sendAt: T0 },
      // Written around planMessages (which refuses it): the allow-list check throws on this URL.
      { channel: "WEBHOOK", payload: { url: "http://[::1", event: "e", data: {} }, sendAt: T0 },
      { channel: "WEBHOOK", payload: webhookTo(hooks.url, { i: 2 }), sendAt: T0 },
    ]);
    await scheduler.tick();

    const rows = await Promise.all(planned.map((a) => reload(a.id)));
    expect(rows.map((r) => r.status)).toEqual(["SENT", "FAILED", "SENT"]);
    expect(hooks.received).toHaveLength(2);
  });
});

describe("hand-offs", () => {
  it("never checks an agent's message while a hand-off that creates its conversation is committing: it sees the hand-off", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [action] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: T0 },
    ]);
    // The agent store's hand-off (an objection sent from the site: no conversation yet), held open.
    const handOff = new pg.Client({ connectionString: config().DATABASE_URL });
    await handOff.connect();
    await handOff.query("BEGIN");
    await lockConsumers(handOff, [consumer.id], "exclusive");
    await handOffToPerson(handOff, {
      creatorId: creator.id,
      consumerId: consumer.id,
      channel: "EMAIL",
      reason: "refund request",
      at: T0,
    });
    const ticking = scheduler.tick();
    await sleep(500);
    await handOff.query("COMMIT");
    await handOff.end();
    await ticking;

    expect(await reload(action.id)).toMatchObject({
      status: "SKIPPED",
      statusReason: "conversation handed off to a person",
    });
    expect(smtp.received).toHaveLength(0);
  });
});

describe("failures", () => {
  it("retries a provider failure with backoff and delivers once when it recovers", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const [action] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: T0 },
    ]);
    whatsapp.reply = (request) =>
      whatsapp.received.length === 1
        ? { status: 500, body: { error: { message: "An unknown error occurred", code: 1 } } }
        : whatsAppAccepted(request);

    await scheduler.tick();
    const retryAt = new Date(T0.getTime() + config().DELIVERY_RETRY_DELAY_MS);
    expect(await reload(action.id)).toMatchObject({
      status: "PLANNED",
      attempts: 1,
      sendAt: retryAt,
      statusReason: `attempt 1 of 3 failed (HTTP 500): retrying at ${retryAt.toISOString()}`,
      providerResponse: { status: 500, body: { error: { message: "An unknown error occurred", code: 1 } } },
    });
    expect(await scheduler.tick()).toBe(0);

    clock.set(retryAt);
    await scheduler.tick();

    expect(await reload(action.id)).toMatchObject({ status: "SENT", attempts: 2 });
    expect(whatsapp.received.map((r) => r.answer?.status)).toEqual([500, 200]);
    expect((await db.consumerContext.findUniqueOrThrow({ where: { consumerId: consumer.id } })).whatsappSent).toBe(1);
  });

  it("fails after the configured attempts, keeping the provider's answer", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const [action] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: T0 },
    ]);
    const unavailable = { error: { message: "Service temporarily unavailable", code: 131016 } };
    whatsapp.reply = () => ({ status: 503, body: unavailable });
    const { DELIVERY_MAX_ATTEMPTS: maxAttempts, DELIVERY_RETRY_DELAY_MS: delay } = config();

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      await scheduler.tick();
      clock.advance(delay * 2 ** (attempt - 1));
    }

    expect(await reload(action.id)).toMatchObject({
      status: "FAILED",
      attempts: maxAttempts,
      statusReason: `failed after ${maxAttempts} of ${maxAttempts} attempts: HTTP 503`,
      providerResponse: { status: 503, body: unavailable },
    });
    expect(whatsapp.received).toHaveLength(maxAttempts);
    expect(await db.action.count({ where: { invocationId: action.invocationId } })).toBe(1);
  });

  it("keeps a person's message theirs when it falls back to the other channel", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const written = await db.action.create({
      data: {
        creatorId: creator.id,
        consumerId: consumer.id,
        sequence: 0,
        channel: "WHATSAPP",
        payload: whatsAppTo(consumer.phone as string, "Your refund is on its way", {
          fallback: { channel: "EMAIL", to: consumer.email },
        }),
        sendAt: T0,
        sentBy: "creator:maya",
      },
    });
    whatsapp.reply = () => ({
      status: 400,
      body: { error: { message: "(#131026) Message undeliverable", code: 131026 } },
    });

    await scheduler.tick();

    expect(await reload(written.id)).toMatchObject({ status: "FAILED" });
    const fallback = await db.action.findFirstOrThrow({ where: { consumerId: consumer.id, channel: "EMAIL" } });
    // Still the person's: the agent's rules (hand-offs, its share of the cap) do not apply to it.
    expect(fallback).toMatchObject({ invocationId: null, sentBy: "creator:maya" });
  });

  it("fails a refused message at once and sends its fallback on the other channel", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const [action] = await planActions(consumer, [
      {
        channel: "WHATSAPP",
        payload: whatsAppTo(consumer.phone as string, "Your spot is waiting", {
          fallback: { channel: "EMAIL", to: consumer.email, subject: "Your spot is waiting" },
        }),
        sendAt: T0,
        priority: 3,
      },
    ]);
    whatsapp.reply = () => ({
      status: 400,
      body: { error: { message: "(#131026) Message undeliverable", code: 131026 } },
    });

    await scheduler.tick();

    expect(await reload(action.id)).toMatchObject({ status: "FAILED", attempts: 1 });
    const fallback = await db.action.findFirstOrThrow({ where: { invocationId: action.invocationId, sequence: 2 } });
    expect(fallback).toMatchObject({
      channel: "EMAIL",
      status: "PLANNED",
      priority: 3,
      sendAt: T0,
      statusReason: `fallback for action ${action.id}: WHATSAPP failed`,
      payload: {
        to: consumer.email,
        subject: "Your spot is waiting",
        message: "Your spot is waiting",
        template: "test",
      },
    });

    await scheduler.tick();

    expect((await reload(fallback.id)).status).toBe("SENT");
    expect(smtp.received.map((m) => m.to)).toEqual([[consumer.email]]);
    expect(whatsapp.received).toHaveLength(1);
  });

  it("turns an SMTP refusal into email_bounced, and retries an SMTP 'try later'", async () => {
    const { creator } = await makeDeliveryCreator();
    const bounced = await makeConsumer(creator.id, { email: "bounce-me@example.test" });
    const busy = await makeConsumer(creator.id, { email: "busy-now@example.test" });
    const [toBounced] = await planActions(bounced, [
      { channel: "EMAIL", payload: emailTo("bounce-me@example.test"), sendAt: T0 },
    ]);
    const [toBusy] = await planActions(busy, [
      { channel: "EMAIL", payload: emailTo("busy-now@example.test"), sendAt: T0 },
    ]);

    await scheduler.tick();

    const refused = await reload(toBounced.id);
    expect(refused).toMatchObject({ status: "FAILED", attempts: 1, outcomeUnknown: false });
    expect(refused.statusReason).toMatch(/^refused by the provider: 550 /);
    expect(refused.providerResponse).toMatchObject({ responseCode: 550, command: "RCPT TO" });
    const bounce = await db.event.findFirstOrThrow({ where: { consumerId: bounced.id, type: "email_bounced" } });
    expect(bounce.payload).toMatchObject({ actionId: toBounced.id });
    expect(await reload(toBusy.id)).toMatchObject({ status: "PLANNED", attempts: 1 });
    expect(smtp.received).toHaveLength(0);
  });

  it("never retries a send whose outcome is unknown (no answer in time): at most once", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: T0 });
    const [action] = await planActions(consumer, [
      {
        channel: "WHATSAPP",
        payload: whatsAppTo(consumer.phone as string, "hi", { fallback: { channel: "EMAIL", to: consumer.email } }),
        sendAt: T0,
      },
    ]);
    whatsapp.reply = (request) => ({ ...whatsAppAccepted(request), delayMs: 1_000 });
    const impatient = newScheduler({}, 200);

    await impatient.tick();
    clock.advance(minutes(60));
    await impatient.tick();

    const failed = await reload(action.id);
    expect(failed).toMatchObject({ status: "FAILED", attempts: 1, outcomeUnknown: true });
    expect(failed.statusReason).toBe(
      "outcome unknown, not retried (the message may have gone out): no answer within 200 ms",
    );
    expect(whatsapp.received).toHaveLength(1);
    expect(await db.action.count({ where: { invocationId: action.invocationId } })).toBe(1);
  });
});

describe("stopping", () => {
  it("lets the sends in flight finish and gives the rest of the batch back, planned, for another scheduler", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const actions = await planActions(
      consumer,
      Array.from({ length: 12 }, () => ({ channel: "WEBHOOK" as const, payload: webhookTo(hooks.url), sendAt: T0 })),
    );
    hooks.reply = () => ({ status: 200, body: { ok: true }, delayMs: 300 });
    const running = startScheduler({
      now: clock.now,
      providers: testProviders({ smtpUrl: smtp.url, whatsAppUrl: whatsapp.url }),
      sendRates: UNLIMITED_RATES,
      batchSize: 12,
      concurrency: 2,
      intervalMs: 50,
    });
    // Two sends at a time, 300 ms each: only the first ones have started when the stop comes.
    await eventually(async () => (hooks.received.length > 0 ? true : undefined), 5_000, "first send started");
    const stopAsked = Date.now();
    await running.stop();
    const stopMs = Date.now() - stopAsked;

    const rows = await db.action.findMany({ where: { id: { in: actions.map((a) => a.id) } } });
    const sent = rows.filter((r) => r.status === "SENT");
    const planned = rows.filter((r) => r.status === "PLANNED");
    // What had started was sent, once; nothing else was, nothing is left SENDING or FAILED.
    expect(sent.length).toBe(hooks.received.length);
    expect(sent.length + planned.length).toBe(12);
    expect(planned.length).toBeGreaterThanOrEqual(8);
    expect(planned.every((r) => r.claimedAt === null && r.leaseExpiresAt === null)).toBe(true);
    // It waited for the sends in flight (one round of 300 ms), not for the whole batch.
    expect(stopMs).toBeLessThan(300 * 3);
  });
});
