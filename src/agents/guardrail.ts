import { type ClaimSource, COMMERCIAL_CLAIMS, claimSource, claimsNotIn } from "../conversations/grounding.js";
import { handOffNotice } from "../conversations/replies.js";
import type { Channel } from "../generated/prisma/enums.js";
import { firstNameOf, formatPrice } from "../profiles/facts.js";
import type { AgentContext, Decision } from "./agent.js";
import type { ProfileSnapshot } from "./agent-config.js";

// The last check before an agent's messages are stored to be sent, whatever wrote them (the
// playbook, a model's rewording, the LangGraph runtime, a creator's external service): every
// amount, percentage, discount, code and link in a message to a consumer must come from the
// active profile (issue #14). A message that fails is not sent. When it was the answer to the
// consumer's message, the conversation goes to the creator with one notice, so the consumer is
// not left unanswered; the decision records what was held back and why, and is published with
// the run. A creator's own sendMessage never passes here: a person's words are theirs.

/** A planned message as the worker has it once parsed (plannedActionSchema). */
type Planned = { channel: Channel; payload: Record<string, unknown>; sendAt: Date; priority: number };

/** A message the guardrail held back, as recorded on the decision (`decision.guardrail.blocked`). */
export type BlockedMessage = {
  channel: Channel;
  /** The agent's message key (`payload.template`), or null. */
  template: string | null;
  /** What the message said that the profile does not: `amount USD 199`, `code VIP90`, `link https://…`. */
  claims: string[];
};

/**
 * Everything the creator's active profile says, read once for claims: its copy, each service with
 * its price as people write it, and the creator's name. Nothing else counts: an approved WhatsApp
 * template is checked, filled, like any message, so an offer only its body makes is held back
 * (the profile is where a creator states offers). Kept per profile version, since reading a large
 * profile costs about 0.8 ms (22,000 characters) and every agent run checks against it; at most
 * SOURCES_KEPT are kept, the oldest dropped first.
 */
function profileSource(profile: ProfileSnapshot | null, ctx: AgentContext): ClaimSource {
  const key = JSON.stringify([profile?.profileId ?? null, profile?.version ?? null, ctx.creator.name]);
  const kept = sources.get(key);
  if (kept) return kept;
  const services = (profile?.services ?? []).flatMap((s) => [
    s.name,
    s.description,
    s.pitch,
    s.url ?? "",
    s.price !== null ? formatPrice(s.price, s.currency) : "",
  ]);
  const source = claimSource(
    [
      ctx.creator.name,
      ...(profile
        ? [
            profile.creatorName,
            profile.summary,
            profile.salesPitch,
            profile.targetAudience,
            ...profile.valuePropositions,
            profile.agentInstructions,
            ...profile.objectionHandling.flatMap((o) => [o.objection, o.response]),
          ]
        : []),
      ...services,
    ].join("\n"),
  );
  if (sources.size >= SOURCES_KEPT) sources.delete(sources.keys().next().value as string);
  sources.set(key, source);
  return source;
}

const SOURCES_KEPT = 200;
const sources = new Map<string, ClaimSource>();

/**
 * The words a message shows a consumer: its subject (and its fallback's) and body. A reply's
 * subject that only quotes the consumer's own ("Re: Is there a 50% discount?") is their words, not
 * a claim. Webhooks go to the creator's own systems.
 */
function wordsOf(action: Planned, inboundSubject: string | null): string | null {
  if (action.channel === "WEBHOOK") return null;
  const { message, subject, fallback } = action.payload;
  const quoted = (s: unknown) =>
    typeof s === "string" && inboundSubject !== null && withoutRe(s) === withoutRe(inboundSubject);
  const fallbackSubject = (fallback as { subject?: unknown } | undefined)?.subject;
  return [subject, fallbackSubject, message]
    .filter((part): part is string => typeof part === "string" && !quoted(part))
    .join("\n");
}

const intersect = (a: string[], b: string[]) => a.filter((claim) => b.includes(claim));

/** A subject without its "Re:" prefixes. */
const withoutRe = (subject: string) => subject.replace(/^(?:re:\s*)+/i, "").trim();

/**
 * Checks a run's planned messages against the active profile (see the file's comment). Answers the
 * messages to store and the decision to record: unchanged when nothing was held back; else with
 * `guardrail.blocked`, the reason extended, and, when the consumer's message on `messageChannel`
 * lost its answer, a hand-off of that conversation with its notice (unless the decision hands off
 * another one). Pure.
 */
export function guardMessages(
  decision: Decision,
  actions: Planned[],
  context: {
    profile: ProfileSnapshot | null;
    ctx: AgentContext;
    /** The channel of the consumer's message the run answers, and its subject (email), if it was one. */
    messageChannel: Channel | null;
    inboundSubject: string | null;
  },
): { decision: Decision & { guardrail?: { blocked: BlockedMessage[] } }; actions: Planned[] } {
  const source = profileSource(context.profile, context.ctx);
  // The consumer's first name, as a greeting uses it (not their whole name or address, which
  // they chose): a claim is one when neither the profile nor the name says it.
  const name = firstNameOf(context.ctx.consumer.name) ?? "";
  const blocked: (BlockedMessage & { action: Planned })[] = [];
  const kept = actions.filter((action) => {
    const words = wordsOf(action, context.inboundSubject);
    const inProfile = words === null ? [] : claimsNotIn(words, source, COMMERCIAL_CLAIMS);
    const claims =
      inProfile.length === 0 ? [] : intersect(inProfile, claimsNotIn(words as string, name, COMMERCIAL_CLAIMS));
    if (claims.length === 0) return true;
    const template = typeof action.payload.template === "string" ? action.payload.template : null;
    blocked.push({ channel: action.channel, template, claims, action });
    return false;
  });
  if (blocked.length === 0) return { decision, actions };

  const said = [...new Set(blocked.flatMap((b) => b.claims))].join(", ");
  const guarded = {
    ...decision,
    reason: `${decision.reason}; held back by the guardrail, not in the profile: ${said}`,
    guardrail: { blocked: blocked.map(({ action: _action, ...b }) => b) },
  };
  const { messageChannel, ctx, profile } = context;
  const answer = blocked.find((b) => b.channel === messageChannel)?.action;
  // The consumer's message lost its answer: the creator answers instead, with one notice (a
  // hand-off the decision already made on that channel keeps its own reason).
  const handingOffElsewhere = decision.handOff && decision.handOff.channel !== messageChannel;
  if (!answer || !messageChannel || handingOffElsewhere || kept.some((a) => a.channel === messageChannel)) {
    return { decision: guarded, actions: kept };
  }
  const creator = profile?.creatorName ?? ctx.creator.name;
  // Not the held-back message's subject, which may be the claim: the consumer's own, or a plain one.
  const subject = context.inboundSubject
    ? `Re: ${withoutRe(context.inboundSubject)}`
    : `${creator} will reply personally`;
  const notice = handOffNotice(creator, firstNameOf(ctx.consumer.name), subject);
  const { message: _m, subject: _s, template: _t, whatsAppTemplate: _w, fallback: _f, ...route } = answer.payload;
  return {
    decision: {
      ...guarded,
      handOff: decision.handOff ?? {
        channel: messageChannel,
        reason: `The answer said what the profile does not (${said}): for the creator`,
      },
    },
    actions: [
      ...kept,
      {
        ...answer,
        payload: {
          ...route,
          template: notice.template,
          message: notice.text,
          ...(messageChannel === "EMAIL" ? { subject: notice.subject } : {}),
        },
      },
    ],
  };
}
