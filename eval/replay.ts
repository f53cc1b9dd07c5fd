import { randomBytes, randomInt } from "node:crypto";
import { approveAgentTemplates, makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { startHttpSink, startSmtpSink, whatsAppAccepted } from "../scripts/sinks.js";
import { runAgents } from "../src/agents/agent-run.js";
import { deployAgent } from "../src/agents/agent-service.js";
import { config } from "../src/config.js";
import { changeHolder } from "../src/conversations/conversation-service.js";
import { db } from "../src/db/client.js";
import { createEmailProvider } from "../src/delivery/providers/email.js";
import type { ChannelProviders } from "../src/delivery/providers/provider.js";
import { createWebhookProvider } from "../src/delivery/providers/webhook.js";
import { createWhatsAppProvider } from "../src/delivery/providers/whatsapp.js";
import { DeliveryScheduler } from "../src/delivery/scheduler.js";
import { ingestEvents } from "../src/events/ingest.js";
import type { Channel } from "../src/generated/prisma/enums.js";
import { type History, RULES, type Rule, type SentExpectation, type Step } from "./histories.js";
import { MENTOR } from "./profiles.js";

// Replays consumer histories through the real pipeline: ingestion (the service the GraphQL API
// calls), the agent runs the worker makes, and the delivery scheduler sending to local SMTP and
// WhatsApp sinks, on PostgreSQL and Redis. Time is the replay's clock: each history starts 150
// days ago and moves forward step by step, so gaps of days and months take no time.

const DAY = 86_400_000;

/** One expectation of one step, checked. */
export type Check = { history: string; step: number; what: string; ok: boolean; detail: string };

export type HistoryResult = { history: History; checks: Check[]; passed: boolean };

/** Local sinks and providers for a replay. */
export async function startDelivery() {
  const smtp = await startSmtpSink();
  const whatsApp = await startHttpSink();
  whatsApp.reply = whatsAppAccepted;
  // A scheduler closes its providers when it stops: each tick gets its own.
  const providers = (): ChannelProviders => ({
    EMAIL: createEmailProvider({ smtpUrl: smtp.url, from: "Closer <agent@closer.test>", timeoutMs: 5_000 }),
    WHATSAPP: createWhatsAppProvider({
      apiUrl: `${whatsApp.url}/v19.0`,
      phoneNumberId: config().WHATSAPP_PHONE_NUMBER_ID,
      token: "eval-token",
      timeoutMs: 5_000,
    }),
    WEBHOOK: createWebhookProvider({ signingSecret: config().WEBHOOK_SIGNING_SECRET, timeoutMs: 5_000 }),
  });
  return {
    providers,
    async close() {
      await smtp.close();
      await whatsApp.close();
    },
  };
}

/** "d3 10:00:05" -> that time on the history's third day. */
function timeOf(start: Date, at: string): Date {
  const match = /^d(\d+) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(at);
  if (!match) throw new Error(`bad step time "${at}"`);
  const [, day, hours, minutes, seconds] = match;
  return new Date(
    start.getTime() + Number(day) * DAY + ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds ?? 0)) * 1000,
  );
}

function eventOf(step: Step): { type: string; payload: Record<string, unknown> } | null {
  const does = step.does;
  if ("view" in does) return { type: "page_view", payload: { service: does.view } };
  if ("click" in does) return { type: "service_click", payload: { service: does.click } };
  if ("visit" in does) return { type: "page_view", payload: { url: "/" } };
  if ("says" in does) {
    return {
      type: does.on === "EMAIL" ? "email_replied" : "whatsapp_replied",
      payload: { text: does.says, ...(does.subject ? { subject: does.subject } : {}) },
    };
  }
  if ("event" in does) return { type: does.event, payload: does.payload ?? {} };
  return null;
}

/**
 * Runs what is due at `now`: agent runs for the creator's unprocessed events (a message waits for
 * its burst), then a scheduler tick; again while either produced something new.
 */
async function settle(creatorId: string, providers: () => ChannelProviders, now: Date): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const pending = await db.event.findMany({
      where: { creatorId, processedAt: null, occurredAt: { lte: now } },
      orderBy: [{ occurredAt: "asc" }, { receivedAt: "asc" }],
      select: { id: true },
    });
    let ran = 0;
    for (const event of pending) {
      const wait = await runAgents(event.id, true, now);
      if (!wait) ran++;
    }
    const scheduler = new DeliveryScheduler({
      providers: providers(),
      now: () => now,
      sendRates: {
        EMAIL: { perSecond: 1e6, burst: 1e6 },
        WHATSAPP: { perSecond: 1e6, burst: 1e6 },
        WEBHOOK: { perSecond: 1e6, burst: 1e6 },
      },
    });
    const before = await db.action.count({ where: { creatorId, status: "SENT" } });
    try {
      await scheduler.tick();
    } finally {
      await scheduler.close();
    }
    const sent = (await db.action.count({ where: { creatorId, status: "SENT" } })) - before;
    if (ran === 0 && sent === 0) return;
  }
}

const matches = (text: string, expected: string | RegExp) =>
  typeof expected === "string" ? text.includes(expected) : expected.test(text);

function checkSent(
  expected: SentExpectation[],
  sent: { channel: Channel; message: string; subject: string | null }[],
): { ok: boolean; detail: string } {
  const shown = sent.map((s) => `${s.channel}${s.subject ? ` [${s.subject}]` : ""}: ${s.message}`).join(" | ");
  if (sent.length !== expected.length) {
    return { ok: false, detail: `expected ${expected.length} message(s), got ${sent.length}: ${shown || "none"}` };
  }
  for (const [i, want] of expected.entries()) {
    const got = sent[i];
    const problems = [
      got.channel !== want.channel && `channel ${got.channel}, not ${want.channel}`,
      ...(want.has ?? []).filter((h) => !matches(got.message, h)).map((h) => `missing ${h}`),
      ...(want.not ?? []).filter((n) => matches(got.message, n)).map((n) => `must not say ${n}`),
      want.subject &&
        !want.subject.test(got.subject ?? "") &&
        `subject "${got.subject}" does not match ${want.subject}`,
    ].filter(Boolean);
    if (problems.length > 0) return { ok: false, detail: `${problems.join("; ")} in: ${shown}` };
  }
  return { ok: true, detail: shown || "nothing sent" };
}

/** What the replay asks of each step's decision beyond messages: the intent understood (unless scripted otherwise). */
export type ReplayOptions = {
  providers: () => ChannelProviders;
  /** Called before each step, so the model path can script its answer. */
  beforeStep?: (step: Step) => void;
  /** Whether to check the understood intent (the model path does not, where the script answers wrongly on purpose). */
  checkIntent?: (step: Step) => boolean;
};

/** Replays one history on a creator of its own; every expectation becomes a check. */
export async function replayHistory(history: History, options: ReplayOptions): Promise<HistoryResult> {
  const creatorSpec = history.creator ?? MENTOR;
  const owner = await makeCreator({ name: creatorSpec.name, quietHoursStart: "00:00", quietHoursEnd: "00:00" });
  await makeActiveProfile(owner.creator.id, creatorSpec.profile);
  await deployAgent({ creatorId: owner.creator.id, tunables: history.tunables ?? {} }, null);
  // As a real creator's: approved WhatsApp templates, so the agent may start the conversation there.
  await approveAgentTemplates(owner.creator.id);

  const start = new Date(Date.now() - 150 * DAY);
  start.setUTCHours(0, 0, 0, 0);
  const consents = history.consumer?.consents ?? ["WHATSAPP", "EMAIL"];
  const consumer = {
    externalId: `eval-${randomBytes(6).toString("hex")}`,
    name: history.consumer?.name ?? "Ana Souza",
    email: `ana-${randomBytes(4).toString("hex")}@example.test`,
    phone: `+1415${randomInt(1_000_000, 9_999_999)}`,
  };
  const checks: Check[] = [];
  let consumerId: string | null = null;

  for (const [index, step] of history.steps.entries()) {
    const at = timeOf(start, step.at);
    const next = history.steps[index + 1];
    const until = next ? new Date(timeOf(start, next.at).getTime() - 1) : new Date(at.getTime() + DAY);
    options.beforeStep?.(step);
    const check = (what: string, ok: boolean, detail: string) =>
      checks.push({ history: history.name, step: index, what, ok, detail });

    const event = eventOf(step);
    let eventId: string | null = null;
    if (event) {
      const [stored] = await ingestEvents(
        owner.creator.id,
        [
          {
            consumer: {
              ...consumer,
              ...(index === 0 ? { consents: consents.map((channel) => ({ channel, granted: true })) } : {}),
            },
            ...event,
            occurredAt: at,
            idempotencyKey: `${consumer.externalId}:${index}`,
          },
        ],
        null,
      );
      eventId = stored.event.id;
      consumerId = stored.event.consumerId;
    } else if ("creatorReturns" in step.does && consumerId) {
      const conversation = await db.conversation.findUnique({
        where: { consumerId_channel: { consumerId, channel: step.does.creatorReturns } },
      });
      if (conversation) await changeHolder(conversation.id, "AGENT", null, null);
    }

    // Due work at the step, after a burst's wait, after a welcome's delay, then until the next step.
    for (const offset of [0, 20_000, 6 * 60_000, 60 * 60_000]) {
      const now = new Date(at.getTime() + offset);
      if (now > until) break;
      await settle(owner.creator.id, options.providers, now);
    }
    await settle(owner.creator.id, options.providers, until);

    if (step.understood && eventId && (options.checkIntent?.(step) ?? true)) {
      const invocation = await db.agentInvocation.findFirst({ where: { eventId }, select: { decision: true } });
      const understood = (invocation?.decision as { understood?: { intent?: string } } | null)?.understood;
      const burstSkip = (invocation?.decision as { rule?: string } | null)?.rule === "burst";
      if (!burstSkip) {
        check(
          "understood",
          understood?.intent === step.understood.intent,
          `understood ${understood?.intent ?? "nothing"}, expected ${step.understood.intent}`,
        );
      }
    }
    const expect = step.expect;
    if (!expect || !consumerId) continue;
    if (expect.sent) {
      const sent = await db.action.findMany({
        where: { consumerId, status: "SENT", sentAt: { gte: at, lte: until } },
        orderBy: { sentAt: "asc" },
        select: { channel: true, payload: true },
      });
      const result = checkSent(
        expect.sent,
        sent.map((a) => {
          const payload = a.payload as { message?: string; subject?: string };
          return { channel: a.channel, message: payload.message ?? "", subject: payload.subject ?? null };
        }),
      );
      check("sent", result.ok, result.detail);
    }
    for (const [channel, holder] of Object.entries(expect.holder ?? {})) {
      const conversation = await db.conversation.findUnique({
        where: { consumerId_channel: { consumerId, channel: channel as Channel } },
        select: { holder: true },
      });
      check(
        `holder ${channel}`,
        conversation?.holder === holder,
        `holder ${conversation?.holder ?? "none"}, expected ${holder}`,
      );
    }
    if (expect.optedOut !== undefined) {
      const granted = await db.consumerConsent.count({ where: { consumerId, status: "GRANTED" } });
      check(
        expect.optedOut ? "opted out" : "still subscribed",
        expect.optedOut ? granted === 0 : granted > 0,
        `${granted} channel(s) still granted`,
      );
    }
    if (expect.withdrawn) {
      const withdrawn = await db.consumerConsent.findMany({
        where: { consumerId, status: "WITHDRAWN" },
        select: { channel: true },
        orderBy: { channel: "asc" },
      });
      const channels = withdrawn.map((c) => c.channel).join(",");
      check("withdrawn", channels === [...expect.withdrawn].sort().join(","), `withdrawn: ${channels || "none"}`);
    }
  }
  return { history, checks, passed: checks.every((c) => c.ok) };
}

/** The scorecard: per rule, the histories that exercise it and how many passed; then overall. */
export function scorecard(results: HistoryResult[], title: string): { text: string; overall: number } {
  const lines = [`${title}`, ""];
  for (const [rule, description] of Object.entries(RULES) as [Rule, string][]) {
    const mine = results.filter((r) => r.history.rules.includes(rule));
    if (mine.length === 0) continue;
    const passed = mine.filter((r) => r.passed).length;
    lines.push(
      `${((100 * passed) / mine.length).toFixed(0).padStart(4)}%  ${passed}/${mine.length}  ${rule}: ${description}`,
    );
  }
  const passed = results.filter((r) => r.passed).length;
  const overall = results.length === 0 ? 0 : (100 * passed) / results.length;
  lines.push("", `${overall.toFixed(1)}% overall: ${passed} of ${results.length} histories`);
  for (const result of results.filter((r) => !r.passed)) {
    lines.push(`FAILED ${result.history.name}`);
    for (const c of result.checks.filter((c) => !c.ok)) lines.push(`  step ${c.step} ${c.what}: ${c.detail}`);
  }
  return { text: lines.join("\n"), overall };
}
