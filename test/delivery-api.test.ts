import { randomInt } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";

import { makeAdminKey } from "../scripts/fixtures.js";
import { config } from "../src/config.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { emailTo, makeConsumer, makeDeliveryCreator, planActions, whatsAppTo } from "./support/delivery-fixtures.js";
import { toGlobalId } from "./support/ids.js";
import { postWhatsApp, signWhatsApp, unixSeconds, whatsAppNotification } from "./support/whatsapp-notifications.js";

const CancelAction = graphql(`
  mutation DeliveryCancelAction($id: ID!) {
    cancelAction(id: $id) {
      __typename
      ... on Action {
        status
        statusReason
      }
      ...ErrorFields
    }
  }
`);

// What both consent mutations answer with, checked the same way.
graphql(`
  fragment ConsentChangeFields on ConsentChange {
    consumer {
      consents {
        channel
        status
        source
      }
      context {
        stage
      }
    }
    cancelledActions {
      id
      channel
      status
      statusReason
    }
  }
`);

const SetConsent = graphql(`
  mutation DeliverySetConsent($consumerId: ID!, $channel: Channel!, $granted: Boolean!, $source: String) {
    setConsent(consumerId: $consumerId, channel: $channel, granted: $granted, source: $source) {
      __typename
      ...ConsentChangeFields
      ...ErrorFields
    }
  }
`);

const Unsubscribe = graphql(`
  mutation DeliveryUnsubscribe($consumerId: ID!, $channel: Channel) {
    unsubscribeConsumer(consumerId: $consumerId, channel: $channel) {
      __typename
      ...ConsentChangeFields
      ...ErrorFields
    }
  }
`);

const IngestUnsubscribed = graphql(`
  mutation DeliveryIngestUnsubscribed($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
    }
  }
`);

const inOneHour = () => new Date(Date.now() + 3_600_000);

const api = useApi();
let adminKey: string;

beforeAll(async () => {
  adminKey = await makeAdminKey();
});

describe("cancelAction", () => {
  it("cancels a planned action, with an audit row", async () => {
    const { creator, creatorKey } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [action] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: inOneHour() },
    ]);

    const response = await api.request(CancelAction, { id: toGlobalId("Action", action.id) }, creatorKey);

    expect(response.data?.cancelAction).toMatchObject({
      __typename: "Action",
      status: "CANCELLED",
      statusReason: expect.stringMatching(/^cancelled by creator:clsr_crt_/),
    });
    const audit = await db.auditLog.findFirstOrThrow({ where: { operation: "action.cancel", targetId: action.id } });
    expect(audit).toMatchObject({ creatorId: creator.id, actorKind: "CREATOR" });
  });

  it("refuses an action that is no longer planned, another creator's action, and an unknown id", async () => {
    const { creator, creatorKey } = await makeDeliveryCreator();
    const other = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [sent] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: new Date(), status: "SENT" },
    ]);
    const id = toGlobalId("Action", sent.id);

    const conflict = await api.request(CancelAction, { id }, creatorKey);
    expect(conflict.data?.cancelAction).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });

    // Another creator's action answers exactly as an unknown one: no answer says it exists.
    const foreign = await api.request(CancelAction, { id }, other.creatorKey);
    expect(foreign.data?.cancelAction).toEqual({
      __typename: "NotFoundError",
      code: "NOT_FOUND",
      message: `Action ${sent.id} was not found`,
    });

    const unknown = await api.request(
      CancelAction,
      { id: toGlobalId("Action", "00000000-0000-4000-8000-000000000000") },
      adminKey,
    );
    expect(unknown.data?.cancelAction).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
    expect((await db.action.findUniqueOrThrow({ where: { id: sent.id } })).status).toBe("SENT");
  });
});

describe("consent", () => {
  it("withdrawing one channel cancels that channel's planned actions at once, nothing else", async () => {
    const { creator, creatorKey } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [email, whatsapp, sentEmail] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: inOneHour() },
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: inOneHour() },
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: new Date(), status: "SENT" },
    ]);

    const response = await api.request(
      SetConsent,
      {
        consumerId: toGlobalId("Consumer", consumer.id),
        channel: "EMAIL",
        granted: false,
        source: "preference_center",
      },
      creatorKey,
    );

    const result = response.data?.setConsent;
    if (result?.__typename !== "ConsentChange") throw new Error(`unexpected ${JSON.stringify(response)}`);
    expect(result.cancelledActions).toEqual([
      {
        id: toGlobalId("Action", email.id),
        channel: "EMAIL",
        status: "CANCELLED",
        statusReason: "consent withdrawn (preference_center)",
      },
    ]);
    expect(result.consumer.consents).toContainEqual({
      channel: "EMAIL",
      status: "WITHDRAWN",
      source: "preference_center",
    });
    expect((await db.action.findUniqueOrThrow({ where: { id: whatsapp.id } })).status).toBe("PLANNED");
    expect((await db.action.findUniqueOrThrow({ where: { id: sentEmail.id } })).status).toBe("SENT");
    const audit = await db.auditLog.findFirstOrThrow({
      where: { operation: "consent.withdraw", targetId: consumer.id },
    });
    expect(audit.details).toMatchObject({ channels: ["EMAIL"], cancelledActions: [email.id] });
  });

  it("unsubscribing from everything cancels every planned action and leaves the funnel; new consent brings the consumer back", async () => {
    const { creator, creatorKey } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const planned = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: inOneHour() },
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: inOneHour() },
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: new Date() },
    ]);
    const consumerId = toGlobalId("Consumer", consumer.id);

    const response = await api.request(Unsubscribe, { consumerId }, creatorKey);

    const result = response.data?.unsubscribeConsumer;
    if (result?.__typename !== "ConsentChange") throw new Error(`unexpected ${JSON.stringify(response)}`);
    expect(new Set(result.cancelledActions.map((a) => a.id))).toEqual(
      new Set(planned.map((a) => toGlobalId("Action", a.id))),
    );
    expect(result.consumer.consents.map((c) => c.status)).toEqual(["WITHDRAWN", "WITHDRAWN", "WITHDRAWN"]);
    expect(result.consumer.context?.stage).toBe("UNSUBSCRIBED");
    expect(await db.action.count({ where: { consumerId: consumer.id, status: "PLANNED" } })).toBe(0);

    const regranted = await api.request(
      SetConsent,
      { consumerId, channel: "EMAIL", granted: true, source: "signup_form" },
      creatorKey,
    );
    expect(regranted.data?.setConsent).toMatchObject({
      consumer: {
        consents: expect.arrayContaining([{ channel: "EMAIL", status: "GRANTED", source: "signup_form" }]),
        context: { stage: "NEW" },
      },
      cancelledActions: [],
    });
  });

  it("unsubscribing from one channel keeps the other channels' actions and the stage", async () => {
    const { creator, creatorKey } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [email, whatsapp] = await planActions(consumer, [
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: inOneHour() },
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: inOneHour() },
    ]);

    const response = await api.request(
      Unsubscribe,
      { consumerId: toGlobalId("Consumer", consumer.id), channel: "WHATSAPP" },
      creatorKey,
    );

    expect(response.data?.unsubscribeConsumer).toMatchObject({
      cancelledActions: [{ id: toGlobalId("Action", whatsapp.id), status: "CANCELLED" }],
      consumer: { context: { stage: "NEW" } },
    });
    expect((await db.action.findUniqueOrThrow({ where: { id: email.id } })).status).toBe("PLANNED");
  });

  it("refuses another creator's consumer and answers NotFoundError for an unknown one", async () => {
    const { creator } = await makeDeliveryCreator();
    const other = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);

    // Another creator's consumer answers exactly as an unknown one.
    const foreign = await api.request(
      Unsubscribe,
      { consumerId: toGlobalId("Consumer", consumer.id) },
      other.creatorKey,
    );
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data?.unsubscribeConsumer).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
    const unknown = await api.request(
      Unsubscribe,
      { consumerId: toGlobalId("Consumer", "00000000-0000-4000-8000-000000000000") },
      adminKey,
    );
    expect(unknown.data?.unsubscribeConsumer).toMatchObject({ __typename: "NotFoundError" });
    expect((await db.consumerConsent.findMany({ where: { consumerId: consumer.id } })).map((c) => c.status)).toEqual([
      "GRANTED",
      "GRANTED",
      "GRANTED",
    ]);
  });

  it("an `unsubscribed` event goes through the same rule: it cancels the channel's planned actions, unless newer consent exists", async () => {
    const { creator, gid, ingestKey } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const [whatsapp] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(consumer.phone as string), sendAt: inOneHour() },
    ]);
    const unsubscribed = (occurredAt: Date) =>
      api.request(
        IngestUnsubscribed,
        {
          creatorId: gid,
          event: {
            consumer: { email: consumer.email },
            type: "unsubscribed",
            payload: { channel: "whatsapp" },
            occurredAt: occurredAt.toISOString(),
          },
        },
        ingestKey,
      );

    // An opt-out older than the consent on record changes nothing.
    await db.consumerConsent.updateMany({ where: { consumerId: consumer.id }, data: { changedAt: new Date() } });
    await unsubscribed(new Date(Date.now() - 3_600_000));
    expect((await db.action.findUniqueOrThrow({ where: { id: whatsapp.id } })).status).toBe("PLANNED");

    await unsubscribed(new Date());
    expect(await db.action.findUniqueOrThrow({ where: { id: whatsapp.id } })).toMatchObject({
      status: "CANCELLED",
      statusReason: "consent withdrawn (unsubscribed_event)",
    });
  });
});

describe("WhatsApp callbacks", () => {
  const callbackUrl = () => new URL("/webhooks/whatsapp", api.url).toString();
  const sign = signWhatsApp;
  const notification = (value: Record<string, unknown>) => whatsAppNotification(value);
  const post = (body: string, signature?: string | null) => postWhatsApp(api.url, body, signature);
  const seconds = unixSeconds;

  /** A consumer with a WhatsApp message we sent, as the scheduler leaves it. */
  async function sentWhatsApp(options: { phone?: string; fallbackTo?: string } = {}) {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id, { phone: options.phone });
    const wamid = `wamid.${crypto.randomUUID()}`;
    const fallback = options.fallbackTo ? { fallback: { channel: "EMAIL", to: options.fallbackTo } } : {};
    const [action] = await planActions(consumer, [
      {
        channel: "WHATSAPP",
        payload: whatsAppTo(consumer.phone as string, "Still interested?", fallback),
        sendAt: new Date(Date.now() - 60_000),
        status: "SENT",
        sentAt: new Date(Date.now() - 60_000),
        providerMessageId: wamid,
      },
    ]);
    return { creator, consumer, action, wamid };
  }

  it("answers Meta's verification handshake only with the verify token", async () => {
    const url = new URL(callbackUrl());
    url.search = new URLSearchParams({
      "hub.mode": "subscribe",
      "hub.verify_token": config().WHATSAPP_VERIFY_TOKEN,
      "hub.challenge": "1158201444",
    }).toString();
    const verified = await fetch(url);
    expect(verified.status).toBe(200);
    expect(await verified.text()).toBe("1158201444");

    url.searchParams.set("hub.verify_token", "guess");
    expect((await fetch(url)).status).toBe(403);
  });

  it("refuses a notification without a valid signature, and stores nothing", async () => {
    const { consumer, wamid } = await sentWhatsApp();
    const body = notification({ statuses: [{ id: wamid, status: "delivered", timestamp: seconds(new Date()) }] });

    expect((await post(body, null)).status).toBe(401);
    expect((await post(body, sign(`${body} `))).status).toBe(401);
    expect((await post(body, "sha256=00")).status).toBe(401);
    expect(await db.event.count({ where: { consumerId: consumer.id, type: { startsWith: "whatsapp_" } } })).toBe(0);

    expect((await post("not json")).status).toBe(400);
  });

  it("turns delivered and read statuses into events on the consumer, once however often they arrive", async () => {
    const { consumer, action, wamid } = await sentWhatsApp();
    const body = notification({
      statuses: [
        { id: wamid, status: "sent", timestamp: seconds(new Date()), recipient_id: consumer.phone },
        { id: wamid, status: "delivered", timestamp: seconds(new Date()), recipient_id: consumer.phone },
        { id: wamid, status: "read", timestamp: seconds(new Date()), recipient_id: consumer.phone },
      ],
    });

    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(200);

    const events = await db.event.findMany({
      where: { consumerId: consumer.id, type: { startsWith: "whatsapp_" } },
      orderBy: { type: "asc" },
    });
    expect(events.map((e) => [e.type, e.idempotencyKey])).toEqual([
      ["whatsapp_delivered", `whatsapp:${wamid}:delivered`],
      ["whatsapp_read", `whatsapp:${wamid}:read`],
    ]);
    expect(events[0].payload).toMatchObject({ actionId: action.id, providerMessageId: wamid });
  });

  it("turns a reply into whatsapp_replied with its text, finding the consumer by phone", async () => {
    const phone = `+1${randomInt(1e9, 1e10)}`;
    // The same person is a consumer of two creators: the reply belongs to the one that wrote last.
    const earlier = await sentWhatsApp({ phone });
    const latest = await sentWhatsApp({ phone });
    await db.action.update({ where: { id: earlier.action.id }, data: { sentAt: new Date(Date.now() - 3_600_000) } });
    const body = notification({
      contacts: [{ profile: { name: "Sam" }, wa_id: phone.slice(1) }],
      messages: [
        {
          from: phone.slice(1),
          id: "wamid.reply-1",
          timestamp: seconds(new Date()),
          type: "text",
          text: { body: "Yes! How much is the coaching?" },
        },
      ],
    });

    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(200);

    const replies = await db.event.findMany({
      where: { type: "whatsapp_replied", consumerId: { in: [earlier.consumer.id, latest.consumer.id] } },
    });
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({
      consumerId: latest.consumer.id,
      idempotencyKey: "whatsapp:wamid.reply-1",
      payload: { text: "Yes! How much is the coaching?", messageType: "text", inReplyTo: null },
    });
    const context = await db.consumerContext.findUniqueOrThrow({ where: { consumerId: latest.consumer.id } });
    expect(context).toMatchObject({ whatsappReplied: 1, stage: "ENGAGED" });

    // A reply quoting our message goes to that message's consumer, whoever wrote last.
    const quoted = notification({
      messages: [
        {
          from: phone.slice(1),
          id: "wamid.reply-2",
          timestamp: seconds(new Date()),
          type: "text",
          text: { body: "About your first message" },
          context: { from: "15550783881", id: earlier.wamid },
        },
      ],
    });
    expect((await post(quoted)).status).toBe(200);
    expect(await db.event.findFirstOrThrow({ where: { idempotencyKey: "whatsapp:wamid.reply-2" } })).toMatchObject({
      consumerId: earlier.consumer.id,
      payload: { text: "About your first message", inReplyTo: earlier.wamid },
    });
  });

  it("takes a STOP reply as an opt-out from WhatsApp: consent withdrawn, planned WhatsApp messages cancelled", async () => {
    const { consumer } = await sentWhatsApp();
    await db.consumerConsent.updateMany({
      where: { consumerId: consumer.id },
      data: { changedAt: new Date(Date.now() - 60_000) },
    });
    const [planned, email] = await planActions(consumer, [
      {
        channel: "WHATSAPP",
        payload: whatsAppTo(consumer.phone as string, "Following up"),
        sendAt: new Date(Date.now() + 3_600_000),
      },
      { channel: "EMAIL", payload: emailTo(consumer.email as string), sendAt: new Date(Date.now() + 3_600_000) },
    ]);
    const body = notification({
      messages: [
        {
          from: (consumer.phone as string).slice(1),
          id: "wamid.stop-1",
          timestamp: seconds(new Date()),
          type: "text",
          text: { body: "STOP" },
        },
      ],
    });
    expect((await post(body)).status).toBe(200);

    expect(await db.event.findFirstOrThrow({ where: { idempotencyKey: "whatsapp:wamid.stop-1" } })).toMatchObject({
      type: "unsubscribed",
      payload: { channel: "WHATSAPP", text: "STOP" },
    });
    const consents = await db.consumerConsent.findMany({
      where: { consumerId: consumer.id },
      orderBy: { channel: "asc" },
    });
    expect(consents.map((c) => `${c.channel}:${c.status}`)).toEqual([
      "EMAIL:GRANTED",
      "WHATSAPP:WITHDRAWN",
      "WEBHOOK:GRANTED",
    ]);
    expect(await db.action.findUniqueOrThrow({ where: { id: planned.id } })).toMatchObject({ status: "CANCELLED" });
    expect(await db.action.findUniqueOrThrow({ where: { id: email.id } })).toMatchObject({ status: "PLANNED" });
  });

  it("fails a message WhatsApp reports undeliverable and plans its fallback", async () => {
    const { consumer, action, wamid } = await sentWhatsApp({ fallbackTo: "fallback@example.test" });
    const errors = [{ code: 131026, title: "Message undeliverable" }];
    const body = notification({
      statuses: [{ id: wamid, status: "failed", timestamp: seconds(new Date()), recipient_id: consumer.phone, errors }],
    });

    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(200);

    const failed = await db.action.findUniqueOrThrow({ where: { id: action.id } });
    expect(failed).toMatchObject({
      status: "FAILED",
      statusReason: "undeliverable, reported by WhatsApp: 131026 Message undeliverable",
      providerResponse: { report: { status: "failed", errors } },
    });
    const fallbacks = await db.action.findMany({ where: { invocationId: action.invocationId, sequence: { gt: 1 } } });
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatchObject({
      channel: "EMAIL",
      status: "PLANNED",
      payload: { to: "fallback@example.test", message: "Still interested?" },
    });
    expect(await db.event.count({ where: { consumerId: consumer.id, type: "whatsapp_failed" } })).toBe(1);
  });
});
