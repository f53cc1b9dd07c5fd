import { randomInt, randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { makeAdminKey } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { recordCallbackItems } from "../src/whatsapp/callback-store.js";
import { MAX_INBOUND_TEXT_CHARS, sweepCallbackItems } from "../src/whatsapp/callbacks.js";
import { useApi } from "./support/api.js";
import {
  type HttpSink,
  makeDeliveryCreator,
  makeConsumer as makeFixtureConsumer,
  planActions,
  WHATSAPP_PHONE_NUMBER_ID as SHARED,
  sendDue,
  startHttpSink,
  testProviders,
  wamidOf,
  whatsAppAccepted,
  whatsAppTo,
} from "./support/delivery-fixtures.js";
import { toGlobalId } from "./support/ids.js";
import { postWhatsApp, unixSeconds, whatsAppNotification } from "./support/whatsapp-notifications.js";

const api = useApi();
let whatsapp: HttpSink;
let adminKey: string;

beforeAll(async () => {
  whatsapp = await startHttpSink();
  adminKey = await makeAdminKey();
});

beforeEach(() => {
  whatsapp.received.length = 0;
  whatsapp.reply = whatsAppAccepted;
});

afterAll(async () => {
  await whatsapp.close();
});

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms);
/** A valid San Francisco number nobody else in this file has. */
const newPhone = () => `+1415${randomInt(2_000_000, 10_000_000)}`;
const waIdOf = (e164: string) => e164.slice(1);
const seconds = unixSeconds;
const notification = whatsAppNotification;

/** Posts a signed notification, as Meta does; answers the HTTP status. */
const post = async (body: string) => (await postWhatsApp(api.url, body)).status;

type Inbound = { from: string; text: string; id?: string; context?: string; name?: string };

function message({ from, text, id = `wamid.in-${randomUUID()}`, context }: Inbound) {
  return {
    from,
    id,
    timestamp: seconds(new Date()),
    type: "text",
    text: { body: text },
    ...(context ? { context: { from: "15550783881", id: context } } : {}),
  };
}

/** One inbound text message received on `phoneNumberId`; answers the HTTP status and the message id. */
async function inbound(input: Inbound, phoneNumberId = SHARED) {
  const item = message(input);
  const contacts = [{ profile: { name: input.name ?? "Someone" }, wa_id: input.from }];
  return { status: await post(notification({ contacts, messages: [item] }, phoneNumberId)), id: item.id };
}

/** A WhatsApp message the creator's agent sent the consumer `sentAgo` ago, from `sentFrom` (the shared number by default). */
async function wroteTo(
  consumer: { id: string; creatorId: string; phone: string | null },
  sentAgo: number,
  sentFrom = SHARED,
) {
  const wamid = `wamid.out-${randomUUID()}`;
  const [action] = await planActions(consumer, [
    {
      channel: "WHATSAPP",
      payload: whatsAppTo(consumer.phone as string, "Still interested?"),
      sendAt: ago(sentAgo),
      status: "SENT",
      sentAt: ago(sentAgo),
      providerMessageId: wamid,
    },
  ]);
  await db.action.update({ where: { id: action.id }, data: { sentFrom } });
  return { action, wamid };
}

/** A consumer who consented a day ago (a STOP, stamped to the second, comes after it). */
async function makeConsumer(creatorId: string, options: { phone?: string; wroteOnWhatsAppAt?: Date } = {}) {
  const consumer = await makeFixtureConsumer(creatorId, options);
  await db.consumerConsent.updateMany({ where: { consumerId: consumer.id }, data: { changedAt: ago(24 * HOUR) } });
  return consumer;
}

const eventsOf = (consumerId: string, type?: string) =>
  db.event.findMany({ where: { consumerId, ...(type ? { type } : {}) }, orderBy: { receivedAt: "asc" } });

const whatsAppConsent = async (consumerId: string) =>
  (await db.consumerConsent.findUniqueOrThrow({ where: { consumerId_channel: { consumerId, channel: "WHATSAPP" } } }))
    .status;

const itemOf = (providerMessageId: string) =>
  db.whatsAppCallbackItem.findUniqueOrThrow({ where: { itemKey: `message:${providerMessageId}` } });

const CallbackItems = `
  query CallbackItems($outcome: [CallbackItemOutcome!]) {
    whatsAppCallbackItems(outcome: $outcome, first: 100) {
      edges { node { id kind itemKey from outcome reason attempts creators { handle } } }
    }
  }`;

type ItemsAnswer = {
  whatsAppCallbackItems: {
    edges: {
      node: {
        id: string;
        itemKey: string;
        from: string | null;
        outcome: string;
        reason: string | null;
        attempts: number;
        creators: { handle: string }[];
      };
    }[];
  };
};

async function listedItem(key: string) {
  const answer = await api.request<ItemsAnswer, { outcome?: string[] }>(CallbackItems, {}, adminKey);
  expect(answer.errors).toBeUndefined();
  return answer.data?.whatsAppCallbackItems.edges.map((e) => e.node).find((n) => n.itemKey === key);
}

const SetSender = `
  mutation SetSender($creatorId: ID!, $phoneNumberId: String!, $accessToken: String!) {
    setWhatsAppSender(creatorId: $creatorId, input: { phoneNumberId: $phoneNumberId, accessToken: $accessToken }) {
      __typename
      ... on Creator { whatsAppSender { phoneNumberId shared } }
      ... on Error { code message }
    }
  }`;

type SetSenderAnswer = {
  setWhatsAppSender: {
    __typename: string;
    whatsAppSender?: { phoneNumberId: string; shared: boolean };
    code?: string;
    message?: string;
  };
};

async function ownNumber(creatorId: string) {
  const phoneNumberId = String(randomInt(1e11, 2e11));
  const accessToken = `EAAG-own-token-${randomUUID()}`;
  const answer = await api.request<SetSenderAnswer, Record<string, string>>(
    SetSender,
    { creatorId: toGlobalId("Creator", creatorId), phoneNumberId, accessToken },
    adminKey,
  );
  expect(answer.data?.setWhatsAppSender).toEqual({
    __typename: "Creator",
    whatsAppSender: { phoneNumberId, shared: false },
  });
  return { phoneNumberId, accessToken };
}

describe("routing on the shared number", () => {
  it("gives a reply without context to the creator that wrote to the number last within 24 hours, never to one that only ingested it", async () => {
    const phone = newPhone();
    const [wroteLast, wroteOutsideWindow, ingestedLast] = await Promise.all([
      makeDeliveryCreator(),
      makeDeliveryCreator(),
      makeDeliveryCreator(),
    ]);
    const inWindow = await makeConsumer(wroteLast.creator.id, { phone });
    const outside = await makeConsumer(wroteOutsideWindow.creator.id, { phone });
    await wroteTo(inWindow, 2 * HOUR);
    await wroteTo(outside, 30 * HOUR);
    const latest = await makeConsumer(ingestedLast.creator.id, { phone });

    const reply = await inbound({ from: waIdOf(phone), text: "When does it start?" });
    expect(reply.status).toBe(200);
    expect((await eventsOf(inWindow.id, "whatsapp_replied")).map((e) => e.payload)).toMatchObject([
      { text: "When does it start?", providerMessageId: reply.id },
    ]);
    expect(await eventsOf(outside.id, "whatsapp_replied")).toEqual([]);
    expect(await eventsOf(latest.id, "whatsapp_replied")).toEqual([]);
    expect(await db.consumer.findUniqueOrThrow({ where: { id: inWindow.id } })).toMatchObject({ waId: waIdOf(phone) });
  });

  it("keeps a reply no creator wrote to within 24 hours unrouted, visible to admins only, and stores it on nobody", async () => {
    const phone = newPhone();
    const [a, b] = await Promise.all([makeDeliveryCreator(), makeDeliveryCreator()]);
    const consumerA = await makeConsumer(a.creator.id, { phone });
    const consumerB = await makeConsumer(b.creator.id, { phone });
    await wroteTo(consumerA, 25 * HOUR);

    const reply = await inbound({ from: waIdOf(phone), text: "Is the offer still on?" });
    expect(reply.status).toBe(200);

    expect(await eventsOf(consumerA.id, "whatsapp_replied")).toEqual([]);
    expect(await eventsOf(consumerB.id, "whatsapp_replied")).toEqual([]);
    const listed = await listedItem(`message:${reply.id}`);
    expect(listed).toMatchObject({ outcome: "UNROUTED", from: waIdOf(phone), creators: [] });
    expect(listed?.reason).toContain("none wrote to it from the shared number in the last 24 hours");
    const refused = await api.request(CallbackItems, {}, a.creatorKey);
    expect(refused.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("takes a STOP as an opt-out for every creator on the shared number that has the number, routed or not, and for no creator with its own number", async () => {
    const phone = newPhone();
    const [a, b, own] = await Promise.all([makeDeliveryCreator(), makeDeliveryCreator(), makeDeliveryCreator()]);
    const consumerA = await makeConsumer(a.creator.id, { phone });
    const consumerB = await makeConsumer(b.creator.id, { phone });
    const ownConsumer = await makeConsumer(own.creator.id, { phone });
    await ownNumber(own.creator.id);
    // Nobody wrote within the window: the STOP is routed to no one, and still honoured.
    const [planned] = await planActions(consumerB, [
      { channel: "WHATSAPP", payload: whatsAppTo(phone, "Following up"), sendAt: new Date(Date.now() + HOUR) },
    ]);

    const stop = await inbound({ from: waIdOf(phone), text: "STOP" });
    expect(stop.status).toBe(200);

    expect(await whatsAppConsent(consumerA.id)).toBe("WITHDRAWN");
    expect(await whatsAppConsent(consumerB.id)).toBe("WITHDRAWN");
    expect(await whatsAppConsent(ownConsumer.id)).toBe("GRANTED");
    expect((await db.action.findUniqueOrThrow({ where: { id: planned.id } })).status).toBe("CANCELLED");
    const item = await itemOf(stop.id);
    expect(item.outcome).toBe("RECORDED");
    expect([...item.creatorIds].sort()).toEqual([a.creator.id, b.creator.id].sort());
  });

  it("never routes a message received on a phone_number_id that is neither the platform's nor a creator's", async () => {
    const phone = newPhone();
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone });
    await wroteTo(consumer, HOUR);

    const stray = await inbound({ from: waIdOf(phone), text: "STOP" }, "999000999000");
    expect(stray.status).toBe(200);
    expect(await whatsAppConsent(consumer.id)).toBe("GRANTED");
    expect(await itemOf(stray.id)).toMatchObject({ outcome: "UNROUTED" });
  });
});

describe("a creator's own number", () => {
  it("is set by admins only, one creator each, never the platform's, and its token is never shown", async () => {
    const [{ creator, creatorKey }, other] = await Promise.all([makeDeliveryCreator(), makeDeliveryCreator()]);
    const { phoneNumberId } = await ownNumber(creator.id);
    const vars = (creatorId: string, id: string) => ({
      creatorId: toGlobalId("Creator", creatorId),
      phoneNumberId: id,
      accessToken: `EAAG-${randomUUID()}`,
    });

    const byCreator = await api.request(SetSender, vars(creator.id, "123456789012"), creatorKey);
    expect(byCreator.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const taken = await api.request<SetSenderAnswer, Record<string, string>>(
      SetSender,
      vars(other.creator.id, phoneNumberId),
      adminKey,
    );
    expect(taken.data?.setWhatsAppSender).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });
    const platform = await api.request<SetSenderAnswer, Record<string, string>>(
      SetSender,
      vars(other.creator.id, SHARED),
      adminKey,
    );
    expect(platform.data?.setWhatsAppSender).toMatchObject({ code: "VALIDATION_FAILED" });

    const read = await api.request<
      { a: { whatsAppSender: unknown }; b: { whatsAppSender: unknown } },
      Record<string, string>
    >(
      `query($a: ID!, $b: ID!) {
        a: node(id: $a) { ... on Creator { whatsAppSender { phoneNumberId shared } } }
        b: node(id: $b) { ... on Creator { whatsAppSender { phoneNumberId shared } } }
      }`,
      { a: toGlobalId("Creator", creator.id), b: toGlobalId("Creator", other.creator.id) },
      adminKey,
    );
    expect(read.data).toEqual({
      a: { whatsAppSender: { phoneNumberId, shared: false } },
      b: { whatsAppSender: { phoneNumberId: SHARED, shared: true } },
    });
    const tokenField = await api.request(`{ __type(name: "WhatsAppSender") { fields { name } } }`, {}, adminKey);
    expect(JSON.stringify(tokenField.data)).not.toContain("ccessToken");
  });

  it("sends from the creator's number with its token, and keeps the number and the wa_id WhatsApp answers", async () => {
    const { creator } = await makeDeliveryCreator();
    // They wrote a moment ago: free text may go (WhatsApp's customer-service window).
    const consumer = await makeConsumer(creator.id, { wroteOnWhatsAppAt: new Date() });
    const own = await ownNumber(creator.id);
    const [action] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: ago(1000) },
    ]);
    await sendDue(testProviders({ smtpUrl: "smtp://127.0.0.1:1", whatsAppUrl: whatsapp.url }), { batchSize: 50 });

    const sent = whatsapp.received.find((r) => JSON.parse(r.body).to === consumer.phone);
    expect(sent?.path).toBe(`/v19.0/${own.phoneNumberId}/messages`);
    expect(sent?.headers.authorization).toBe(`Bearer ${own.accessToken}`);
    expect(await db.action.findUniqueOrThrow({ where: { id: action.id } })).toMatchObject({
      status: "SENT",
      sentFrom: own.phoneNumberId,
      providerMessageId: sent && wamidOf(sent),
    });
    expect(await db.consumer.findUniqueOrThrow({ where: { id: consumer.id } })).toMatchObject({
      waId: waIdOf(consumer.phone as string),
    });
  });

  it("takes everything received on it as the creator's: replies, opt-outs, and new people", async () => {
    const phone = newPhone();
    const [owner, shared] = await Promise.all([makeDeliveryCreator(), makeDeliveryCreator()]);
    const { phoneNumberId } = await ownNumber(owner.creator.id);
    const ownersConsumer = await makeConsumer(owner.creator.id, { phone });
    const sharedConsumer = await makeConsumer(shared.creator.id, { phone });
    const { wamid: sharedWamid } = await wroteTo(sharedConsumer, 60_000);

    // The other creator wrote last, and the reply even quotes its message: received on the
    // owner's number, it is the owner's (the quoted message was not sent from this number).
    const reply = await inbound({ from: waIdOf(phone), text: "Tell me more", context: sharedWamid }, phoneNumberId);
    expect(reply.status).toBe(200);
    expect(await eventsOf(ownersConsumer.id, "whatsapp_replied")).toHaveLength(1);
    expect(await eventsOf(sharedConsumer.id, "whatsapp_replied")).toEqual([]);

    const stop = await inbound({ from: waIdOf(phone), text: "stop" }, phoneNumberId);
    expect(stop.status).toBe(200);
    expect(await whatsAppConsent(ownersConsumer.id)).toBe("WITHDRAWN");
    expect(await whatsAppConsent(sharedConsumer.id)).toBe("GRANTED");

    const stranger = newPhone();
    const hello = await inbound({ from: waIdOf(stranger), text: "Hi, saw your post", name: "Rui" }, phoneNumberId);
    expect(hello.status).toBe(200);
    const lead = await db.consumer.findFirstOrThrow({ where: { creatorId: owner.creator.id, phone: stranger } });
    expect(lead).toMatchObject({ name: "Rui", waId: waIdOf(stranger) });
    expect((await eventsOf(lead.id, "whatsapp_replied")).map((e) => e.payload)).toMatchObject([
      { text: "Hi, saw your post" },
    ]);
    expect(await db.consumer.count({ where: { phone: stranger } })).toBe(1);
  });
});

describe("WhatsApp ids", () => {
  it("matches a Brazilian account registered before the ninth digit to the consumer stored with it, and keeps its wa_id", async () => {
    const eight = String(randomInt(80_000_000, 90_000_000));
    const stored = `+55119${eight}`;
    const legacyWaId = `5511${eight}`;
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone: stored });
    await wroteTo(consumer, HOUR);

    const stop = await inbound({ from: legacyWaId, text: "STOP" });
    expect(stop.status).toBe(200);
    expect(await whatsAppConsent(consumer.id)).toBe("WITHDRAWN");
    expect(await db.consumer.findUniqueOrThrow({ where: { id: consumer.id } })).toMatchObject({
      phone: stored,
      waId: legacyWaId,
    });
  });

  it("stores the wa_id a status names and matches later messages by it first", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone: newPhone() });
    const { wamid } = await wroteTo(consumer, HOUR);
    // WhatsApp knows this account by another id than the stored phone's digits.
    const waId = waIdOf(newPhone());
    const status = { id: wamid, status: "delivered", timestamp: seconds(new Date()), recipient_id: waId };
    expect(await post(notification({ statuses: [status] }))).toBe(200);
    expect(await db.consumer.findUniqueOrThrow({ where: { id: consumer.id } })).toMatchObject({ waId });

    const reply = await inbound({ from: waId, text: "Thanks!" });
    expect(reply.status).toBe(200);
    expect(await eventsOf(consumer.id, "whatsapp_replied")).toHaveLength(1);
  });
});

describe("notifications, item by item", () => {
  it("records every item: a 20,000-character text is stored truncated with its length, a malformed item fails alone, a STOP after them is honoured", async () => {
    const [long, stopper] = await Promise.all([makeDeliveryCreator(), makeDeliveryCreator()]);
    const writer = await makeConsumer(long.creator.id, { phone: newPhone() });
    const leaver = await makeConsumer(stopper.creator.id, { phone: newPhone() });
    await wroteTo(writer, HOUR);
    await wroteTo(leaver, HOUR);
    const text = "I have a few questions. ".repeat(1000).slice(0, 20_000);
    const first = message({ from: waIdOf(writer.phone as string), text });
    const malformed = { id: `wamid.bad-${randomUUID()}`, type: "text", text: { body: "no sender" } };
    const stop = message({ from: waIdOf(leaver.phone as string), text: "STOP" });
    const body = notification({ messages: [first, malformed, stop] });

    expect(await post(body)).toBe(200);

    const [replied] = await eventsOf(writer.id, "whatsapp_replied");
    expect(replied.payload).toMatchObject({ textLength: 20_000, truncated: true });
    expect((replied.payload as { text: string }).text).toBe(text.slice(0, MAX_INBOUND_TEXT_CHARS));
    expect(await whatsAppConsent(leaver.id)).toBe("WITHDRAWN");
    const failed = await listedItem(`message:${malformed.id}`);
    expect(failed).toMatchObject({ outcome: "FAILED", attempts: 1 });
    expect(failed?.reason).toContain("from");

    // Meta delivering it again adds nothing and processes nothing twice.
    expect(await post(body)).toBe(200);
    expect(await eventsOf(writer.id, "whatsapp_replied")).toHaveLength(1);
    expect((await itemOf(first.id)).attempts).toBe(1);
  });

  it("processes items recorded by a request that stopped before processing them, on the worker's sweep", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone: newPhone() });
    await wroteTo(consumer, HOUR);
    const item = message({ from: waIdOf(consumer.phone as string), text: "Are you there?" });
    // What the endpoint records before answering 200, left as a crash right after would leave it.
    // (with a claim that ran out a second ago, as a crashed request's does)
    const body = JSON.stringify({ item });
    await recordCallbackItems(
      [{ itemKey: `message:${item.id}`, kind: "message", phoneNumberId: SHARED, body }],
      -1_000,
    );
    expect(await eventsOf(consumer.id, "whatsapp_replied")).toEqual([]);

    expect(await sweepCallbackItems()).toBeGreaterThanOrEqual(1);
    expect(await eventsOf(consumer.id, "whatsapp_replied")).toHaveLength(1);
    expect(await itemOf(item.id)).toMatchObject({ outcome: "RECORDED", creatorIds: [creator.id] });
  });

  it("lets an admin retry an unrouted message once its creator is known", async () => {
    const phone = newPhone();
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone });
    const early = await inbound({ from: waIdOf(phone), text: "Hello?" });
    expect(await itemOf(early.id)).toMatchObject({ outcome: "UNROUTED" });

    await wroteTo(consumer, 60_000);
    const Retry = `mutation($id: ID!) { retryWhatsAppCallbackItem(id: $id) {
      __typename ... on WhatsAppCallbackItem { outcome creators { id } } ... on Error { code message } } }`;
    const id = toGlobalId("WhatsAppCallbackItem", (await itemOf(early.id)).id);
    const retried = await api.request<{ retryWhatsAppCallbackItem: Record<string, unknown> }, { id: string }>(
      Retry,
      { id },
      adminKey,
    );
    expect(retried.data?.retryWhatsAppCallbackItem).toEqual({
      __typename: "WhatsAppCallbackItem",
      outcome: "RECORDED",
      creators: [{ id: toGlobalId("Creator", creator.id) }],
    });
    expect(await eventsOf(consumer.id, "whatsapp_replied")).toHaveLength(1);

    const again = await api.request<{ retryWhatsAppCallbackItem: Record<string, unknown> }, { id: string }>(
      Retry,
      { id },
      adminKey,
    );
    expect(again.data?.retryWhatsAppCallbackItem).toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe("what a review broke", () => {
  it("records every item of a notification whose text holds half an emoji or whose key holds a NUL, and honours the STOP beside it", async () => {
    const { creator } = await makeDeliveryCreator();
    const writer = await makeConsumer(creator.id, { phone: newPhone() });
    const leaver = await makeConsumer(creator.id, { phone: newPhone() });
    await wroteTo(writer, HOUR);
    await wroteTo(leaver, HOUR);
    const half = message({ from: waIdOf(writer.phone as string), text: "half an emoji \ud83d" });
    const oddKey = { ...message({ from: waIdOf(writer.phone as string), text: "odd" }), "odd\u0000key": 1 };
    const stop = message({ from: waIdOf(leaver.phone as string), text: "STOP" });
    // As Meta writes it: non-ASCII escaped, so the lone surrogate survives into the JSON text.
    const body = notification({ messages: [half, oddKey, stop] }).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );

    expect(await post(body)).toBe(200);
    expect(await whatsAppConsent(leaver.id)).toBe("WITHDRAWN");
    const texts = (await eventsOf(writer.id, "whatsapp_replied")).map((e) => (e.payload as { text: string }).text);
    expect(texts.sort()).toEqual(["half an emoji \uFFFD", "odd"]);
  });

  it("records an entry or change of an unexpected shape as a failed item of its own, never refusing the notification", async () => {
    const { creator } = await makeDeliveryCreator();
    const leaver = await makeConsumer(creator.id, { phone: newPhone() });
    await wroteTo(leaver, HOUR);
    const stop = message({ from: waIdOf(leaver.phone as string), text: "STOP" });
    const good = JSON.parse(notification({ messages: [stop] })) as { entry: unknown[] };
    const body = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [{ id: "1", changes: [{ field: "messages", value: "y" }] }, { id: "2" }, ...good.entry],
    });

    expect(await post(body)).toBe(200);
    expect(await whatsAppConsent(leaver.id)).toBe("WITHDRAWN");
    const failed = await db.whatsAppCallbackItem.findMany({ where: { kind: "invalid", outcome: "FAILED" } });
    expect(failed.map((f) => f.reason)).toEqual(
      expect.arrayContaining([expect.stringContaining("not a WhatsApp change"), "an entry without a changes array"]),
    );
  });

  it("honours a retried STOP even when a grant was recorded while it waited", async () => {
    const phone = newPhone();
    const stop = await inbound({ from: waIdOf(phone), text: "STOP" });
    expect(await itemOf(stop.id)).toMatchObject({ outcome: "UNROUTED" });
    // The creator imports the person with a WhatsApp grant, then writes to them; an admin retries.
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeFixtureConsumer(creator.id, { phone });
    await wroteTo(consumer, 60_000);
    const Retry = `mutation($id: ID!) { retryWhatsAppCallbackItem(id: $id) { __typename } }`;
    const id = toGlobalId("WhatsAppCallbackItem", (await itemOf(stop.id)).id);
    expect((await api.request(Retry, { id }, adminKey)).errors).toBeUndefined();

    expect(await itemOf(stop.id)).toMatchObject({ outcome: "RECORDED" });
    expect(await whatsAppConsent(consumer.id)).toBe("WITHDRAWN");
  });

  it("takes a STOP on the shared number for a creator that wrote from it and has its own number since", async () => {
    const phone = newPhone();
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone });
    await wroteTo(consumer, 30 * HOUR);
    await ownNumber(creator.id);

    const stop = await inbound({ from: waIdOf(phone), text: "STOP" });
    expect(stop.status).toBe(200);
    expect(await whatsAppConsent(consumer.id)).toBe("WITHDRAWN");
  });

  it("routes a reply quoting a message sent from a creator's former number to that creator", async () => {
    const phone = newPhone();
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone });
    const former = await ownNumber(creator.id);
    const { wamid } = await wroteTo(consumer, 30 * HOUR, former.phoneNumberId);
    await ownNumber(creator.id);

    const stop = await inbound({ from: waIdOf(phone), text: "STOP", context: wamid }, former.phoneNumberId);
    expect(stop.status).toBe(200);
    expect(await whatsAppConsent(consumer.id)).toBe("WITHDRAWN");
  });

  it("refuses a token that is no token, and never stores the token in a failed send's answer", async () => {
    const { creator } = await makeDeliveryCreator();
    const vars = {
      creatorId: toGlobalId("Creator", creator.id),
      phoneNumberId: String(randomInt(1e11, 2e11)),
      accessToken: `EAAG-${randomUUID()}\nsecond-half`,
    };
    const pasted = await api.request<SetSenderAnswer, Record<string, string>>(SetSender, vars, adminKey);
    expect(pasted.data?.setWhatsAppSender).toMatchObject({ code: "VALIDATION_FAILED" });

    const own = await ownNumber(creator.id);
    const consumer = await makeConsumer(creator.id, { phone: newPhone(), wroteOnWhatsAppAt: new Date() });
    const [action] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: ago(1000) },
    ]);
    // A provider error that quotes the request's authorization header back.
    whatsapp.reply = (request) => ({
      status: 400,
      body: { error: { message: `bad ${request.headers.authorization}` } },
    });
    await sendDue(testProviders({ smtpUrl: "smtp://127.0.0.1:1", whatsAppUrl: whatsapp.url }), { batchSize: 50 });
    const failed = await db.action.findUniqueOrThrow({ where: { id: action.id } });
    expect(failed.status).toBe("FAILED");
    expect(JSON.stringify(failed)).not.toContain(own.accessToken);
  });

  it("withdraws every consumer of a creator that is the same WhatsApp account", async () => {
    const phone = newPhone();
    const { creator } = await makeDeliveryCreator();
    const stored = await makeConsumer(creator.id, { phone });
    const other = await makeConsumer(creator.id, { phone: newPhone() });
    await db.consumer.update({ where: { id: other.id }, data: { waId: waIdOf(phone) } });
    await wroteTo(stored, HOUR);

    expect((await inbound({ from: waIdOf(phone), text: "stop" })).status).toBe(200);
    expect(await whatsAppConsent(stored.id)).toBe("WITHDRAWN");
    expect(await whatsAppConsent(other.id)).toBe("WITHDRAWN");
  });

  it("matches a consumer stored in Brazil's old form to the account's new one, and a Mexican account's old wa_id to its number", async () => {
    const eight = String(randomInt(80_000_000, 90_000_000));
    const { creator } = await makeDeliveryCreator();
    const legacy = await makeConsumer(creator.id, { phone: `+5511${eight}` });
    await wroteTo(legacy, HOUR);
    expect((await inbound({ from: `55119${eight}`, text: "Parar" })).status).toBe(200);
    expect(await whatsAppConsent(legacy.id)).toBe("WITHDRAWN");

    const owner = await makeDeliveryCreator();
    const { phoneNumberId } = await ownNumber(owner.creator.id);
    const local = String(randomInt(10_000_000, 99_999_999));
    expect((await inbound({ from: `52155${local}`, text: "Hola" }, phoneNumberId)).status).toBe(200);
    expect(await db.consumer.count({ where: { creatorId: owner.creator.id, phone: `+5255${local}` } })).toBe(1);
  });

  it("never takes a valid number for another one digit away", async () => {
    const owner = await makeDeliveryCreator();
    const { phoneNumberId } = await ownNumber(owner.creator.id);
    const known = await makeConsumer(owner.creator.id, { phone: "+4915123456789" });
    const reply = await inbound({ from: "491512345678", text: "Who is this? I never signed up" }, phoneNumberId);
    expect(reply.status).toBe(200);
    expect(await eventsOf(known.id, "whatsapp_replied")).toEqual([]);
    expect(await db.consumer.findUniqueOrThrow({ where: { id: known.id } })).toMatchObject({ waId: null });
  });

  it("processes a notification delivered three times at once only once", async () => {
    const { creator } = await makeDeliveryCreator();
    const people = await Promise.all([1, 2, 3, 4, 5].map(() => makeConsumer(creator.id, { phone: newPhone() })));
    for (const person of people) await wroteTo(person, HOUR);
    const items = people.map((p) => message({ from: waIdOf(p.phone as string), text: "Interested!" }));
    const body = notification({ messages: items });

    expect(await Promise.all([post(body), post(body), post(body)])).toEqual([200, 200, 200]);
    for (const item of items) expect(await itemOf(item.id)).toMatchObject({ outcome: "RECORDED", attempts: 1 });
  });

  it.each([
    ["Meta's marketing opt-out button", { type: "button", button: { text: "Stop promotions", payload: "stop" } }],
    ["fullwidth letters", { type: "text", text: { body: "ＳＴＯＰ" } }],
    ["an emoji after it", { type: "text", text: { body: "STOP 🛑" } }],
    ["a zero-width space after it", { type: "text", text: { body: "stop\u200b" } }],
    ["Spanish", { type: "text", text: { body: "Baja" } }],
  ])("takes a STOP written with %s as an opt-out", async (_case, content) => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone: newPhone() });
    await wroteTo(consumer, HOUR);
    const item = { ...message({ from: waIdOf(consumer.phone as string), text: "" }), text: undefined, ...content };
    expect(await post(notification({ messages: [item] }))).toBe(200);
    expect(await whatsAppConsent(consumer.id)).toBe("WITHDRAWN");
  });

  it("takes a sentence that merely starts with stop as a reply, not an opt-out", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone: newPhone() });
    await wroteTo(consumer, HOUR);
    expect(
      (await inbound({ from: waIdOf(consumer.phone as string), text: "Stop by my studio tomorrow?" })).status,
    ).toBe(200);
    expect(await whatsAppConsent(consumer.id)).toBe("GRANTED");
    expect(await eventsOf(consumer.id, "whatsapp_replied")).toHaveLength(1);
  });
});
