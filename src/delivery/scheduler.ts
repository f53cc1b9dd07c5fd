import { setTimeout as sleep } from "node:timers/promises";
import { config } from "../config.js";
import { rememberWaIds } from "../consumers/consumer-store.js";
import { publishConversationChanges } from "../conversations/conversation-feed.js";
import type { ConversationChange } from "../conversations/conversation-store.js";
import { inTransaction } from "../db/transaction.js";
import type { Channel } from "../generated/prisma/enums.js";
import { logger } from "../logger.js";
import { deliveryLateness, deliveryOutcomes } from "../observability/metrics.js";
import { isOutage } from "../outages.js";
import { closeRedis, createCommandRedis } from "../redis.js";
import { publishActionChanges, type StatusChange } from "./action-feed.js";
import { type ChannelPayload, fallbackFor, parsePayload } from "./action-payload.js";
import { type DeliveryEvent, recordDeliveryEvent, recordDeliveryEvents } from "./delivery-events.js";
import {
  type ClaimedAction,
  claimDueActions,
  dueAt,
  type GateMark,
  markFailed,
  markGateVerdicts,
  markSent,
  nextDueAt,
  recoverExpiredClaims,
  releaseClaims,
  renewLeases,
  type SentMark,
  scheduleRetry,
  sendOrder,
} from "./delivery-store.js";
import { type ChannelProviders, providersFromConfig, type SendResult } from "./providers/index.js";
import type { SendSuccess, WhatsAppSenderCredentials } from "./providers/provider.js";
import { type SendRate, SendRateLimiter, type SendRates, sendRatesFromConfig } from "./send-rate-limit.js";
import { checkSendRules } from "./send-rules.js";

// Delivery: claim due actions, check the send rules, call the provider, record the outcome, each
// stage set-based and running while the others do (a pipeline, not a barrier per batch):
// - claiming tops up a queue of claimed actions (one statement per claim) while sends are in flight;
// - the send rules run for as many queued actions as there are free send slots, in one transaction
//   of a fixed number of statements, which also marks them dispatched, skipped or planned again;
// - sends that ended while the last batch of outcomes was being written are marked sent together
//   (group commit: no waiting when the load is light, large batches when it is heavy).
//
// At most once: an action is claimed by one scheduler (PLANNED -> SENDING in one statement), and
// marked dispatched in the transaction that checked its rules, just before the provider call: only
// actions that have a send slot now are checked, so none waits dispatched. The claim is a lease the
// scheduler renews while the action is in its hands (queued, in the provider call, or waiting for
// its outcome to be written). A worker that dies leaves the action in SENDING; once its lease
// expires the action is planned again if it was never dispatched, else failed as "interrupted" (it
// may have gone out). A provider failure is retried only when the provider says the message was not
// sent.

export type SchedulerOptions = {
  /** The clock; tests move it to check quiet hours and retry backoff. */
  now?: () => Date;
  /** Longest pause between claims when nothing is due (ms); the scheduler wakes earlier for what falls due. */
  intervalMs?: number;
  /** Actions claimed at once, and the most kept claimed ahead of the sends. */
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

/** Shortest pause between claims while something is due but none could be taken (another scheduler holds it). */
const MIN_POLL_MS = 20;

/** An action whose provider call is about to start: what the rules found for it. */
type Dispatch = {
  action: ClaimedAction;
  message: ChannelPayload;
  creatorName: string;
  whatsAppSender: WhatsAppSenderCredentials | null;
  dispatchedAt: Date;
};

/** A send the provider accepted, waiting for its SENT mark. */
type Accepted = Dispatch & { result: SendSuccess };

/** Why a send failed, in the words stored on the action. */
function failureReason(result: Extract<SendResult, { ok: false }>, attempt: number, maxAttempts: number): string {
  const kind = {
    transient: `failed after ${attempt} of ${maxAttempts} attempts`,
    rejected: "refused by the provider",
    unknown: "outcome unknown, not retried (the message may have gone out)",
  }[result.kind];
  return `${kind}: ${result.reason}`;
}

/** Resolves the promises of those waiting for the scheduler's state to change. */
class Changes {
  private waiters: (() => void)[] = [];

  /** Resolves at the next change. */
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
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
  /** Claimed, not yet through the send rules, in the order they were chosen. */
  private readonly queued: ClaimedAction[] = [];
  /** Every claimed action whose outcome is not recorded yet: its lease is renewed. */
  private readonly inHand = new Map<string, ClaimedAction>();
  /** Provider calls under way. */
  private sending = 0;
  /** The send rules' transaction under way, if any: one at a time, for as many actions as there are free slots. */
  private gating: Promise<void> | null = null;
  /** Claims being given back after an outage: no send rules run until they are. */
  private givingBack: Promise<void> | null = null;
  /** Accepted sends waiting for their SENT mark, and the write under way. */
  private accepted: Accepted[] = [];
  private recording: Promise<void> | null = null;
  /** Outcomes being written one by one (failures, retries): tracked so draining waits for them. */
  private readonly writes = new Set<Promise<void>>();
  private readonly changes = new Changes();
  private renewal: NodeJS.Timeout | undefined;
  /** The stop signal, and when it fired (see untilRecorded). */
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
   * One pass, to its end: recover expired claims, claim a batch of due actions, deliver it and
   * record every outcome. Returns how many were claimed. Once `stopping` aborts, no further send
   * starts: the sends in flight finish and the rest of the batch is given back (PLANNED) for
   * another scheduler.
   */
  async tick(stopping?: AbortSignal): Promise<number> {
    this.stopping = stopping;
    await this.recover();
    const claimed = await this.claim(this.batchSize);
    await this.drain();
    return claimed;
  }

  /** Plans again, or fails as interrupted, the actions of schedulers that stopped renewing their leases. */
  async recover(): Promise<void> {
    const recovered = await recoverExpiredClaims(this.now());
    if (recovered.length === 0) return;
    logger.warn({ actions: recovered.length }, "recovered actions left in SENDING by a stopped worker");
    for (const action of recovered) this.count(action, action.status === "FAILED" ? "interrupted" : "replanned");
    await publishActionChanges(recovered);
  }

  /** Actions claimed and not yet through the send rules. */
  get queuedCount(): number {
    return this.queued.length;
  }

  /**
   * Claims up to `limit` due actions into the queue and starts the send rules on as many as there
   * are free send slots. Returns how many it claimed.
   */
  async claim(limit: number): Promise<number> {
    if (limit <= 0 || this.stopping?.aborted) return 0;
    const claimed = await claimDueActions(this.now(), limit, this.settings.DELIVERY_LEASE_MS);
    for (const action of claimed) {
      this.queued.push(action);
      this.inHand.set(action.id, action);
    }
    // Claims made while others wait: a newly due urgent action goes ahead of them, as it would in one claim.
    this.queued.sort(sendOrder);
    if (claimed.length > 0) this.renewLeases();
    this.pump();
    return claimed.length;
  }

  /**
   * Resolves at the next change of state (a send ended, a batch went through the rules, outcomes
   * were written, the scheduler is stopping), or after `timeoutMs`, whichever comes first.
   */
  async changed(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.changes.next(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves once everything claimed has an outcome recorded (or, stopping, was given back), and
   * nothing is under way.
   */
  async drain(): Promise<void> {
    for (;;) {
      this.pump();
      const busy =
        this.queued.length > 0 ||
        this.sending > 0 ||
        this.gating ||
        this.givingBack ||
        this.recording ||
        this.accepted.length > 0 ||
        this.writes.size > 0;
      if (!busy) return;
      await this.changes.next();
    }
  }

  /**
   * Moves the pipeline on: the send rules for queued actions while send slots are free (one
   * transaction at a time), the SENT marks of accepted sends (one write at a time). Once stopping,
   * queued actions are given back instead.
   */
  private pump(): void {
    if (this.stopping?.aborted && this.queued.length > 0 && !this.gating && !this.givingBack) {
      this.giveBack(this.queued.splice(0));
    }
    const free = this.concurrency - this.sending;
    if (!this.gating && !this.givingBack && free > 0 && this.queued.length > 0 && !this.stopping?.aborted) {
      const batch = this.queued.splice(0, free);
      this.gating = this.gate(batch)
        .catch((error) => logger.error({ err: error, actions: batch.length }, "delivery failed unexpectedly"))
        .finally(() => {
          this.gating = null;
          this.changes.notify();
          this.pump();
        });
    }
    if (!this.recording && this.accepted.length > 0) {
      const batch = this.accepted;
      this.accepted = [];
      const sentAt = this.now();
      const sends = batch.map((a) => ({ action: a.action, sentAt, result: a.result, dispatchedAt: a.dispatchedAt }));
      this.recording = this.untilRecorded(() => markSentEach(sends))
        .then(
          (marked) => this.announceSent(batch, marked, sentAt),
          (error) => {
            // Only when stopping through an outage: the lease recovery decides.
            logger.error({ err: error, actions: batch.length }, "sent messages not recorded");
          },
        )
        .catch((error) => logger.error({ err: error }, "sent messages recorded, not all announced"))
        .finally(() => {
          for (const a of batch) this.inHand.delete(a.action.id);
        })
        .finally(() => {
          this.recording = null;
          this.changes.notify();
          this.pump();
        });
    }
  }

  /** Gives claims back (PLANNED) once PostgreSQL takes it; no send rules run meanwhile. */
  private giveBack(actions: ClaimedAction[]): void {
    if (actions.length === 0) return;
    const previous = this.givingBack;
    this.givingBack = (async () => {
      await previous;
      try {
        await publishActionChanges(await this.untilRecorded(() => releaseClaims(actions)));
      } catch (error) {
        logger.warn({ err: error, actions: actions.length }, "claims not given back: their leases will expire");
      } finally {
        for (const action of actions) this.inHand.delete(action.id);
      }
    })().finally(() => {
      this.givingBack = null;
      this.changes.notify();
      this.pump();
    });
  }

  /**
   * Renews the leases of the actions in hand, every third of the lease, in one statement, so a
   * long queue or a slow provider never looks like a stopped scheduler. A failed renewal is
   * retried at the next beat; the lease itself bounds how long one may fail.
   */
  private renewLeases(): void {
    if (this.renewal) return;
    const leaseMs = this.settings.DELIVERY_LEASE_MS;
    this.renewal = setInterval(() => {
      if (this.inHand.size === 0) return;
      renewLeases([...this.inHand.values()], new Date(this.now().getTime() + leaseMs)).catch((error) =>
        logger.warn({ err: error }, "lease renewal failed; retrying at the next beat"),
      );
    }, leaseMs / 3);
    this.renewal.unref();
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

  /** Stops for good: call after drain (startScheduler's stop does). */
  async close(): Promise<void> {
    clearInterval(this.renewal);
    await Promise.all(Object.values(this.providers).map((p) => p.close()));
    await closeRedis(this.redis);
  }

  /** Remembers a stop signal for the passes to come (startScheduler's loop); stopping is a change. */
  stopOn(stopping: AbortSignal): void {
    this.stopping = stopping;
    stopping.addEventListener("abort", () => this.changes.notify(), { once: true });
  }

  /**
   * The send rules for a batch of queued actions, the provider's send rate, and the verdicts'
   * marks, in one transaction (see checkSendRules for the locks it holds); then the dispatched
   * ones go to their providers. PostgreSQL going away gives the batch back, and the queue with it.
   */
  private async gate(batch: ClaimedAction[]): Promise<void> {
    let valid: { action: ClaimedAction; message: ChannelPayload }[] = [];
    let decided: { marks: GateMark[]; dispatches: Dispatch[]; throttled: Set<string>; marked: Set<string> };
    try {
      // A malformed payload never reaches the rules: failed on its own, it is rare.
      const parsed = batch.map((action) => ({ action, checked: readPayload(action) }));
      for (const { action, checked } of parsed) {
        if (!checked.ok) this.track(this.failMalformed(action, checked.reason));
      }
      valid = parsed.flatMap(({ action, checked }) => (checked.ok ? [{ action, message: checked.value }] : []));
      if (valid.length === 0) return;
      // Sends taken from the providers' rates, kept across the transaction's retries (a deadlock)
      // so a retry does not spend them twice; and when each provider gives its next one.
      const taken = new Map<Channel, number>();
      const nextSendInMs = new Map<Channel, number>();
      const takeSends = async (channel: Channel, wanted: number) => {
        const held = taken.get(channel) ?? 0;
        if (held < wanted) {
          const more = await this.limiter.take(this.providers[channel].name, this.sendRates[channel], wanted - held);
          taken.set(channel, held + more.taken);
          nextSendInMs.set(channel, more.retryAfterMs);
        }
        return Math.min(wanted, taken.get(channel) ?? 0);
      };
      decided = await inTransaction(
        async (tx) => {
          const now = this.now();
          const verdicts = await checkSendRules(
            tx,
            valid.map((v) => v.action),
            now,
            takeSends,
          );
          const leaseUntil = new Date(now.getTime() + this.settings.DELIVERY_LEASE_MS);
          const marks: GateMark[] = [];
          const dispatches: Dispatch[] = [];
          const throttled = new Set<string>();
          const heldPerChannel = new Map<Channel, number>();
          verdicts.forEach((verdict, i) => {
            const { action, message } = valid[i];
            if (verdict.kind === "skip") marks.push({ action, kind: "skip", reason: verdict.reason });
            else if (verdict.kind === "defer") {
              marks.push({ action, kind: "replan", reason: verdict.reason, sendAt: verdict.until });
            } else if (verdict.kind === "send") {
              marks.push({ action, kind: "dispatch", at: now, leaseUntil });
              dispatches.push({ action, message, ...verdict, dispatchedAt: now });
            } else {
              // Held, in order, one send interval apart from the provider's next send: each is due
              // when the bucket should have a send for it, so the backlog is not claimed again for
              // every send that frees up, and goes out in its order.
              const rate = this.sendRates[action.channel];
              const position = heldPerChannel.get(action.channel) ?? 0;
              heldPerChannel.set(action.channel, position + 1);
              const dueInMs = (nextSendInMs.get(action.channel) ?? 0) + (position * 1000) / rate.perSecond;
              const sendAt = new Date(Math.max(action.sendAt.getTime(), now.getTime() + dueInMs));
              const reason = throttledReason(this.providers[action.channel].name, rate);
              marks.push({ action, kind: "hold", reason, sendAt });
              throttled.add(action.id);
            }
          });
          return { marks, dispatches, throttled, marked: await markGateVerdicts(tx, marks) };
        },
        { attempts: 3 },
      );
    } catch (error) {
      if (isOutage(error)) {
        logger.warn({ err: error }, "delivery paused: PostgreSQL unavailable");
        // The batch was not marked: given back with the queue once PostgreSQL answers.
        this.giveBack([...valid.map((v) => v.action), ...this.queued.splice(0)]);
      } else {
        // The actions stay in SENDING: the lease recovery decides their fate.
        logger.error({ err: error, actions: batch.length }, "delivery failed unexpectedly");
        for (const action of batch) this.inHand.delete(action.id);
      }
      return;
    }

    const { marks, dispatches, throttled, marked } = decided;
    // A mark that found its row changed: the lease recovery took the action meanwhile; nothing is reported.
    for (const { action } of valid) if (!marked.has(action.id)) this.inHand.delete(action.id);
    const changes: StatusChange[] = [];
    for (const mark of marks) {
      if (!marked.has(mark.action.id) || mark.kind === "dispatch") continue;
      this.inHand.delete(mark.action.id);
      const held = throttled.has(mark.action.id);
      this.count(mark.action, mark.kind === "skip" ? "skipped" : held ? "throttled" : "deferred");
      // A throttled action is held again and again until a token frees up: published the first time only.
      if (!held || mark.action.statusReason !== mark.reason) {
        changes.push({
          id: mark.action.id,
          creatorId: mark.action.creatorId,
          status: mark.kind === "skip" ? "SKIPPED" : "PLANNED",
        });
      }
    }
    const started = dispatches.filter((d) => marked.has(d.action.id));
    // SENDING is announced before the provider is called, so a feed never sees SENT first.
    await publishActionChanges([
      ...changes,
      ...started.map((d) => ({ id: d.action.id, creatorId: d.action.creatorId, status: "SENDING" as const })),
    ]);
    for (const dispatch of started) {
      this.sending++;
      void this.send(dispatch);
    }
  }

  /** The provider call of a dispatched action, then its outcome: a success joins the next SENT marks. */
  private async send(dispatch: Dispatch): Promise<void> {
    let result: SendResult;
    try {
      result = await this.callProvider(dispatch);
    } finally {
      this.sending--;
    }
    if (result.ok) this.accepted.push({ ...dispatch, result });
    else {
      // From here the outcome is known and must be recorded: through an outage, it is retried.
      this.track(
        this.untilRecorded(() => this.recordFailure(dispatch.action, dispatch.message, result)).finally(() =>
          this.inHand.delete(dispatch.action.id),
        ),
      );
    }
    this.changes.notify();
    this.pump();
  }

  /** Keeps a one-off write in view until it ends, so draining waits for it; its failure is logged. */
  private track(write: Promise<void>): void {
    const tracked = write
      .catch((error) => logger.error({ err: error }, "delivery outcome not recorded: the lease recovery decides"))
      .finally(() => {
        this.writes.delete(tracked);
        this.changes.notify();
        this.pump();
      });
    this.writes.add(tracked);
  }

  private async failMalformed(action: ClaimedAction, reason: string): Promise<void> {
    try {
      const failure = { reason, answer: null, providerCalled: false, outcomeUnknown: false };
      await publishActionChanges(await this.untilRecorded(() => markFailed(action, failure, null, this.now())));
      this.count(action, "failed");
    } finally {
      this.inHand.delete(action.id);
    }
  }

  private async callProvider({ action, message, creatorName, whatsAppSender }: Dispatch): Promise<SendResult> {
    const request = { actionId: action.id, creatorName };
    try {
      switch (message.channel) {
        case "EMAIL":
          return await this.providers.EMAIL.send({ ...request, payload: message.payload });
        case "WHATSAPP":
          return await this.providers.WHATSAPP.send({ ...request, payload: message.payload, whatsAppSender });
        case "WEBHOOK":
          return await this.providers.WEBHOOK.send({ ...request, payload: message.payload });
      }
    } catch (error) {
      // Providers classify their own failures; an exception is a bug whose effect is unknown.
      return { ok: false, kind: "unknown", reason: (error as Error).message, answer: { error: String(error) } };
    }
  }

  /**
   * Announces a batch of sends marked SENT (markSent's answer): SENT on the action feed, the
   * conversations they joined, the WhatsApp ids learnt, and the email_delivered events.
   */
  private async announceSent(
    batch: Accepted[],
    marked: Map<string, { conversation: ConversationChange | null }>,
    sentAt: Date,
  ): Promise<void> {
    const done = batch.filter((a) => marked.has(a.action.id));
    for (const a of batch) {
      if (!marked.has(a.action.id)) {
        logger.warn({ actionId: a.action.id }, "sent after its claim expired: the action's row was not updated");
      }
    }
    for (const { action } of done) {
      this.count(action, "sent");
      deliveryLateness.observe(Math.max(0, sentAt.getTime() - dueAt(action).getTime()) / 1000);
    }
    await publishActionChanges(
      done.map(({ action }) => ({ id: action.id, creatorId: action.creatorId, status: "SENT" as const })),
    );
    // The messages are now their conversations': a console showing one reads it again.
    const joined = new Map<string, ConversationChange>();
    for (const { action } of done) {
      const conversation = marked.get(action.id)?.conversation;
      if (conversation) joined.set(conversation.id, conversation);
    }
    await publishConversationChanges([...joined.values()]);
    await rememberWaIds(
      done.flatMap(({ action, message, result }) =>
        message.channel === "WHATSAPP" && result.recipientId
          ? [{ consumerId: action.consumerId, waId: result.recipientId }]
          : [],
      ),
    );
    // The agent hears of each email delivered; best effort: the action rows already record it.
    const delivered = done.filter((a) => a.message.channel === "EMAIL");
    await recordDeliveryEvents(
      delivered.map(({ action, result }) =>
        outcomeEvent(action, "email_delivered", sentAt, { providerMessageId: result.providerMessageId }),
      ),
    ).catch((error) => logger.warn({ err: error, actions: delivered.length }, "delivery outcome events not recorded"));
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
      { reason, answer: result.answer, providerCalled: true, outcomeUnknown: result.kind === "unknown" },
      fallback,
      this.now(),
    );
    if (changes.length === 0) return;
    this.count(action, "failed");
    await publishActionChanges(changes);
    if (message.channel === "EMAIL" && result.kind === "rejected") {
      // Best effort: the action row already records the outcome, the event only informs the agent.
      await recordDeliveryEvent(outcomeEvent(action, "email_bounced", this.now(), { reason: result.reason })).catch(
        (error) => logger.warn({ err: error, actionId: action.id }, "delivery outcome event not recorded"),
      );
    }
  }

  private count(action: { channel: Channel }, outcome: Outcome): void {
    deliveryOutcomes.inc({ channel: action.channel, outcome });
  }
}

/** The event on the consumer telling the agent how a send went, once per action (its idempotency key). */
function outcomeEvent(
  action: ClaimedAction,
  type: "email_delivered" | "email_bounced",
  occurredAt: Date,
  details: Record<string, unknown>,
): DeliveryEvent {
  return {
    creatorId: action.creatorId,
    consumerId: action.consumerId,
    type,
    payload: { actionId: action.id, ...details },
    occurredAt,
    idempotencyKey: `${type}:${action.id}`,
  };
}

/**
 * markSent for a batch of sends; when the batch's transaction fails for a reason other than an
 * outage (a row it cannot write), each send is marked alone, so one bad row fails no other: one
 * that still fails is left to the lease recovery, and logged.
 */
async function markSentEach(sends: SentMark[]): Promise<Awaited<ReturnType<typeof markSent>>> {
  try {
    return await markSent(sends);
  } catch (error) {
    if (isOutage(error) || sends.length === 1) throw error;
    const marked: Awaited<ReturnType<typeof markSent>> = new Map();
    for (const send of sends) {
      try {
        for (const [id, joined] of await markSent([send])) marked.set(id, joined);
      } catch (alone) {
        if (isOutage(alone)) throw alone;
        logger.error({ err: alone, actionId: send.action.id }, "sent, but its SENT mark could not be written");
      }
    }
    return marked;
  }
}

/**
 * The action's payload checked against its channel's contract; a check that throws (a bug, a row
 * written around planMessages) fails that action alone, with the error, never the batch.
 */
function readPayload(action: ClaimedAction): ReturnType<typeof parsePayload> {
  try {
    return parsePayload(action.channel, action.payload);
  } catch (error) {
    return { ok: false, reason: `payload could not be checked: ${(error as Error).message}` };
  }
}

/** Why an action waits for the provider's send rate. */
function throttledReason(provider: string, rate: SendRate): string {
  return `send rate of ${provider} (${rate.perSecond}/s) reached: waiting for a send to be allowed`;
}

/**
 * Runs the scheduler until stopped. It keeps up to a batch of actions claimed ahead of the sends,
 * claiming again as soon as the queue is half empty; when nothing more is due it sleeps until the
 * next action falls due, `intervalMs` at most (expired claims are recovered at that pace too).
 * `stop` lets the sends in flight finish and gives the queued actions back.
 */
export function startScheduler(options: SchedulerOptions = {}): { stop(): Promise<void> } {
  const scheduler = new DeliveryScheduler(options);
  const intervalMs = options.intervalMs ?? config().SCHEDULER_INTERVAL_MS;
  const stopping = new AbortController();
  scheduler.stopOn(stopping.signal);
  const pause = (ms: number) => sleep(ms, undefined, { signal: stopping.signal }).catch(() => {});

  const loop = (async () => {
    let inOutage = false;
    let recoveredAt = 0;
    while (!stopping.signal.aborted) {
      try {
        if (Date.now() - recoveredAt >= intervalMs) {
          await scheduler.recover();
          recoveredAt = Date.now();
        }
        const room = scheduler.batchSize - scheduler.queuedCount;
        const claimed = await scheduler.claim(room);
        if (inOutage) logger.info("scheduler ticks succeed again");
        inOutage = false;
        if (claimed > 0 && claimed === room) {
          // More is due: claim again once the queue is half empty.
          while (scheduler.queuedCount > scheduler.batchSize / 2 && !stopping.signal.aborted) {
            await scheduler.changed(intervalMs);
          }
          continue;
        }
        const due = await nextDueAt();
        const untilDue = due ? due.getTime() - Date.now() : intervalMs;
        await pause(Math.min(intervalMs, Math.max(MIN_POLL_MS, untilDue)));
      } catch (error) {
        // An outage fails every pass until it ends: said once. Anything else, every time.
        if (!isOutage(error)) logger.error({ err: error }, "scheduler tick failed");
        else if (!inOutage) logger.warn({ err: error }, "scheduler waiting for PostgreSQL or Redis");
        inOutage = isOutage(error);
        await pause(intervalMs);
      }
    }
  })();

  return {
    async stop() {
      stopping.abort();
      await loop;
      await scheduler.drain();
      await scheduler.close();
    },
  };
}
