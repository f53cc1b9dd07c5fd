import { randomBytes, randomInt } from "node:crypto";
import { makeCreator } from "../../scripts/fixtures.js";
import { config } from "../../src/config.js";
import { db } from "../../src/db/client.js";
import { createEmailProvider } from "../../src/delivery/providers/email.js";
import type { ChannelProviders } from "../../src/delivery/providers/provider.js";
import { createWebhookProvider } from "../../src/delivery/providers/webhook.js";
import { createWhatsAppProvider } from "../../src/delivery/providers/whatsapp.js";
import { DeliveryScheduler, type SchedulerOptions } from "../../src/delivery/scheduler.js";
import type { SendRates } from "../../src/delivery/send-rate-limit.js";
import type { Action, Prisma } from "../../src/generated/prisma/client.js";
import type { ActionStatus, Channel } from "../../src/generated/prisma/enums.js";

// Real local endpoints for the providers, a clock the test moves, and rows made directly with
// Prisma: the scheduler and the send rules are the subject, not how actions get planned.

/** The platform's shared number: the API routes callbacks received on it (config's WHATSAPP_PHONE_NUMBER_ID). */
export const WHATSAPP_PHONE_NUMBER_ID = config().WHATSAPP_PHONE_NUMBER_ID;
export const WHATSAPP_TOKEN = "test-whatsapp-token";

/** A clock that only moves when the test says so. */
export function testClock(start: Date) {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    set: (at: Date) => {
      current = at.getTime();
    },
    advance: (ms: number) => {
      current += ms;
    },
  };
}

export {
  type HttpReply,
  type HttpSink,
  type ReceivedMail,
  type ReceivedRequest,
  type SmtpSink,
  startHttpSink,
  startSmtpSink,
  wamidOf,
  whatsAppAccepted,
} from "../../scripts/sinks.js";

/** Providers pointed at the local sinks. */
export function testProviders(
  endpoints: { smtpUrl: string; whatsAppUrl: string },
  timeoutMs = 5_000,
): ChannelProviders {
  return {
    EMAIL: createEmailProvider({ smtpUrl: endpoints.smtpUrl, from: "Closer <agent@closer.test>", timeoutMs }),
    WHATSAPP: createWhatsAppProvider({
      apiUrl: `${endpoints.whatsAppUrl}/v19.0`,
      phoneNumberId: WHATSAPP_PHONE_NUMBER_ID,
      token: WHATSAPP_TOKEN,
      timeoutMs,
    }),
    WEBHOOK: createWebhookProvider({ signingSecret: config().WEBHOOK_SIGNING_SECRET, timeoutMs }),
  };
}

/** No send-rate limit gets in the way, unless the test sets one. */
export const UNLIMITED_RATES: SendRates = {
  EMAIL: { perSecond: 1e6, burst: 1e6 },
  WHATSAPP: { perSecond: 1e6, burst: 1e6 },
  WEBHOOK: { perSecond: 1e6, burst: 1e6 },
};

/** One tick of a scheduler with these providers and no send-rate limit: sends what is due, then stops. */
export async function sendDue(providers: ChannelProviders, options: SchedulerOptions = {}): Promise<void> {
  const scheduler = new DeliveryScheduler({ providers, sendRates: UNLIMITED_RATES, ...options });
  try {
    await scheduler.tick();
  } finally {
    await scheduler.close();
  }
}

/** A creator without quiet hours (start equals end) unless the test gives some. */
export async function makeDeliveryCreator(overrides: Parameters<typeof makeCreator>[0] = {}) {
  return makeCreator({ quietHoursStart: "00:00", quietHoursEnd: "00:00", ...overrides });
}

/**
 * A consumer with a context, reachable by email and WhatsApp, consenting on the given channels.
 * `wroteOnWhatsAppAt`: when they last wrote on WhatsApp (their conversation's lastInboundAt), which
 * opens WhatsApp's 24-hour customer-service window for free text; without it only template messages
 * go to them on WhatsApp.
 */
export async function makeConsumer(
  creatorId: string,
  options: {
    timezone?: string;
    consents?: Channel[];
    withdrawn?: Channel[];
    email?: string;
    phone?: string;
    wroteOnWhatsAppAt?: Date;
  } = {},
) {
  const consumer = await db.consumer.create({
    data: {
      ...(options.wroteOnWhatsAppAt
        ? {
            conversations: {
              create: { creatorId, channel: "WHATSAPP" as const, lastInboundAt: options.wroteOnWhatsAppAt },
            },
          }
        : {}),
      creatorId,
      email: options.email ?? `person-${randomBytes(6).toString("hex")}@example.test`,
      phone: options.phone ?? `+1${randomInt(1e9, 1e10)}`,
      timezone: options.timezone ?? null,
      context: { create: { creatorId } },
      consents: {
        create: [
          ...(options.consents ?? ["EMAIL", "WHATSAPP", "WEBHOOK"]).map((channel) => ({
            channel,
            status: "GRANTED" as const,
            source: "test",
          })),
          ...(options.withdrawn ?? []).map((channel) => ({ channel, status: "WITHDRAWN" as const, source: "test" })),
        ],
      },
    },
  });
  return consumer;
}

export type PlannedActionSpec = {
  channel: Channel;
  payload: Record<string, unknown>;
  sendAt: Date;
  priority?: number;
  status?: ActionStatus;
  sentAt?: Date;
  providerMessageId?: string;
  claimedAt?: Date;
  dispatchedAt?: Date;
};

/** An agent run (agent, event, invocation) with the given actions as its plan, in order. */
export async function planActions(
  consumer: { id: string; creatorId: string },
  specs: PlannedActionSpec[],
): Promise<Action[]> {
  const agent = await db.agent.upsert({
    where: { creatorId_name: { creatorId: consumer.creatorId, name: "Test agent" } },
    create: { creatorId: consumer.creatorId, name: "Test agent", kind: "generic_sales" },
    update: {},
  });
  const event = await db.event.create({
    data: { creatorId: consumer.creatorId, consumerId: consumer.id, type: "page_view", occurredAt: new Date() },
  });
  const invocation = await db.agentInvocation.create({
    data: {
      agentId: agent.id,
      eventId: event.id,
      eventReceivedAt: event.receivedAt,
      creatorId: consumer.creatorId,
      consumerId: consumer.id,
      status: "COMPLETED",
      acted: true,
    },
  });
  await db.action.createMany({
    data: specs.map((spec, i) => ({
      invocationId: invocation.id,
      sequence: i + 1,
      creatorId: consumer.creatorId,
      consumerId: consumer.id,
      channel: spec.channel,
      payload: spec.payload as Prisma.InputJsonObject,
      sendAt: spec.sendAt,
      priority: spec.priority ?? 1,
      status: spec.status ?? "PLANNED",
      sentAt: spec.sentAt,
      providerMessageId: spec.providerMessageId,
      claimedAt: spec.claimedAt,
      // As a claim made at claimedAt and never renewed would have it.
      leaseExpiresAt: spec.claimedAt && new Date(spec.claimedAt.getTime() + config().DELIVERY_LEASE_MS),
      dispatchedAt: spec.dispatchedAt,
    })),
  });
  return db.action.findMany({ where: { invocationId: invocation.id }, orderBy: { sequence: "asc" } });
}

/**
 * A creator with `consumers` consumers and `actions` webhook actions to `url`, spread evenly over
 * them, with priorities 0, 1 and 2 in turn.
 */
export async function planWebhooks(options: { consumers: number; actions: number; url: string; sendAt: Date }) {
  const { creator } = await makeDeliveryCreator();
  const consumers = await Promise.all(Array.from({ length: options.consumers }, () => makeConsumer(creator.id)));
  const planned: Action[] = [];
  for (const [c, consumer] of consumers.entries()) {
    const specs = Array.from({ length: options.actions / consumers.length }, (_, i) => ({
      channel: "WEBHOOK" as const,
      payload: webhookTo(options.url, { consumer: c, index: i }),
      sendAt: options.sendAt,
      priority: i % 3,
    }));
    planned.push(...(await planActions(consumer, specs)));
  }
  return { creator, planned };
}

export function emailTo(address: string, message = "Hello from the test", extra: Record<string, unknown> = {}) {
  return { to: address, subject: "A test message", message, template: "test", ...extra };
}

export function whatsAppTo(phone: string, message = "Hello on WhatsApp", extra: Record<string, unknown> = {}) {
  return { to: phone, message, template: "test", ...extra };
}

export function webhookTo(url: string, data: Record<string, unknown> = {}) {
  return { url, event: "lead.update", data };
}
