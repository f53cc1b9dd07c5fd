import { z } from "zod";
import { serviceCounterKey } from "../consumers/event-effects.js";
import type { ConsumerContext } from "../generated/prisma/client.js";
import type { Channel, ConversationHolder, Stage } from "../generated/prisma/enums.js";
import { properName } from "../profiles/facts.js";
import type { AgentConfig, AgentTunables, ProfileSnapshot } from "./agent-config.js";

/** Everything an agent may look at when it decides: loaded once per run by the worker. */
export type AgentContext = {
  now: Date;
  creator: { id: string; name: string; timezone: string };
  consumer: {
    id: string;
    name: string | null;
    email: string | null;
    phone: string | null;
    timezone: string | null;
    /** Channels with consent GRANTED. */
    consentedChannels: Channel[];
  };
  context: ConsumerContext;
  /**
   * The consumer's earlier actions (not cancelled), newest first, at most 50, for spacing and
   * "already said" checks. `byAgent` is false for a person's message (sendMessage); `inReplyTo`
   * is the event an agent's conversation reply answers.
   */
  previousActions: {
    id: string;
    channel: Channel;
    status: string;
    sendAt: Date;
    template: string | null;
    byAgent: boolean;
    inReplyTo: string | null;
  }[];
  /** The consumer's conversations, one per channel, with their last 30 messages oldest first. */
  conversations: AgentConversation[];
  /**
   * Pauses of a day or more between the consumer's own events up to this one, newest first (at
   * most 20): where a consumer went quiet and came back, for follow-up cycles.
   */
  activityGaps: { from: Date; to: Date }[];
  /** The consumer's latest views and clicks of a named service (lower case), newest first, at most 200. */
  serviceVisits: { service: string; at: Date }[];
};

/** A conversation as the agent sees it. */
export type AgentConversation = {
  channel: Channel;
  holder: ConversationHolder;
  messages: { direction: "INBOUND" | "OUTBOUND"; text: string | null; at: Date; eventId: string | null }[];
};

export type AgentEvent = { id: string; type: string; payload: Record<string, unknown>; occurredAt: Date };

/**
 * What the agent decided, stored on the invocation. Beyond planning messages, a decision may:
 * hand the conversation on `handOff.channel` to the creator; withdraw consent on every channel
 * (`optOut`: the consumer asked, in their words, for no more messages); cancel the agent's
 * still-planned replies it replaces (`supersedes`, action ids: one reply per burst). `understood`
 * records how a consumer's message was read, and `read` notes it on the conversation's messages.
 */
export type Decision = {
  act: boolean;
  reason: string;
  rule: string;
  handOff?: { channel: Channel; reason: string };
  /** true: every channel; a channel: that one ("ya no me mandes correos"). */
  optOut?: true | Channel;
  supersedes?: string[];
  understood?: Record<string, unknown>;
  /** The consumer's messages (their events) this decision read, and the intent they were read as. */
  read?: { eventIds: string[]; intent: string };
};

export const plannedActionSchema = z.object({
  channel: z.enum(["EMAIL", "WHATSAPP", "WEBHOOK"]),
  payload: z.record(z.string(), z.unknown()),
  sendAt: z.coerce.date(),
  priority: z.number().finite().default(1),
});
export type PlannedAction = z.input<typeof plannedActionSchema>;

type MaybePromise<T> = T | Promise<T>;

/**
 * The two-method agent interface of the seed, with helpers so a playbook reads like one.
 * One instance serves one run: its config holds the creator's profile snapshot and tunables.
 */
export abstract class BaseAgent {
  constructor(readonly config: AgentConfig) {}

  abstract shouldAct(ctx: AgentContext, event: AgentEvent): MaybePromise<Decision>;
  abstract planActions(ctx: AgentContext, event: AgentEvent, decision: Decision): MaybePromise<PlannedAction[]>;

  get profile(): ProfileSnapshot | null {
    return this.config.profile;
  }

  get tunables(): AgentTunables {
    return this.config.tunables;
  }

  protected act(rule: string, reason: string): Decision {
    return { act: true, rule, reason };
  }

  protected skip(rule: string, reason: string): Decision {
    return { act: false, rule, reason };
  }

  // Metrics and stage.
  protected stage(ctx: AgentContext): Stage {
    return ctx.context.stage;
  }

  protected metric(ctx: AgentContext, key: string): number {
    const typed = Object.hasOwn(ctx.context, key) ? ctx.context[key as keyof ConsumerContext] : undefined;
    if (typeof typed === "number") return typed;
    return Number((ctx.context.counters as Record<string, unknown>)[key] ?? 0);
  }

  /**
   * Views and clicks of one service: in the current cycle when the consumer came back after going
   * quiet (from serviceVisits), over their lifetime otherwise (the counter ingestion keeps under
   * the service's lower-case name).
   */
  protected serviceViews(ctx: AgentContext, service: string): number {
    const since = this.cycleStart(ctx);
    if (!since) return this.metric(ctx, serviceCounterKey(service));
    const name = service.trim().toLowerCase();
    return ctx.serviceVisits.filter((v) => v.service === name && v.at.getTime() >= since.getTime()).length;
  }

  // Contact details and consent.
  protected contactFor(ctx: AgentContext, channel: Channel): string | null {
    if (channel === "EMAIL") return ctx.consumer.email;
    if (channel === "WHATSAPP") return ctx.consumer.phone;
    return null;
  }

  /** Channels this consumer can be reached on (consent and contact details), in the agent's order of preference. */
  protected reachableChannels(ctx: AgentContext): Channel[] {
    return this.tunables.channelPreference.filter(
      (channel) => ctx.consumer.consentedChannels.includes(channel) && this.contactFor(ctx, channel) !== null,
    );
  }

  /** The consumer's first name as people write it ("ana maria" -> "Ana"), or null. */
  protected firstName(ctx: AgentContext): string | null {
    const first = ctx.consumer.name?.trim().split(/\s+/)[0];
    return first ? properName(first) : null;
  }

  // Spacing.
  /** The latest message sent or planned to this consumer. */
  protected lastMessageAt(ctx: AgentContext): Date | null {
    const times = [
      ctx.context.lastMessageAt,
      ...ctx.previousActions.filter((a) => a.status !== "SKIPPED" && a.status !== "FAILED").map((a) => a.sendAt),
    ]
      .filter((t): t is Date => t !== null)
      .map((t) => t.getTime());
    return times.length ? new Date(Math.max(...times)) : null;
  }

  protected hoursSinceLastMessage(ctx: AgentContext): number {
    const last = this.lastMessageAt(ctx);
    return last ? (ctx.now.getTime() - last.getTime()) / 3_600_000 : Number.POSITIVE_INFINITY;
  }

  /**
   * When the consumer's current cycle began: their first event after going quiet for
   * `quietDaysForNewCycle` days or more; null in their first cycle. What was said in an earlier
   * cycle may be said again.
   */
  protected cycleStart(ctx: AgentContext): Date | null {
    const quietMs = this.tunables.quietDaysForNewCycle * 24 * 3_600_000;
    return ctx.activityGaps.find((gap) => gap.to.getTime() - gap.from.getTime() >= quietMs)?.to ?? null;
  }

  /** The consumer's actions of this cycle that were or will be sent (not failed, skipped or cancelled). */
  protected actionsThisCycle(ctx: AgentContext): AgentContext["previousActions"] {
    const since = this.cycleStart(ctx)?.getTime() ?? Number.NEGATIVE_INFINITY;
    return ctx.previousActions.filter(
      (a) => a.sendAt.getTime() >= since && a.status !== "FAILED" && a.status !== "SKIPPED",
    );
  }

  /** Whether a message of this template went, or is planned, to the consumer in this cycle. */
  protected alreadySent(ctx: AgentContext, template: string): boolean {
    return this.actionsThisCycle(ctx).some((a) => a.template === template);
  }

  // Message builders: one action per channel shape.
  protected message(
    ctx: AgentContext,
    channel: Channel,
    content: { template: string; subject: string; text: string },
    when: { sendAt: Date; priority: number },
    /** false for an answer to the consumer: it goes on their channel or not at all. */
    options: { fallback: boolean } = { fallback: true },
  ): PlannedAction {
    const to = this.contactFor(ctx, channel) as string;
    const fallbackChannel =
      options.fallback && this.tunables.allowChannelFallback
        ? this.reachableChannels(ctx).find((c) => c !== channel)
        : undefined;
    const payload: Record<string, unknown> = {
      to,
      message: content.text,
      template: content.template,
      ...(channel === "EMAIL" ? { subject: content.subject } : {}),
      ...(fallbackChannel
        ? {
            fallback: { channel: fallbackChannel, to: this.contactFor(ctx, fallbackChannel), subject: content.subject },
          }
        : {}),
    };
    return { channel, payload, sendAt: when.sendAt, priority: when.priority };
  }
}

export type AgentClass = new (config: AgentConfig) => BaseAgent;
