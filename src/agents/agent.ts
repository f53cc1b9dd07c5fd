import { z } from "zod";
import { serviceCounterKey } from "../consumers/event-effects.js";
import type { ConsumerContext } from "../generated/prisma/client.js";
import type { Channel, Stage } from "../generated/prisma/enums.js";
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
  /** The consumer's earlier actions (not cancelled), newest first, for spacing and "already sent" checks. */
  previousActions: { channel: Channel; status: string; sendAt: Date; template: string | null }[];
};

export type AgentEvent = { id: string; type: string; payload: Record<string, unknown>; occurredAt: Date };

export type Decision = { act: boolean; reason: string; rule: string };

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

  /** Views and clicks of one service (counted under its lowercased name by ingestion). */
  protected serviceViews(ctx: AgentContext, service: string): number {
    return this.metric(ctx, serviceCounterKey(service));
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

  protected firstName(ctx: AgentContext): string {
    return ctx.consumer.name?.trim().split(/\s+/)[0] ?? "there";
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

  protected alreadySent(ctx: AgentContext, template: string): boolean {
    return ctx.previousActions.some((a) => a.template === template && a.status !== "FAILED");
  }

  // Message builders: one action per channel shape.
  protected message(
    ctx: AgentContext,
    channel: Channel,
    content: { template: string; subject: string; text: string },
    when: { sendAt: Date; priority: number },
  ): PlannedAction {
    const to = this.contactFor(ctx, channel) as string;
    const fallbackChannel = this.tunables.allowChannelFallback
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
