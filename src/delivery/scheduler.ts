import { setTimeout as sleep } from "node:timers/promises";
import { config } from "../config.js";
import { rememberWaId } from "../consumers/consumer-store.js";
import { publishConversationChanges } from "../conversations/conversation-feed.js";
import { inTransaction } from "../db/transaction.js";
import type { ActionStatus, Channel } from "../generated/prisma/enums.js";
import { logger } from "../logger.js";
import { deliveryLateness, deliveryOutcomes } from "../observability/metrics.js";
import { isOutage } from "../outages.js";
import { closeRedis, createCommandRedis } from "../redis.js";
import { publishActionChanges } from "./action-feed.js";
import { type ChannelPayload, fallbackFor, parsePayload } from "./action-payload.js";
import { recordDeliveryEvent } from "./delivery-events.js";
import {
  type ClaimedAction,
  claimDueActions,
  markDispatched,
  markFailed,
  markSent,
  markSkipped,
  recoverExpiredClaims,
  releaseClaims,
  renewLeases,
  replan,
  scheduleRetry,
} from "./delivery-store.js";
import { type ChannelProviders, providersFromConfig, type SendResult } from "./providers/index.js";
import type { SendSuccess, WhatsAppSenderCredentials } from "./providers/provider.js";
import { SendRateLimiter, type SendRates, sendRatesFromConfig } from "./send-rate-limit.js";
import { checkSendRules } from "./send-rules.js";

// Delivery: claim due actions, check the send rules, call the provider, record the outcome.
//
// At most once: an action is claimed by one scheduler (PLANNED -> SENDING in one statement),
// and marked dispatched in the transaction that checked its rules, just before the provider
// call. The claim is a lease the scheduler renews while the action is in its hands (waiting its
// turn in the batch, or in the provider call). A worker that dies leaves the action in SENDING;
// once its lease expires the action is planned again if it was never dispatched, else failed as
// "interrupted" (it may have gone out). A provider failure is retried only when the provider
// says the message was not sent.

export type SchedulerOptions = {
  /** The clock; tests move it to check quiet hours and retry backoff. */
  now?: () => Date;
  /** Pause between ticks when no work is left. */
  intervalMs?: number;
  /** Actions claimed per tick. */
  batchSize?: number;
  /** Sends under way at once; DELIVERY_CONCURRENCY by default. */
  concurrency?: number;
  /** Providers per channel; by default built from the configuration. */
  providers?: ChannelProviders;
  /** Send-rate limits per channel; by default from the configuration. */
  sendRates?: SendRates;
};

type Outcome = "sent" | "failed" | "skipped" | "deferred" | "retried" | "throttled" | "interrupted" | "replanned";

/** How long a stopping scheduler keeps trying to record outcomes through an outage. */
const RECORD_GRACE_ON_STOP_MS = 5_000;

type GateResult =
  | {
      outcome: "dispatched";
      creatorName: string;
      whatsAppSender: WhatsAppSenderCredentials | null;
      dispatchedAt: Date;
    }
  | { outcome: "skipped" | "deferred" | "throttled"; status: ActionStatus; reason: string };

/** Why a send failed, in the words stored on the action. */
function failureReason(result: Extract<SendResult, { ok: false }>, attempt: number, maxAttempts: number): string {
  const kind = {
    transient: `failed after ${attempt} of ${maxAttempts} attempts`,
    rejected: "refused by the provider",
    unknown: "outcome unknown, not retried (the message may have gone out)",
  }[result.kind];
  return `${kind}: ${result.reason}`;
}

export class DeliveryScheduler {
  private readonly now: () => Date;
  private readonly providers: ChannelProviders;
  private readonly sendRates: SendRates;
  private readonly limiter: SendRateLimiter;
  private readonly redis = createCommandRedis("closer-scheduler");
  private readonly settings = config();
  readonly batchSize: number;
  private readonly concurrency: number;
  /** The stop signal of the tick under way, and when it fired (see untilRecorded). */
  private stopping: AbortSignal | undefined;
  private stopAbortedAt: number | undefined;

  constructor(options: SchedulerOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.batchSize = options.batchSize ?? this.settings.SCHEDULER_BATCH_SIZE;
    this.concurrency = options.concurrency ?? this.settings.DELIVERY_CONCURRENCY;
    this.providers = options.providers ?? providersFromConfig(this.settings);
    this.sendRates = options.sendRates ?? sendRatesFromConfig(this.settings);
    this.redis.on("error", () => {}); // Each use reports its own failure; the limiter then fails open.
    this.limiter = new SendRateLimiter(this.redis, this.settings.REDIS_PREFIX);
  }

  /**
   * One pass: recover expired claims, claim a batch of due actions, deliver it. Returns how many
   * were claimed. Once `stopping` aborts, no further send starts: the sends in flight finish and
   * the rest of the batch is given back (PLANNED) for another scheduler.
   */
  async tick(stopping?: AbortSignal): Promise<number> {
    this.stopping = stopping;
    const recovered = await recoverExpiredClaims(this.now());
    if (recovered.length > 0) {
      logger.warn({ actions: recovered.length }, "recovered actions left in SENDING by a stopped worker");
      for (const action of recovered) this.count(action, action.status === "FAILED" ? "interrupted" : "replanned");
      await publishActionChanges(recovered);
    }
    const claimed = await claimDueActions(this.now(), this.batchSize, this.settings.DELIVERY_LEASE_MS);
    if (claimed.length === 0) return 0;
    // PostgreSQL went away before a send started: no further one starts this tick; the untouched
    // actions (and the one that met the outage) are given back once it answers.
    let halted = false;
    const giveBack: string[] = [];
    // Providers over their rate this tick: the rest of their actions wait for the next one.
    const throttled = new Set<string>();
    const inHand = new Set(claimed.map((a) => a.id));
    const renewal = this.renewLeasesWhile(inHand, claimed[0].claimedAt);
    let next = 0;
    const runner = async () => {
      while (next < claimed.length && !stopping?.aborted && !halted) {
        const action = claimed[next++];
        try {
          await this.deliver(action, throttled);
        } catch (error) {
          if (isOutage(error)) {
            if (!halted) logger.warn({ err: error }, "delivery paused: PostgreSQL unavailable");
            halted = true;
            giveBack.push(action.id);
          } else {
            // The action stays in SENDING: the lease recovery decides its fate.
            logger.error({ err: error, actionId: action.id }, "delivery failed unexpectedly");
          }
        } finally {
          inHand.delete(action.id);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.concurrency, claimed.length) }, runner));
    } finally {
      clearInterval(renewal);
      const unsent = [...giveBack, ...claimed.slice(next).map((a) => a.id)];
      if (unsent.length > 0) {
        const released = await this.untilRecorded(() => releaseClaims(unsent, claimed[0].claimedAt));
        await publishActionChanges(released);
      }
    }
    return claimed.length;
  }

  /**
   * Renews the leases of the batch's actions still in hand, every third of the lease, so a long
   * batch or a slow provider never looks like a stopped scheduler. A failed renewal is retried at
   * the next beat; the lease itself bounds how long one may fail.
   */
  private renewLeasesWhile(inHand: Set<string>, claimedAt: Date): NodeJS.Timeout {
    const leaseMs = this.settings.DELIVERY_LEASE_MS;
    return setInterval(() => {
      if (inHand.size === 0) return;
      renewLeases([...inHand], claimedAt, new Date(this.now().getTime() + leaseMs)).catch((error) =>
        logger.warn({ err: error }, "lease renewal failed; retrying at the next beat"),
      );
    }, leaseMs / 3);
  }

  /**
   * Runs a write whose content the scheduler alone knows (a send's outcome, claims to give back)
   * until PostgreSQL takes it: an outage is waited out with backoff (0.2 s doubling to 5 s),
   * however long it lasts (an outcome recorded after the lease expired still corrects the
   * recovery's guess, see markSent). Once the scheduler is stopping, it gives up after
   * RECORD_GRACE_ON_STOP_MS and the lease recovery decides. Other errors are thrown.
   */
  private async untilRecorded<T>(write: () => Promise<T>): Promise<T> {
    for (let delayMs = 200; ; delayMs = Math.min(delayMs * 2, 5_000)) {
      try {
        return await write();
      } catch (error) {
        if (!isOutage(error)) throw error;
        const stopping = this.stopping;
        if (stopping?.aborted) {
          this.stopAbortedAt ??= Date.now();
          if (Date.now() - this.stopAbortedAt > RECORD_GRACE_ON_STOP_MS) throw error;
        }
        await sleep(delayMs);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.providers).map((p) => p.close()));
    await closeRedis(this.redis);
  }

  private async deliver(action: ClaimedAction, throttled: Set<string>): Promise<void> {
    const checked = parsePayload(action.channel, action.payload);
    if (!checked.ok) {
      const failure = { reason: checked.reason, answer: null, providerCalled: false };
      await publishActionChanges(await markFailed(action, failure, null, this.now()));
      this.count(action, "failed");
      return;
    }
    const gate = await this.passGate(action, throttled);
    if (!gate) return;
    if (gate.outcome !== "dispatched") {
      this.count(action, gate.outcome);
      // A throttled action is released every tick until a token frees up: publish the first time only.
      if (gate.outcome !== "throttled" || action.statusReason !== gate.reason) {
        await publishActionChanges([{ id: action.id, creatorId: action.creatorId, status: gate.status }]);
      }
      return;
    }

    await publishActionChanges([{ id: action.id, creatorId: action.creatorId, status: "SENDING" }]);
    const result = await this.callProvider(action, checked.value, gate);
    // From here the outcome is known and must be recorded: through an outage, it is retried.
    if (result.ok) await this.untilRecorded(() => this.recordSent(action, checked.value, result, gate.dispatchedAt));
    else await this.untilRecorded(() => this.recordFailure(action, checked.value, result));
  }

  /**
   * The send rules, then the provider's send rate, then the dispatched mark, in one transaction
   * (see checkSendRules for the locks it holds). Null when the claim was lost to the lease
   * recovery meanwhile: then nothing is reported.
   */
  private async passGate(action: ClaimedAction, throttled: Set<string>): Promise<GateResult | null> {
    const provider = this.providers[action.channel];
    const rate = this.sendRates[action.channel];
    return inTransaction(async (client): Promise<GateResult | null> => {
      const verdict = await checkSendRules(client, action, this.now());
      if (verdict.kind === "skip") {
        const skipped = await markSkipped(client, action, verdict.reason);
        return skipped ? { outcome: "skipped", status: "SKIPPED", reason: verdict.reason } : null;
      }
      if (verdict.kind === "defer") {
        const deferred = await replan(client, action, verdict.reason, verdict.until);
        return deferred ? { outcome: "deferred", status: "PLANNED", reason: verdict.reason } : null;
      }
      if (throttled.has(provider.name) || !(await this.limiter.tryTake(provider.name, rate))) {
        throttled.add(provider.name);
        const reason = `send rate of ${provider.name} (${rate.perSecond}/s) reached: waiting for the next tick`;
        const released = await replan(client, action, reason);
        return released ? { outcome: "throttled", status: "PLANNED", reason } : null;
      }
      const now = this.now();
      const leaseUntil = new Date(now.getTime() + this.settings.DELIVERY_LEASE_MS);
      const dispatched = await markDispatched(client, action, now, leaseUntil);
      if (!dispatched) return null;
      return {
        outcome: "dispatched",
        creatorName: verdict.creatorName,
        whatsAppSender: verdict.whatsAppSender,
        dispatchedAt: now,
      };
    });
  }

  private async callProvider(
    action: ClaimedAction,
    message: ChannelPayload,
    gate: Extract<GateResult, { outcome: "dispatched" }>,
  ): Promise<SendResult> {
    const request = { actionId: action.id, creatorName: gate.creatorName };
    try {
      switch (message.channel) {
        case "EMAIL":
          return await this.providers.EMAIL.send({ ...request, payload: message.payload });
        case "WHATSAPP":
          return await this.providers.WHATSAPP.send({
            ...request,
            payload: message.payload,
            whatsAppSender: gate.whatsAppSender,
          });
        case "WEBHOOK":
          return await this.providers.WEBHOOK.send({ ...request, payload: message.payload });
      }
    } catch (error) {
      // Providers classify their own failures; an exception is a bug whose effect is unknown.
      return { ok: false, kind: "unknown", reason: (error as Error).message, answer: { error: String(error) } };
    }
  }

  private async recordSent(
    action: ClaimedAction,
    message: ChannelPayload,
    result: SendSuccess,
    dispatchedAt: Date,
  ): Promise<void> {
    const sentAt = this.now();
    const marked = await markSent(action, sentAt, result, dispatchedAt);
    if (!marked) {
      logger.warn({ actionId: action.id }, "sent after its claim expired: the action's row was not updated");
      return;
    }
    this.count(action, "sent");
    deliveryLateness.observe(Math.max(0, sentAt.getTime() - action.sendAt.getTime()) / 1000);
    await publishActionChanges([{ id: action.id, creatorId: action.creatorId, status: "SENT" }]);
    // The message is now one of its conversation's: a console showing it reads it again.
    if (marked.conversation) await publishConversationChanges([marked.conversation]);
    if (message.channel === "WHATSAPP" && result.recipientId) await rememberWaId(action.consumerId, result.recipientId);
    if (message.channel === "EMAIL") {
      await this.recordOutcomeEvent(action, "email_delivered", sentAt, { providerMessageId: result.providerMessageId });
    }
  }

  private async recordFailure(
    action: ClaimedAction,
    message: ChannelPayload,
    result: Extract<SendResult, { ok: false }>,
  ): Promise<void> {
    const { DELIVERY_MAX_ATTEMPTS: maxAttempts, DELIVERY_RETRY_DELAY_MS: retryDelayMs } = this.settings;
    const attempt = action.attempts + 1;
    if (result.kind === "transient" && attempt < maxAttempts) {
      const retryAt = new Date(this.now().getTime() + retryDelayMs * 2 ** (attempt - 1));
      const reason = `attempt ${attempt} of ${maxAttempts} failed (${result.reason}): retrying at ${retryAt.toISOString()}`;
      if (await scheduleRetry(action, retryAt, reason, result.answer)) {
        this.count(action, "retried");
        await publishActionChanges([{ id: action.id, creatorId: action.creatorId, status: "PLANNED" }]);
      }
      return;
    }
    // A message that may have gone out gets no fallback: the consumer would hear it twice.
    const fallback =
      result.kind === "unknown" || message.channel === "WEBHOOK" ? null : fallbackFor(action, message.payload);
    const reason = failureReason(result, attempt, maxAttempts);
    const changes = await markFailed(
      action,
      { reason, answer: result.answer, providerCalled: true },
      fallback,
      this.now(),
    );
    if (changes.length === 0) return;
    this.count(action, "failed");
    await publishActionChanges(changes);
    if (message.channel === "EMAIL" && result.kind === "rejected") {
      await this.recordOutcomeEvent(action, "email_bounced", this.now(), { reason: result.reason });
    }
  }

  /** Best effort: the action row already records the outcome, the event only informs the agent. */
  private async recordOutcomeEvent(
    action: ClaimedAction,
    type: "email_delivered" | "email_bounced",
    occurredAt: Date,
    details: Record<string, unknown>,
  ): Promise<void> {
    try {
      await recordDeliveryEvent({
        creatorId: action.creatorId,
        consumerId: action.consumerId,
        type,
        payload: { actionId: action.id, ...details },
        occurredAt,
        idempotencyKey: `${type}:${action.id}`,
      });
    } catch (error) {
      logger.warn({ err: error, actionId: action.id, type }, "delivery outcome event not recorded");
    }
  }

  private count(action: { channel: Channel }, outcome: Outcome): void {
    deliveryOutcomes.inc({ channel: action.channel, outcome });
  }
}

/**
 * Runs the scheduler until stopped: a tick, then another at once while the last one filled its
 * batch, else after `intervalMs`. `stop` lets the sends in flight finish.
 */
export function startScheduler(options: SchedulerOptions = {}): { stop(): Promise<void> } {
  const scheduler = new DeliveryScheduler(options);
  const intervalMs = options.intervalMs ?? config().SCHEDULER_INTERVAL_MS;
  const stopping = new AbortController();

  const loop = (async () => {
    let inOutage = false;
    while (!stopping.signal.aborted) {
      let claimed = 0;
      try {
        claimed = await scheduler.tick(stopping.signal);
        if (inOutage) logger.info("scheduler ticks succeed again");
        inOutage = false;
      } catch (error) {
        // An outage fails every tick until it ends: said once. Anything else, every time.
        if (!isOutage(error)) logger.error({ err: error }, "scheduler tick failed");
        else if (!inOutage) logger.warn({ err: error }, "scheduler waiting for PostgreSQL or Redis");
        inOutage = isOutage(error);
      }
      if (claimed < scheduler.batchSize) {
        await sleep(intervalMs, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  })();

  return {
    async stop() {
      stopping.abort();
      await loop;
      await scheduler.close();
    },
  };
}
