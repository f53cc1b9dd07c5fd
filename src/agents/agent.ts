import { z } from "zod";
import { serviceCounterKey } from "../consumers/event-effects.js";
import type { ConsumerContext } from "../generated/prisma/client.js";
import type { Channel, ConversationHolder, Stage } from "../generated/prisma/enums.js";
import { firstNameOf, priceOf } from "../profiles/facts.js";
import type { ProfileService } from "../profiles/profile-content.js";
import {
  type ApprovedTemplate,
  byLanguagePreference,
  customerServiceWindowOpen,
  fillTemplateBody,
  MAX_TEMPLATE_BODY_CHARS,
  parameterText,
  type TemplateMessage,
  templatePurposeOf,
} from "../whatsapp/template-rules.js";
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
   * is the event an agent's conversation reply answers. `outcomeUnknown` marks a FAILED action
   * whose provider call got no answer (a timeout, a worker stopped mid-call): it may have reached
   * the consumer, so it counts as said (see `saidOrPlanned`).
   */
  previousActions: {
    id: string;
    channel: Channel;
    status: string;
    sendAt: Date;
    template: string | null;
    byAgent: boolean;
    inReplyTo: string | null;
    outcomeUnknown: boolean;
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
  /**
   * The creator's APPROVED WhatsApp message templates, oldest first: what may be sent on WhatsApp
   * outside the consumer's customer-service window (see BaseAgent.message).
   */
  whatsAppTemplates: ApprovedTemplate[];
};

/** A conversation as the agent sees it. */
export type AgentConversation = {
  channel: Channel;
  holder: ConversationHolder;
  /** The consumer's last message on it (null: never wrote): WhatsApp's customer-service window runs 24 h from it. */
  lastInboundAt: Date | null;
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
  /**
   * How the plan was fitted to the channels' rules, for the creator to read: a WhatsApp message sent
   * as a template, moved to email, or not sent, and why (BaseAgent.settle).
   */
  notes?: string[];
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
 * Whether an earlier action counts as said to the consumer: sent, planned or going out, or failed
 * with its outcome unknown (the provider call got no answer, so the consumer may have it; each
 * action is sent at most once, and saying it again could make them hear it twice). Skipped and
 * plainly failed ones were never said.
 */
export const saidOrPlanned = (action: AgentContext["previousActions"][number]): boolean =>
  action.status === "FAILED" ? action.outcomeUnknown : action.status !== "SKIPPED";

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
    return firstNameOf(ctx.consumer.name);
  }

  // Spacing.
  /** The latest message sent or planned to this consumer. */
  protected lastMessageAt(ctx: AgentContext): Date | null {
    const times = [ctx.context.lastMessageAt, ...ctx.previousActions.filter(saidOrPlanned).map((a) => a.sendAt)]
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

  /** The consumer's actions of this cycle that were, may have been or will be sent (see `saidOrPlanned`). */
  protected actionsThisCycle(ctx: AgentContext): AgentContext["previousActions"] {
    const since = this.cycleStart(ctx)?.getTime() ?? Number.NEGATIVE_INFINITY;
    return ctx.previousActions.filter((a) => a.sendAt.getTime() >= since && saidOrPlanned(a));
  }

  /** Whether a message of this template went, or is planned, to the consumer in this cycle. */
  protected alreadySent(ctx: AgentContext, template: string): boolean {
    return this.actionsThisCycle(ctx).some((a) => a.template === template);
  }

  // Message builders: one action per channel shape.

  /**
   * How message() fitted an action it returned to WhatsApp's rules: the note for the decision, and
   * whether the action must be left out of the plan (settle). Keyed by the action object, so nothing
   * outlives the actions of the run that made them.
   */
  private readonly fitted = new WeakMap<PlannedAction, { note: string; withheld: boolean }>();

  /**
   * One message to the consumer on `channel` at `when.sendAt`, with the consumer's next reachable
   * channel as its fallback should the send fail (when `options.fallback` and the tunables allow).
   *
   * On WhatsApp, outside the consumer's customer-service window at `sendAt` (24 h from their last
   * message there; never open if they never wrote) WhatsApp delivers template messages only
   * (https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows), so the message:
   * 1. goes as the creator's approved template for its purpose (templatePurposeOf: the welcome, a
   *    follow-up, the thank-you; English first) whose variables all have a value here: the payload's
   *    `whatsAppTemplate` is `{ name, language, parameters }` and its `message` the filled body;
   * 2. else goes as written on the consumer's next reachable channel (email), without a further
   *    fallback: an answer too, as WhatsApp cannot carry it any more;
   * 3. else is withheld: settle() leaves the returned action out of the plan and says why.
   * Whatever was chosen is noted on the decision by settle().
   */
  protected message(
    ctx: AgentContext,
    channel: Channel,
    content: { template: string; subject: string; text: string },
    when: { sendAt: Date; priority: number },
    /** false for an answer to the consumer: it goes on their channel or not at all. */
    options: { fallback: boolean } = { fallback: true },
  ): PlannedAction {
    const action = this.compose(ctx, channel, content, when, options.fallback);
    if (channel !== "WHATSAPP") return action;
    const lastInboundAt = ctx.conversations.find((c) => c.channel === "WHATSAPP")?.lastInboundAt ?? null;
    if (customerServiceWindowOpen(lastInboundAt, when.sendAt)) return action;

    const since = lastInboundAt
      ? `the consumer last wrote on ${lastInboundAt.toISOString()}`
      : "the consumer never wrote on WhatsApp";
    const closed = `outside the WhatsApp customer-service window at ${when.sendAt.toISOString()} (${since}): only template messages may be sent`;
    const template = this.templateFor(ctx, content);
    if ("message" in template) {
      const { message, whatsAppTemplate } = template;
      const templated = { ...action, payload: { ...action.payload, message, whatsAppTemplate } };
      this.fitted.set(templated, {
        note: `${content.template}: ${closed}; sent as the approved template "${whatsAppTemplate.name}" (${whatsAppTemplate.language})`,
        withheld: false,
      });
      return templated;
    }
    // Outside the window even an answer cannot go on WhatsApp (a late run, an objection raised on
    // the site): the consumer's other channel beats silence.
    const other = this.reachableChannels(ctx).find((c) => c !== "WHATSAPP");
    if (other) {
      const moved = this.compose(ctx, other, content, when, false);
      this.fitted.set(moved, {
        note: `${content.template}: ${closed}, and ${template.missing}: sent on ${other} instead`,
        withheld: false,
      });
      return moved;
    }
    const nowhere = "the consumer has no other channel with consent and an address";
    this.fitted.set(action, {
      note: `${content.template}: not sent: ${closed}, ${template.missing}, and ${nowhere}`,
      withheld: true,
    });
    return action;
  }

  /**
   * The decision and plan as they may go out, once planActions has run (runtimes call it on every
   * plan): actions message() withheld are left out, and how each message was fitted is added to the
   * decision's `notes`. A decision that acted only to send what was withheld (no hand-off, no
   * opt-out) becomes a skip whose reason says what was not sent and why.
   */
  settle(decision: Decision, actions: PlannedAction[]): { decision: Decision; actions: PlannedAction[] } {
    const fits = actions.map((action) => this.fitted.get(action));
    if (fits.every((fit) => fit === undefined)) return { decision, actions };
    const kept = actions.filter((_action, i) => !fits[i]?.withheld);
    const notes = [...(decision.notes ?? []), ...fits.flatMap((fit) => (fit ? [fit.note] : []))];
    const withheld = fits.flatMap((fit) => (fit?.withheld ? [fit.note] : []));
    if (withheld.length === 0) return { decision: { ...decision, notes }, actions: kept };
    const nothingLeft = kept.length === 0 && !decision.handOff && !decision.optOut;
    return {
      decision: {
        ...decision,
        notes,
        act: nothingLeft ? false : decision.act,
        reason: `${decision.reason}. ${withheld.join("; ")}`,
        // Nothing replaces the replies it was to supersede: they stay as planned.
        ...(nothingLeft ? { supersedes: undefined } : {}),
      },
      actions: kept,
    };
  }

  /** The action as written, on its channel, with the fallback `message` describes. */
  private compose(
    ctx: AgentContext,
    channel: Channel,
    content: { template: string; subject: string; text: string },
    when: { sendAt: Date; priority: number },
    fallback: boolean,
  ): PlannedAction {
    const to = this.contactFor(ctx, channel) as string;
    const fallbackChannel =
      fallback && this.tunables.allowChannelFallback
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

  /**
   * The approved template a message may go as outside the customer-service window, with its
   * parameters and filled body; or why there is none (`missing`, for the decision's notes).
   */
  private templateFor(
    ctx: AgentContext,
    content: { template: string; text: string },
  ): { message: string; whatsAppTemplate: TemplateMessage } | { missing: string } {
    const purpose = templatePurposeOf(content.template);
    if (!purpose) return { missing: "only the welcome, follow-ups and the thank-you have templates" };
    const candidates = byLanguagePreference(ctx.whatsAppTemplates.filter((t) => t.purpose === purpose));
    if (candidates.length === 0) return { missing: `the creator has no approved ${purpose} template` };
    const service = this.serviceOfMessage(ctx, content);
    const unfilled: string[] = [];
    for (const template of candidates) {
      const values = template.variables.map((variable) => {
        const value = this.variableValue(ctx, variable, service);
        return value === null ? null : parameterText(value);
      });
      const empty = template.variables.filter((_v, i) => !values[i]);
      if (empty.length > 0) {
        unfilled.push(`"${template.name}" (${template.language}) needs ${empty.join(", ")}`);
        continue;
      }
      const parameters = values as string[];
      const message = fillTemplateBody(template.body, parameters);
      // WhatsApp refuses a body over its limit once filled (Cloud API error 132005).
      if (Array.from(message).length > MAX_TEMPLATE_BODY_CHARS) {
        unfilled.push(
          `"${template.name}" (${template.language}) is over ${MAX_TEMPLATE_BODY_CHARS} characters once filled`,
        );
        continue;
      }
      return { message, whatsAppTemplate: { name: template.name, language: template.language, parameters } };
    }
    return { missing: `no approved ${purpose} template fits this message: ${unfilled.join("; ")}` };
  }

  /** A template variable's value for this message, or null when the agent does not know it. */
  private variableValue(
    ctx: AgentContext,
    variable: ApprovedTemplate["variables"][number],
    service: ProfileService | null,
  ): string | null {
    switch (variable) {
      case "CONSUMER_NAME":
        return this.firstName(ctx);
      case "CREATOR_NAME":
        return this.profile?.creatorName ?? ctx.creator.name;
      case "SERVICE_NAME":
        return service?.name ?? null;
      case "SERVICE_URL":
        return service?.url ?? null;
      case "SERVICE_PRICE":
        return service ? priceOf(service) : null;
      case "SERVICE_PITCH":
        // A phrase: the template's body punctuates it ("{{3}}. It's {{4}}.").
        return service?.pitch.trim().replace(/\.+$/, "") || null;
    }
  }

  /**
   * The profile's service a message is about: the one its key names (`follow_up:<service>`), else
   * the one the consumer visited last among those its text names (a welcome about what they looked
   * at, a thank-you for what they joined); null when none. A service the text only mentions in
   * passing (the creator's pitch) is not what the message is about.
   */
  private serviceOfMessage(ctx: AgentContext, content: { template: string; text: string }): ProfileService | null {
    const services = this.profile?.services ?? [];
    const key = content.template.toLowerCase();
    const byKey = services.find((s) => key.endsWith(`:${s.name.toLowerCase()}`));
    if (byKey) return byKey;
    const named = services.filter((s) => content.text.includes(s.name));
    const visited = ctx.serviceVisits.find((v) => named.some((s) => s.name.toLowerCase() === v.service));
    return named.find((s) => s.name.toLowerCase() === visited?.service) ?? null;
  }
}

export type AgentClass = new (config: AgentConfig) => BaseAgent;
