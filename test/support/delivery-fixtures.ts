import { randomBytes, randomInt } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import pg from "pg";
import { createEmailProvider } from "../../src/actions/providers/email.js";
import type { ChannelProviders } from "../../src/actions/providers/provider.js";
import { createWebhookProvider } from "../../src/actions/providers/webhook.js";
import { createWhatsAppProvider } from "../../src/actions/providers/whatsapp.js";
import type { SendRates } from "../../src/actions/send-rate-limit.js";
import { config } from "../../src/config.js";
import { db } from "../../src/db/client.js";
import type { Action, Prisma } from "../../src/generated/prisma/client.js";
import type { ActionStatus, Channel } from "../../src/generated/prisma/enums.js";
import { makeCreator } from "./api.js";

// Real local endpoints for the providers, a clock the test moves, and rows made directly with
// Prisma: the scheduler and the send rules are the subject, not how actions get planned.

// A scheduler claims every due action it can see, so each delivery test file works in a database
// of its own: its schedulers never take another file's actions, nor a worker's of another file.
// The file points DATABASE_URL at it in vi.hoisted (connections open lazily), then creates it here.

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

async function asAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the file's database and applies the committed migrations' SQL to it, in order. */
export async function createFileDatabase(url = config().DATABASE_URL): Promise<void> {
  await asAdmin(url, (admin) => admin.query(`CREATE DATABASE "${databaseName(url)}"`));
  const migrations = new URL("../../prisma/migrations/", import.meta.url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const applied = (await readdir(migrations, { withFileTypes: true })).filter((e) => e.isDirectory());
    for (const { name } of applied.sort((a, b) => a.name.localeCompare(b.name))) {
      await client.query(await readFile(new URL(`${name}/migration.sql`, migrations), "utf8"));
    }
  } finally {
    await client.end();
  }
}

/**
 * Drops the file's database once the file's connections are gone: a pool's end() resolves
 * before its sockets have closed, and a connection killed while closing raises an error.
 */
export async function dropFileDatabase(url = config().DATABASE_URL): Promise<void> {
  if (process.env.KEEP_TEST_DATABASE) return;
  const name = databaseName(url);
  await asAdmin(url, async (admin) => {
    for (let wait = 0; wait < 100; wait++) {
      const { rows } = await admin.query<{ open: number }>(
        "SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = $1",
        [name],
      );
      if (rows[0].open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

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

/** A creator without quiet hours (start equals end) unless the test gives some. */
export async function makeDeliveryCreator(overrides: Parameters<typeof makeCreator>[0] = {}) {
  return makeCreator({ quietHoursStart: "00:00", quietHoursEnd: "00:00", ...overrides });
}

/** A consumer with a context, reachable by email and WhatsApp, consenting on the given channels. */
export async function makeConsumer(
  creatorId: string,
  options: { timezone?: string; consents?: Channel[]; withdrawn?: Channel[]; email?: string; phone?: string } = {},
) {
  const consumer = await db.consumer.create({
    data: {
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

export function emailTo(address: string, message = "Hello from the test", extra: Record<string, unknown> = {}) {
  return { to: address, subject: "A test message", message, template: "test", ...extra };
}

export function whatsAppTo(phone: string, message = "Hello on WhatsApp", extra: Record<string, unknown> = {}) {
  return { to: phone, message, template: "test", ...extra };
}

export function webhookTo(url: string, data: Record<string, unknown> = {}) {
  return { url, event: "lead.update", data };
}
