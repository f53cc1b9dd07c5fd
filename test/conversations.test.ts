import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import {
  planActions,
  sendDue,
  startHttpSink,
  testProviders,
  whatsAppAccepted,
  whatsAppTo,
} from "./support/delivery-fixtures.js";
import { fromGlobalId } from "./support/ids.js";
import { creatorWithAgent } from "./support/operations.js";
import { eventually } from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

// Conversations: one per consumer and channel, the consumer's messages and ours in order, and who
// holds it. A conversation handed to a person, or closed, gets nothing more from the agent.

const api = useApi({ worker: true });

/** The agent reads a message at once: these tests are not about bursts (the evaluation is). */
const NO_BURST_WAIT = { tunables: { replyDelaySeconds: 0 } };

const ConversationUpdates = graphql(`
  subscription ConversationUpdates($creatorId: ID) {
    conversationUpdates(creatorId: $creatorId) {
      id
      holder
      channel
    }
  }
`);

const INGEST = `
  mutation ($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on IngestedEvent { event { id consumer { id } } }
      ... on Error { code message }
    }
  }`;

const CONVERSATIONS = `
  query ($id: ID!) {
    node(id: $id) {
      ... on Consumer {
        conversations {
          id channel holder holderReason lastInboundAt customerServiceWindowEndsAt
          messages(first: 20) { totalCount edges { node { direction text } } }
        }
      }
    }
  }`;

const HOLDER = (name: string, withReason: boolean) => `
  mutation ($id: ID!${withReason ? ", $reason: String" : ""}) {
    ${name}(id: $id${withReason ? ", reason: $reason" : ""}) {
      __typename
      ... on Conversation { holder holderReason }
      ... on Error { code message }
    }
  }`;

type Owner = Awaited<ReturnType<typeof creatorWithAgent>>;
type Conversation = {
  id: string;
  channel: string;
  holder: string;
  holderReason: string | null;
  lastInboundAt: string | null;
  customerServiceWindowEndsAt: string | null;
  messages: { totalCount: number; edges: { node: { direction: string; text: string | null } }[] };
};

/** One scheduler tick against a WhatsApp sink, as the worker's scheduler would run; what the sink received. */
async function deliverDue() {
  const sink = await startHttpSink();
  sink.reply = whatsAppAccepted;
  try {
    await sendDue(testProviders({ smtpUrl: "smtp://127.0.0.1:1", whatsAppUrl: sink.url }), { batchSize: 50 });
    return [...sink.received];
  } finally {
    await sink.close();
  }
}

const newPhone = () => `+1415${randomInt(2_000_000, 10_000_000)}`;

/** Sends an event for the consumer with the creator's key and waits until the worker ran it. */
async function send(
  owner: Owner,
  consumer: Record<string, unknown>,
  type: string,
  payload: Record<string, unknown> = {},
) {
  const answer = await api.request<
    { ingestEvent: { __typename: string; event: { id: string; consumer: { id: string } } } },
    unknown
  >(INGEST, { creatorId: owner.gid, event: { consumer, type, payload } }, owner.creatorKey);
  const ingested = answer.data?.ingestEvent;
  if (ingested?.__typename !== "IngestedEvent") throw new Error(`not ingested: ${JSON.stringify(answer)}`);
  const { event } = ingested;
  await eventually(async () =>
    (await db.event.findFirstOrThrow({ where: { id: fromGlobalId(event.id).id } })).processedAt ? true : undefined,
  );
  return event.consumer.id;
}

async function conversationsOf(owner: Owner, consumerGid: string): Promise<Conversation[]> {
  const answer = await api.request<{ node: { conversations: Conversation[] } }, unknown>(
    CONVERSATIONS,
    { id: consumerGid },
    owner.creatorKey,
  );
  expect(answer.errors).toBeUndefined();
  return answer.data?.node.conversations ?? [];
}

const plannedWhatsApp = (consumerGid: string) =>
  db.action.count({ where: { consumerId: fromGlobalId(consumerGid).id, channel: "WHATSAPP", status: "PLANNED" } });

describe("conversations", () => {
  it("hold the consumer's messages and ours in order, with WhatsApp's customer-service window", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    // No quiet hours: the time of day this runs at must not hold the message back.
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const phone = newPhone();
    const consumer = { externalId: "conv-1", phone, consents: [{ channel: "WHATSAPP", granted: true }] };
    const gid = await send(owner, consumer, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Hi! Is the sprint still open?",
    });

    await send(owner, consumer, "service_click", { service: "Leadership Sprint" });
    // Send what the agent planned on WhatsApp now, as the scheduler would.
    await db.action.updateMany({ where: { consumerId: fromGlobalId(gid).id }, data: { sendAt: new Date() } });
    await deliverDue();
    const sent = await db.action.findMany({ where: { consumerId: fromGlobalId(gid).id, status: "SENT" } });
    expect(sent.length).toBeGreaterThan(0);

    const [conversation] = await conversationsOf(owner, gid);
    expect(conversation).toMatchObject({ channel: "WHATSAPP", holder: "AGENT" });
    expect(conversation.messages.edges.map((e) => e.node)).toEqual([
      { direction: "INBOUND", text: "Hi! Is the sprint still open?" },
      ...sent.map((a) => ({ direction: "OUTBOUND", text: (a.payload as { message: string }).message })),
    ]);
    const windowEnds = new Date(conversation.customerServiceWindowEndsAt as string).getTime();
    expect(windowEnds - new Date(conversation.lastInboundAt as string).getTime()).toBe(24 * 3_600_000);
  });

  it("announce a message when it joins the conversation (sent), so a console showing it can read it there", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    // Sent at once, whatever the hour the test runs at.
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const consents = [{ channel: "WHATSAPP", granted: true }];
    const gid = await send(owner, { externalId: "conv-answer", phone: newPhone(), consents }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Where is my invoice?",
    });
    const [conversation] = await conversationsOf(owner, gid);
    await api.request(
      HOLDER("handOffConversation", true),
      { id: conversation.id, reason: "billing" },
      owner.creatorKey,
    );
    const feed = await subscribeSse(api.url, ConversationUpdates, { creatorId: owner.gid }, owner.creatorKey);
    try {
      const sent = await api.request(
        `mutation ($id: ID!) { sendMessage(conversationId: $id, text: "Sent it to you just now.") { __typename } }`,
        { id: conversation.id },
        owner.creatorKey,
      );
      expect(sent.data).toEqual({ sendMessage: { __typename: "Action" } });
      const ofIt = () => feed.received.filter((m) => m.data?.conversationUpdates?.id === conversation.id);
      await feed.waitFor((m) => m.data?.conversationUpdates?.id === conversation.id);
      const texts = async () => (await conversationsOf(owner, gid))[0].messages.edges.map((e) => e.node.text);
      // Planned, not yet the conversation's: the update that said so came before it was.
      expect(await texts()).not.toContain("Sent it to you just now.");

      await deliverDue();
      await eventually(async () => (ofIt().length >= 2 ? true : undefined), 10_000, "an update once sent");
      expect(ofIt().at(-1)?.data?.conversationUpdates).toEqual({
        id: conversation.id,
        holder: "PERSON",
        channel: "WHATSAPP",
      });
      expect(await texts()).toContain("Sent it to you just now.");
    } finally {
      feed.close();
    }
  });

  it("handed to a person get nothing more from the agent until given back; closed ones reopen on the consumer's next message", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    const consents = [{ channel: "WHATSAPP", granted: true }];
    const held = { externalId: "conv-held", phone: newPhone(), consents };
    const control = { externalId: "conv-control", phone: newPhone(), consents };
    const heldGid = await send(owner, held, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Hello there",
    });
    await send(owner, control, "whatsapp_replied", { channel: "WHATSAPP", text: "Hello there" });
    const [conversation] = await conversationsOf(owner, heldGid);

    const handedOff = await api.request(
      HOLDER("handOffConversation", true),
      { id: conversation.id, reason: "billing" },
      owner.creatorKey,
    );
    expect(handedOff.data).toEqual({
      handOffConversation: { __typename: "Conversation", holder: "PERSON", holderReason: "billing" },
    });
    expect(await plannedWhatsApp(heldGid)).toBe(0);

    // The same interest from both: the control consumer gets a WhatsApp follow-up, the handed-off one none.
    await send(owner, control, "service_click", { service: "Leadership Sprint" });
    await send(owner, held, "service_click", { service: "Leadership Sprint" });
    const controlGid = (
      await db.consumer.findFirstOrThrow({ where: { creatorId: owner.creator.id, externalId: "conv-control" } })
    ).id;
    expect(
      await db.action.count({ where: { consumerId: controlGid, channel: "WHATSAPP", status: "PLANNED" } }),
    ).toBeGreaterThan(0);
    expect(await plannedWhatsApp(heldGid)).toBe(0);

    const back = await api.request(
      HOLDER("returnConversationToAgent", false),
      { id: conversation.id },
      owner.creatorKey,
    );
    expect(back.data).toEqual({
      returnConversationToAgent: { __typename: "Conversation", holder: "AGENT", holderReason: null },
    });
    const closed = await api.request(
      HOLDER("closeConversation", true),
      { id: conversation.id, reason: "done" },
      owner.creatorKey,
    );
    expect(closed.data).toMatchObject({ closeConversation: { holder: "CLOSED" } });
    await send(owner, held, "whatsapp_replied", { channel: "WHATSAPP", text: "How much is the Leadership Sprint?" });
    expect((await conversationsOf(owner, heldGid))[0]).toMatchObject({ holder: "AGENT", holderReason: null });

    const audited = await db.auditLog.findMany({
      where: { targetId: fromGlobalId(conversation.id).id },
      orderBy: { createdAt: "asc" },
    });
    expect(audited.map((a) => a.operation)).toEqual([
      "conversation.hand_off",
      "conversation.return_to_agent",
      "conversation.close",
    ]);
  });

  it("are another creator's to change: an unknown id to anyone else", async () => {
    const [owner, stranger] = await Promise.all([
      creatorWithAgent(api, NO_BURST_WAIT),
      creatorWithAgent(api, NO_BURST_WAIT),
    ]);
    const gid = await send(owner, { externalId: "conv-private", phone: newPhone() }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "hello",
    });
    const [conversation] = await conversationsOf(owner, gid);
    const refused = await api.request(
      HOLDER("handOffConversation", true),
      { id: conversation.id },
      stranger.creatorKey,
    );
    expect(refused.data).toMatchObject({ handOffConversation: { __typename: "NotFoundError", code: "NOT_FOUND" } });
    expect((await conversationsOf(owner, gid))[0].holder).toBe("AGENT");
  });

  it("take a person's message through the same consent and send rules, and become the person's", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const consents = [{ channel: "WHATSAPP", granted: true }];
    const reachable = await send(owner, { externalId: "conv-send", phone: newPhone(), consents }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Hello",
    });
    const optedOut = await send(owner, { externalId: "conv-stop", phone: newPhone(), consents }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Question about my invoice",
    });
    await send(owner, { externalId: "conv-stop", consents: [{ channel: "WHATSAPP", granted: false }] }, "page_view");

    const SEND = `mutation ($id: ID!, $text: String!) { sendMessage(conversationId: $id, text: $text) {
      __typename ... on Action { id status sentBy invocation { id } } ... on Error { code message } } }`;
    type Sent = {
      sendMessage: { __typename: string; id: string; status: string; sentBy: string | null; invocation: null };
    };
    const [toReachable] = await conversationsOf(owner, reachable);
    const [toOptedOut] = await conversationsOf(owner, optedOut);
    const empty = await api.request<Sent, unknown>(SEND, { id: toReachable.id, text: "   " }, owner.creatorKey);
    expect(empty.data?.sendMessage).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    const sent = await api.request<Sent, unknown>(
      SEND,
      { id: toReachable.id, text: "Hi, Maya here. Happy to talk!" },
      owner.creatorKey,
    );
    expect(sent.data?.sendMessage).toMatchObject({ __typename: "Action", status: "PLANNED", invocation: null });
    expect(sent.data?.sendMessage.sentBy).toBeTruthy();
    const refused = await api.request<Sent, unknown>(
      SEND,
      { id: toOptedOut.id, text: "About your invoice..." },
      owner.creatorKey,
    );
    expect(refused.data?.sendMessage).toMatchObject({ __typename: "Action", status: "PLANNED" });

    await deliverDue();
    const byId = (gid: string) => db.action.findUniqueOrThrow({ where: { id: fromGlobalId(gid).id } });
    expect(await byId(sent.data?.sendMessage.id as string)).toMatchObject({ status: "SENT" });
    expect(await byId(refused.data?.sendMessage.id as string)).toMatchObject({
      status: "SKIPPED",
      statusReason: expect.stringContaining("WHATSAPP consent withdrawn"),
    });
    const [after] = await conversationsOf(owner, reachable);
    expect(after.holder).toBe("PERSON");
    expect(after.messages.edges.at(-1)?.node).toEqual({ direction: "OUTBOUND", text: "Hi, Maya here. Happy to talk!" });
  });

  it("skip a person's WhatsApp message that could only go out after the customer-service window closed", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const consents = [{ channel: "WHATSAPP", granted: true }];
    const gid = await send(owner, { externalId: "conv-late", phone: newPhone(), consents }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Hello?",
    });
    const [conversation] = await conversationsOf(owner, gid);
    const SEND = `mutation ($id: ID!, $text: String!) { sendMessage(conversationId: $id, text: $text) {
      __typename ... on Action { id } ... on Error { code message } } }`;
    const sent = await api.request<{ sendMessage: { __typename: string; id: string } }, unknown>(
      SEND,
      { id: conversation.id, text: "Sorry for the wait!" },
      owner.creatorKey,
    );
    expect(sent.data?.sendMessage.__typename).toBe("Action");
    // The message waited (quiet hours, a full cap, a retry) until the consumer's message was 25 hours old.
    await db.conversation.update({
      where: { id: fromGlobalId(conversation.id).id },
      data: { lastInboundAt: new Date(Date.now() - 25 * 3_600_000) },
    });

    expect(await deliverDue()).toEqual([]);
    expect(
      await db.action.findUniqueOrThrow({ where: { id: fromGlobalId(sent.data!.sendMessage.id).id } }),
    ).toMatchObject({
      status: "SKIPPED",
      statusReason: expect.stringMatching(
        /^WhatsApp customer-service window closed: only template messages may be sent/,
      ),
    });
  });

  it("never let a consumer's message from the future hold the customer-service window open", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    const consumer = {
      externalId: "conv-future",
      phone: newPhone(),
      consents: [{ channel: "WHATSAPP", granted: true }],
    };
    const answer = await api.request<
      { ingestEvent: { __typename: string; event: { consumer: { id: string } } } },
      unknown
    >(
      INGEST,
      {
        creatorId: owner.gid,
        event: {
          consumer,
          type: "whatsapp_replied",
          occurredAt: new Date(Date.now() + 4 * 60_000).toISOString(),
          payload: { channel: "WHATSAPP", text: "Hi" },
        },
      },
      owner.creatorKey,
    );
    expect(answer.data?.ingestEvent.__typename).toBe("IngestedEvent");
    const [conversation] = await conversationsOf(owner, answer.data!.ingestEvent.event.consumer.id);
    expect(new Date(conversation.lastInboundAt as string).getTime()).toBeLessThanOrEqual(Date.now());
    expect(new Date(conversation.customerServiceWindowEndsAt as string).getTime()).toBeLessThanOrEqual(
      Date.now() + 24 * 3_600_000,
    );
  });

  it("are followed live: a consumer's message and a hand-off reach the creator's subscribers, and no one else's", async () => {
    const [owner, other] = await Promise.all([
      creatorWithAgent(api, NO_BURST_WAIT),
      creatorWithAgent(api, NO_BURST_WAIT),
    ]);
    const feed = await subscribeSse(api.url, ConversationUpdates, { creatorId: owner.gid }, owner.creatorKey);
    const foreign = await subscribeSse(api.url, ConversationUpdates, { creatorId: owner.gid }, other.creatorKey);
    try {
      const gid = await send(owner, { externalId: "conv-live", phone: newPhone() }, "whatsapp_replied", {
        channel: "WHATSAPP",
        text: "Are you there?",
      });
      const [conversation] = await conversationsOf(owner, gid);
      const opened = await feed.waitFor((m) => m.data?.conversationUpdates?.id === conversation.id);
      expect(opened.data?.conversationUpdates).toEqual({ id: conversation.id, holder: "AGENT", channel: "WHATSAPP" });

      await api.request(HOLDER("handOffConversation", true), { id: conversation.id, reason: "live" }, owner.creatorKey);
      const handedOff = await feed.waitFor((m) => m.data?.conversationUpdates?.holder === "PERSON");
      expect(handedOff.data?.conversationUpdates?.id).toBe(conversation.id);

      const refused = await foreign.waitFor(() => true);
      expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    } finally {
      feed.close();
      foreign.close();
    }
  });

  it("are handed to the creator by the agent, live and audited, with one notice; an opt-out in plain words is honoured", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const feed = await subscribeSse(api.url, ConversationUpdates, { creatorId: owner.gid }, owner.creatorKey);
    const consents = [
      { channel: "WHATSAPP", granted: true },
      { channel: "EMAIL", granted: true },
    ];
    try {
      const refund = { externalId: "conv-refund", phone: newPhone(), consents };
      const gid = await send(owner, refund, "whatsapp_replied", { text: "I'd like a refund for the sprint please" });
      const handedOff = await feed.waitFor((m) => m.data?.conversationUpdates?.holder === "PERSON");
      const [conversation] = await conversationsOf(owner, gid);
      expect(handedOff.data?.conversationUpdates?.id).toBe(conversation.id);
      expect(conversation.holderReason).toMatch(/refund/);
      const audit = await db.auditLog.findFirstOrThrow({ where: { targetId: fromGlobalId(conversation.id).id } });
      expect(audit).toMatchObject({ operation: "conversation.hand_off", details: { by: "agent" } });
      await deliverDue();
      const sent = await db.action.findMany({ where: { consumerId: fromGlobalId(gid).id, status: "SENT" } });
      expect(sent.map((a) => (a.payload as { message: string }).message)).toEqual([
        expect.stringMatching(/passed your refund request to .*, who will reply here personally\./),
      ]);
      // The conversation shows what the agent understood and what it said.
      const meaning = await api.request<
        {
          node: { messages: { edges: { node: { direction: string; intent: string | null; topic: string | null } }[] } };
        },
        unknown
      >(
        `query ($id: ID!) { node(id: $id) { ... on Conversation { messages(first: 10) { edges { node { direction intent topic } } } } } }`,
        { id: conversation.id },
        owner.creatorKey,
      );
      expect(meaning.data?.node.messages.edges.map((e) => e.node)).toEqual([
        { direction: "INBOUND", intent: "SUPPORT", topic: null },
        { direction: "OUTBOUND", intent: null, topic: "hand_off" },
      ]);
      // The creator's conversation now: the agent's answer to a question there is withheld.
      await send(owner, refund, "whatsapp_replied", { text: "How much is the Leadership Sprint?" });
      expect(await plannedWhatsApp(gid)).toBe(0);

      const leaving = { externalId: "conv-leaving", phone: newPhone(), email: "leaving@example.test", consents };
      const leavingGid = await send(owner, leaving, "page_view");
      await send(owner, leaving, "whatsapp_replied", { text: "Por favor, no me escribas más" });
      const consentRows = await db.consumerConsent.findMany({ where: { consumerId: fromGlobalId(leavingGid).id } });
      expect(consentRows.map((c) => c.channel)).toEqual(expect.arrayContaining(["WHATSAPP", "EMAIL"]));
      expect(consentRows.filter((c) => c.status !== "WITHDRAWN")).toEqual([]);
      expect(await db.action.count({ where: { consumerId: fromGlobalId(leavingGid).id, status: "PLANNED" } })).toBe(0);
    } finally {
      feed.close();
    }
  });

  it("never lets out an agent's message that was already on its way when the conversation was handed off", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const phone = newPhone();
    const gid = await send(
      owner,
      { externalId: "conv-late", phone, consents: [{ channel: "WHATSAPP", granted: true }] },
      "whatsapp_replied",
      {
        channel: "WHATSAPP",
        text: "I want to talk to someone",
      },
    );
    const [conversation] = await conversationsOf(owner, gid);
    await api.request(
      HOLDER("handOffConversation", true),
      { id: conversation.id, reason: "asked for a person" },
      owner.creatorKey,
    );
    // As a scheduler that claimed the agent's message before the hand-off would hold it.
    const consumer = await db.consumer.findUniqueOrThrow({ where: { id: fromGlobalId(gid).id } });
    const [late] = await planActions(consumer, [
      { channel: "WHATSAPP", payload: whatsAppTo(phone, "Still interested?"), sendAt: new Date() },
    ]);

    const received = await deliverDue();
    expect(received.filter((r) => JSON.parse(r.body).to === phone)).toEqual([]);
    expect(await db.action.findUniqueOrThrow({ where: { id: late.id } })).toMatchObject({
      status: "SKIPPED",
      statusReason: "conversation handed off to a person",
    });
  });

  it("keep a person's own planned message through a close, and refuse free text outside WhatsApp's window", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    const consents = [{ channel: "WHATSAPP", granted: true }];
    const gid = await send(owner, { externalId: "conv-keep", phone: newPhone(), consents }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Where is my invoice?",
    });
    const [conversation] = await conversationsOf(owner, gid);
    const SEND = `mutation ($id: ID!, $text: String!) { sendMessage(conversationId: $id, text: $text) {
      __typename ... on Action { id status } ... on Error { code message } } }`;
    type Sent = { sendMessage: { __typename: string; id: string; status: string; code?: string; message?: string } };
    const sent = await api.request<Sent, unknown>(
      SEND,
      { id: conversation.id, text: "Sent it just now." },
      owner.creatorKey,
    );
    expect(sent.data?.sendMessage).toMatchObject({ __typename: "Action", status: "PLANNED" });
    const reason = `${"a".repeat(499)}😀`;
    const closed = await api.request(
      HOLDER("closeConversation", true),
      { id: conversation.id, reason },
      owner.creatorKey,
    );
    expect(closed.data).toEqual({
      closeConversation: { __typename: "Conversation", holder: "CLOSED", holderReason: reason },
    });
    expect(
      await db.action.findUniqueOrThrow({ where: { id: fromGlobalId(sent.data?.sendMessage.id as string).id } }),
    ).toMatchObject({
      status: "PLANNED",
    });

    // Two days later, with no word from the consumer since, WhatsApp takes templates only.
    await db.conversation.update({
      where: { id: fromGlobalId(conversation.id).id },
      data: { lastInboundAt: new Date(Date.now() - 48 * 3_600_000) },
    });
    const late = await api.request<Sent, unknown>(
      SEND,
      { id: conversation.id, text: "Still there?" },
      owner.creatorKey,
    );
    expect(late.data?.sendMessage).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    expect(late.data?.sendMessage.message).toContain("customer-service window");
  });

  it("reopen to the agent only on a message written after the close, and never on an opt-out", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    const consumer = {
      externalId: "conv-reopen",
      phone: newPhone(),
      consents: [{ channel: "WHATSAPP", granted: true }],
    };
    const gid = await send(owner, consumer, "whatsapp_replied", { channel: "WHATSAPP", text: "Hello" });
    const [conversation] = await conversationsOf(owner, gid);
    await api.request(HOLDER("closeConversation", true), { id: conversation.id, reason: "done" }, owner.creatorKey);

    const weekAgo = new Date(Date.now() - 7 * 24 * 3_600_000).toISOString();
    const backfill = await api.request(
      INGEST,
      {
        creatorId: owner.gid,
        event: {
          consumer,
          type: "whatsapp_replied",
          occurredAt: weekAgo,
          payload: { channel: "WHATSAPP", text: "old" },
        },
      },
      owner.creatorKey,
    );
    expect(backfill.errors).toBeUndefined();
    await send(owner, consumer, "unsubscribed", { channel: "WHATSAPP", text: "STOP" });
    expect((await conversationsOf(owner, gid))[0].holder).toBe("CLOSED");
  });

  it("answer nothing, on any channel, to a message written in a conversation a person holds", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    const both = [
      { channel: "WHATSAPP", granted: true },
      { channel: "EMAIL", granted: true },
    ];
    const person = (id: string) => ({ externalId: id, phone: newPhone(), email: `${id}@example.test`, consents: both });
    const held = person("conv-email-held");
    const control = person("conv-email-control");
    const heldGid = await send(owner, held, "email_replied", { channel: "EMAIL", text: "Hello" });
    await send(owner, control, "email_replied", { channel: "EMAIL", text: "Hello" });
    const email = (await conversationsOf(owner, heldGid)).find((c) => c.channel === "EMAIL") as Conversation;
    await api.request(HOLDER("handOffConversation", true), { id: email.id, reason: "refund" }, owner.creatorKey);
    const before = await db.action.count({ where: { consumerId: fromGlobalId(heldGid).id, status: "PLANNED" } });

    const controlId = (
      await db.consumer.findFirstOrThrow({ where: { creatorId: owner.creator.id, externalId: "conv-email-control" } })
    ).id;
    const controlBefore = await db.action.count({ where: { consumerId: controlId, status: "PLANNED" } });
    await send(owner, held, "email_replied", { channel: "EMAIL", text: "Honestly it's too expensive anyway" });
    await send(owner, control, "email_replied", { channel: "EMAIL", text: "Honestly it's too expensive anyway" });
    // The same message gets the agent's answer where the agent holds the conversation, none where a person does.
    expect(await db.action.count({ where: { consumerId: controlId, status: "PLANNED" } })).toBeGreaterThan(
      controlBefore,
    );
    expect(await db.action.count({ where: { consumerId: fromGlobalId(heldGid).id, status: "PLANNED" } })).toBe(before);
  });

  it("refuse a subject on WhatsApp and a filter naming something that is not a consumer", async () => {
    const owner = await creatorWithAgent(api, NO_BURST_WAIT);
    const gid = await send(owner, { externalId: "conv-input", phone: newPhone() }, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "hi",
    });
    const [conversation] = await conversationsOf(owner, gid);
    const withSubject = await api.request<{ sendMessage: { __typename: string; code?: string } }, unknown>(
      `mutation ($id: ID!) { sendMessage(conversationId: $id, text: "Hello", subject: "Re: hi") {
        __typename ... on Error { code } } }`,
      { id: conversation.id },
      owner.creatorKey,
    );
    expect(withSubject.data?.sendMessage).toEqual({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    expect(await db.action.count({ where: { consumerId: fromGlobalId(gid).id, sentBy: { not: null } } })).toBe(0);

    const filtered = await api.request(
      `query ($creator: ID!, $consumer: ID!) { node(id: $creator) { ... on Creator {
        conversations(filter: { consumerId: $consumer }) { totalCount } } } }`,
      { creator: owner.gid, consumer: conversation.id },
      owner.creatorKey,
    );
    expect(filtered.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
