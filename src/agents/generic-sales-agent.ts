import { claimsNotIn } from "../conversations/grounding.js";
import { planReply, type ReplyPlan, serviceOfTemplate, templatesOf } from "../conversations/replies.js";
import {
  channelNamedIn,
  isOptOut,
  objectionKindOf,
  understandMessage,
} from "../conversations/understanding/deterministic.js";
import { understander } from "../conversations/understanding/index.js";
import { intentOnly, type Understanding } from "../conversations/understanding/intent.js";
import type { Channel } from "../generated/prisma/enums.js";
import { firstSentences, formatDuration, joinSentences, priceOf } from "../profiles/facts.js";
import type { ProfileService } from "../profiles/profile-content.js";
import {
  type AgentContext,
  type AgentEvent,
  BaseAgent,
  type Decision,
  type PlannedAction,
  saidOrPlanned,
} from "./agent.js";

const MINUTE = 60_000;
/** Events that carry a consumer's written message, and the channel it came on. */
const MESSAGE_CHANNELS: Record<string, Channel> = { whatsapp_replied: "WHATSAPP", email_replied: "EMAIL" };
/** Messages this close together are one burst, answered once (with the reply delay on top). */
const BURST_SPAN_MS = 10 * MINUTE;
/** Delivery priorities: a thank-you first, then answers to the consumer, then what the agent starts. */
const PRIORITY = { reply: 1.5, thanks: 2, followUp: 1, welcome: 0.8 };

/**
 * The one sales agent every creator gets, configured by the creator's profile alone.
 * Playbook, first match wins: stop after opt-out; after a conversion only thank (and still answer
 * what the consumer writes); a consumer's message is understood and answered from the profile's
 * facts on the channel it came on, or handed to the creator (conversations/replies.ts); an
 * objection from the site gets the profile's answer; repeated views of a service bring its pitch
 * once per cycle (a consumer quiet for `quietDaysForNewCycle` days starts a new one); a newly
 * interested consumer gets one welcome about what they looked at; and nobody is messaged more
 * often than the spacing allows.
 */
export class GenericSalesAgent extends BaseAgent {
  /** The plan shouldAct made for planActions (one instance serves one run). */
  private planned: PlannedAction[] = [];

  async shouldAct(ctx: AgentContext, event: AgentEvent): Promise<Decision> {
    this.planned = [];
    const messageChannel = MESSAGE_CHANNELS[event.type];
    // An opt-out in the consumer's words was honoured by ingestion (consumers/context-delta.ts,
    // optOutChannels): nothing to answer, whatever the burst or a model would make of it.
    if (messageChannel && isOptOut(String(event.payload.text ?? ""))) {
      return {
        ...this.skip("opt_out", "The consumer opted out in their own words: consent was withdrawn when it arrived"),
        understood: { intent: "opt_out", by: "deterministic", notes: ["an opt-out, read at ingestion"] },
        read: { eventIds: [event.id], intent: "opt_out" },
      };
    }
    if (!this.profile) return this.skip("no_profile", "The creator has no active profile yet");
    if (messageChannel) return this.converse(ctx, event, messageChannel);
    if (this.stage(ctx) === "UNSUBSCRIBED" || event.type === "unsubscribed") {
      return this.skip("opted_out", "The consumer opted out: no more messages");
    }
    const channels = this.reachableChannels(ctx);
    if (channels.length === 0) {
      return this.skip("unreachable", "No channel with both consent and contact details");
    }
    if (event.type === "enrolled") {
      if (this.alreadySent(ctx, "thank_you")) return this.skip("converted", "Already thanked for the enrolment");
      this.planned = [this.thankYou(ctx, event, channels[0])];
      return this.act("thank_you", "The consumer enrolled: send a thank-you, and stop selling");
    }
    if (this.stage(ctx) === "CONVERTED") return this.skip("converted", "The consumer converted: no more selling");
    const held = ctx.conversations.find((c) => c.holder === "PERSON");
    if (held) {
      return this.skip("held", `The ${held.channel} conversation is with a person: no selling on any channel`);
    }
    if (event.type === "objection") return this.siteObjection(ctx, event, channels[0]);

    const hours = this.hoursSinceLastMessage(ctx);
    // A message already planned for later counts too (negative hours), unless spacing is off.
    if (this.tunables.minHoursBetweenMessages > 0 && hours < this.tunables.minHoursBetweenMessages) {
      const minutes = Math.round(Math.abs(hours) * 60);
      const last =
        hours < 0
          ? `A message is already planned, due in ${formatDuration(Math.max(1, minutes))}`
          : minutes === 0
            ? "Last message just now"
            : `Last message ${formatDuration(minutes)} ago`;
      return this.skip("spacing", `${last}; at least ${this.tunables.minHoursBetweenMessages} h between messages`);
    }

    const service = this.viewedService(event);
    if (service) {
      const views = this.serviceViews(ctx, service.name);
      if (views >= this.tunables.serviceViewsForFollowUp && !this.alreadySent(ctx, `follow_up:${service.name}`)) {
        this.planned = [this.followUp(ctx, service, channels[0])];
        const again = this.cycleStart(ctx) ? " (a new cycle: they came back after going quiet)" : "";
        return this.act("service_follow_up", `${views} views of "${service.name}": follow up with its pitch${again}`);
      }
    }

    if ((this.stage(ctx) === "INTERESTED" || this.stage(ctx) === "ENGAGED") && !this.everSent(ctx, "welcome")) {
      this.planned = [this.welcome(ctx, service, channels[0])];
      return this.act("welcome", "A newly interested consumer: welcome them");
    }
    return this.skip("nothing_to_do", "Nothing in the playbook applies to this event");
  }

  planActions(_ctx: AgentContext, _event: AgentEvent, _decision: Decision): PlannedAction[] {
    return this.planned;
  }

  // A consumer's message.

  /**
   * Understands the consumer's unanswered messages on the channel they wrote on (one burst, one
   * answer: a message written meanwhile leaves this one to the later run) and plans the answer.
   */
  private async converse(ctx: AgentContext, event: AgentEvent, channel: Channel): Promise<Decision> {
    const conversation = ctx.conversations.find((c) => c.channel === channel);
    const messages = conversation?.messages ?? [];
    const mine = messages.findIndex((m) => m.eventId === event.id);
    const at = mine >= 0 ? messages[mine].at : event.occurredAt;
    if (mine >= 0 && messages.slice(mine + 1).some((m) => m.direction === "INBOUND")) {
      return this.skip("burst", "A later message of the consumer's is answered with this one");
    }
    // The burst: the consumer's messages since our last one, written shortly before this one.
    const lastOutbound = messages.findLastIndex((m, i) => m.direction === "OUTBOUND" && (mine < 0 || i < mine));
    const burstMessages = messages
      .slice(lastOutbound + 1, mine >= 0 ? mine + 1 : undefined)
      .filter((m) => m.direction === "INBOUND" && at.getTime() - m.at.getTime() <= BURST_SPAN_MS);
    const burst = burstMessages.map((m) => m.text ?? "");
    if (mine < 0) burst.push(String(event.payload.text ?? ""));
    const burstEventIds = [...new Set([...burstMessages.flatMap((m) => (m.eventId ? [m.eventId] : [])), event.id])];
    const history = messages
      .slice(0, Math.max(0, lastOutbound + 1))
      .slice(-20)
      .flatMap((m) => (m.text ? [{ direction: m.direction, text: m.text }] : []));

    const reader = understander();
    const { understanding, notes } = await reader.understand({
      messages: burst,
      channel,
      profile: this.profile as NonNullable<typeof this.profile>,
      history,
    });
    const understood = { ...understanding, by: reader.name, notes, burst: burst.length };
    // The burst's reading is noted on the message that completed it.
    const read = { eventIds: [event.id], intent: understanding.intent };
    const held = conversation && conversation.holder !== "AGENT";
    if (understanding.intent === "opt_out") {
      // Honoured whoever holds the conversation, and whatever the stage.
      return {
        ...this.act("opt_out", "The consumer asked for no more messages: consent withdrawn on every channel"),
        optOut: channelNamedIn(burst.join("\n")) ?? true,
        understood,
        read,
      };
    }
    if (held) {
      const reason = conversation.holder === "PERSON" ? "handed off to a person" : "closed";
      return { ...this.skip("held", `The conversation is ${reason}: the agent stays out`), understood, read };
    }

    // Replies of ours to messages of this burst still waiting to go out are replaced by this one
    // (when it says something), and do not count as said.
    const burstEvents = new Set(burstEventIds);
    const superseded = ctx.previousActions.filter(
      (a) =>
        a.byAgent &&
        a.status === "PLANNED" &&
        a.channel === channel &&
        a.inReplyTo !== null &&
        burstEvents.has(a.inReplyTo),
    );
    const said = this.saidOn(ctx, channel, superseded);
    let plan = planReply({
      understanding,
      profile: this.profile as NonNullable<typeof this.profile>,
      channel,
      name: this.firstName(ctx),
      said,
      focus: this.focusService(ctx, channel),
      subject: typeof event.payload.subject === "string" ? event.payload.subject : null,
    });
    // A consumer the agent may not write to on this channel (no consent or no address, or opted
    // out) is still heard: what needs an answer goes to the creator, with no notice.
    const reachable = this.reachableChannels(ctx).includes(channel) && this.stage(ctx) !== "UNSUBSCRIBED";
    if (!reachable && (plan.kind === "reply" || plan.kind === "hand_off")) {
      plan = {
        kind: "hand_off",
        rule: "unreachable",
        reason: `The consumer wrote on ${channel}, where the agent may not answer (no consent or opted out): for the creator`,
        notice: null,
      };
    }
    const speaks = plan.kind === "reply" || (plan.kind === "hand_off" && plan.notice !== null);
    const supersedes = speaks ? superseded.map((a) => a.id) : [];
    return this.decide(ctx, channel, plan, understanding, ctx.now, { understood, supersedes, read });
  }

  /** An objection event from the creator's site (`payload.objection`: "price", "time", or their words). */
  private siteObjection(ctx: AgentContext, event: AgentEvent, channel: Channel): Decision {
    const said = this.saidOn(ctx, channel, []);
    const words = String(event.payload.objection ?? event.payload.text ?? "");
    const understanding = understandObjection(words, this.profile?.services ?? []);
    const plan = planReply({
      understanding,
      profile: this.profile as NonNullable<typeof this.profile>,
      channel,
      name: this.firstName(ctx),
      said,
      focus: this.focusService(ctx, channel),
      subject: null,
    });
    return this.decide(ctx, channel, plan, understanding, ctx.now, {
      understood: { ...understanding, by: "event" },
    });
  }

  /** What the agent said on a channel this cycle (its messages' templates), leaving out replies being replaced. */
  private saidOn(ctx: AgentContext, channel: Channel, replaced: AgentContext["previousActions"]): Set<string> {
    return new Set(
      this.actionsThisCycle(ctx)
        .filter((a) => a.channel === channel && a.template !== null && !replaced.includes(a))
        .flatMap((a) => templatesOf(a.template as string)),
    );
  }

  /** Turns a reply plan into the decision and its messages. */
  private decide(
    ctx: AgentContext,
    channel: Channel,
    plan: ReplyPlan,
    understanding: Understanding,
    sendAt: Date,
    extra: Pick<Decision, "understood" | "supersedes" | "read">,
  ): Decision {
    const send = (message: { template: string; subject: string; text: string }) =>
      // On the channel the consumer wrote on, no fallback (the agent store marks it `inReplyTo`).
      this.message(ctx, channel, message, { sendAt, priority: PRIORITY.reply }, { fallback: false });
    switch (plan.kind) {
      case "reply": {
        const message = plan.direct ? this.withDraft(plan.message, understanding, extra) : plan.message;
        this.planned = [send(message)];
        return { ...this.act(plan.rule, plan.reason), ...extra };
      }
      case "hand_off":
        this.planned = plan.notice ? [send(plan.notice)] : [];
        return {
          ...this.act(`hand_off:${plan.rule}`, plan.reason),
          ...extra,
          handOff: { channel, reason: plan.reason },
        };
      case "opt_out":
        return { ...this.act("opt_out", plan.reason), ...extra, optOut: true };
      default:
        return { ...this.skip(plan.rule, plan.reason), ...extra };
    }
  }

  /**
   * The model's wording of a direct answer, when it keeps the answer's links and claims nothing the
   * answer composed from the profile does not (grounding.ts); otherwise that composed answer.
   */
  private withDraft(
    message: { template: string; subject: string; text: string },
    understanding: Understanding,
    extra: Pick<Decision, "understood">,
  ) {
    const draft = understanding.reply?.trim();
    if (!draft) return message;
    const links = message.text.match(/https?:\/\/\S+/g) ?? [];
    const invented = claimsNotIn(draft, message.text);
    const dropped = links.filter((link) => !draft.includes(link.replace(/[.,!?]+$/, "")));
    if (invented.length > 0 || dropped.length > 0) {
      const why =
        invented.length > 0 ? `it says what the answer does not: ${invented.join(", ")}` : "it dropped the link";
      (extra.understood as { notes: string[] }).notes.push(`the model's reply was not used (${why})`);
      return message;
    }
    return { ...message, text: draft };
  }

  /**
   * The service the conversation is about: the one named in the agent's latest message on the
   * channel, or the one the consumer viewed most, or null.
   */
  private focusService(ctx: AgentContext, channel: Channel): ProfileService | null {
    const profile = this.profile;
    if (!profile) return null;
    for (const action of ctx.previousActions) {
      if (action.channel !== channel || !action.template) continue;
      const service = serviceOfTemplate(action.template, profile);
      if (service) return service;
    }
    const views = profile.services
      .map((service) => ({ service, views: this.serviceViews(ctx, service.name) }))
      .filter((v) => v.views > 0)
      .sort((a, b) => b.views - a.views);
    return views[0]?.service ?? null;
  }

  // The playbook's messages.

  private thankYou(ctx: AgentContext, event: AgentEvent, channel: Channel): PlannedAction {
    const profile = this.profile as NonNullable<typeof this.profile>;
    const name = this.firstName(ctx);
    const bought = this.serviceNamed(String(event.payload.service ?? ""));
    return this.message(
      ctx,
      channel,
      {
        template: "thank_you",
        subject: bought ? `Welcome to ${bought.name}` : `Welcome aboard${name ? `, ${name}` : ""}`,
        text: joinSentences(
          `Welcome aboard${name ? `, ${name}` : ""}!`,
          `Thank you for joining ${bought ? bought.name : profile.creatorName}`,
          "We're glad to have you, and we'll be in touch with everything you need to get started",
        ),
      },
      { sendAt: ctx.now, priority: PRIORITY.thanks },
    );
  }

  private followUp(ctx: AgentContext, service: ProfileService, channel: Channel): PlannedAction {
    const profile = this.profile as NonNullable<typeof this.profile>;
    const price = priceOf(service);
    return this.message(
      ctx,
      channel,
      {
        template: `follow_up:${service.name}`,
        subject: `${service.name}: is it right for you?`,
        text: joinSentences(
          `${this.hello(ctx)} I noticed you've been looking at ${service.name}`,
          service.pitch || firstSentences(service.description, 2) || firstSentences(profile.salesPitch, 1),
          price && `It's ${price}`,
          service.url && `More here: ${service.url}`,
          "Happy to answer any questions",
        ),
      },
      { sendAt: new Date(ctx.now.getTime() + 5 * MINUTE), priority: PRIORITY.followUp },
    );
  }

  /** The welcome: about the service the consumer looked at, or about the creator's work when none. */
  private welcome(ctx: AgentContext, viewed: ProfileService | null, channel: Channel): PlannedAction {
    const profile = this.profile as NonNullable<typeof this.profile>;
    const body = viewed
      ? [
          `Thanks for looking at ${viewed.name}`,
          viewed.pitch || firstSentences(viewed.description, 2),
          priceOf(viewed) && `It's ${priceOf(viewed)}`,
          viewed.url && `More here: ${viewed.url}`,
        ]
      : [`Thanks for your interest in ${profile.creatorName}'s work`, firstSentences(profile.salesPitch, 2)];
    return this.message(
      ctx,
      channel,
      {
        template: "welcome",
        subject: viewed ? `${viewed.name}, from ${profile.creatorName}` : `Welcome from ${profile.creatorName}`,
        text: joinSentences(this.hello(ctx), ...body, "Reply here any time if you have questions"),
      },
      { sendAt: new Date(ctx.now.getTime() + this.tunables.welcomeDelayMinutes * MINUTE), priority: PRIORITY.welcome },
    );
  }

  private hello(ctx: AgentContext): string {
    const name = this.firstName(ctx);
    return name ? `Hi ${name}!` : "Hi!";
  }

  /** Whether a template was ever sent (the welcome is once per lifetime; follow-ups once per cycle). */
  private everSent(ctx: AgentContext, template: string): boolean {
    return ctx.previousActions.some((a) => a.template === template && saidOrPlanned(a));
  }

  private serviceNamed(name: string): ProfileService | null {
    const wanted = name.trim().toLowerCase();
    if (!wanted) return null;
    return this.profile?.services.find((s) => s.name.toLowerCase() === wanted) ?? null;
  }

  /** The profile's service named by a page view or click, matched case-insensitively. */
  private viewedService(event: AgentEvent): ProfileService | null {
    if (event.type !== "page_view" && event.type !== "service_click") return null;
    return this.serviceNamed(String(event.payload.service ?? ""));
  }
}

/** An objection event's payload read as an understanding: a kind's name ("price") or the consumer's words. */
function understandObjection(words: string, services: ProfileService[]): Understanding {
  const kind = objectionKindOf(words);
  return kind ? intentOnly("objection", { objection: kind }) : understandMessage(words, services);
}
