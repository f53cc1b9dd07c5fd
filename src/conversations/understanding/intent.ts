import { z } from "zod";

// What the agent understood of a consumer's message (or of a burst of them): the intent and its
// slots. Both understanders (deterministic and model) produce exactly this shape.

/**
 * The intents, in the order one wins over another when a burst holds several (an opt-out beats
 * everything; small talk loses to anything with content):
 * - `opt_out`: no more messages, in plain words ("please stop messaging me", "déjame en paz").
 * - `complaint`: anger or a complaint about us ("this is spam"): selling stops, one short
 *   apology, hand-off to the creator.
 * - `support`: help with something bought, billing, a refund or an invoice (`support` slot):
 *   hand-off to the creator.
 * - `purchase`: wants to buy or sign up (`service` slot): that service's link, at once.
 * - `objection`: a reason not to buy (`objection` slot: price, time, fit, trust, later).
 * - `question`: about a service (`service` and `topic` slots: price, duration, schedule,
 *   included, link, general).
 * - `unknown`: none of these: hand-off to the creator, never a canned pitch.
 * - `thanks`, `small_talk`: a short, friendly line at most.
 */
export const INTENTS = [
  "opt_out",
  "complaint",
  "support",
  "purchase",
  "objection",
  "question",
  "unknown",
  "thanks",
  "small_talk",
] as const;
export type IntentKind = (typeof INTENTS)[number];

export const QUESTION_TOPICS = ["price", "duration", "schedule", "included", "link", "general"] as const;
export type QuestionTopic = (typeof QUESTION_TOPICS)[number];

export const OBJECTION_KINDS = ["price", "time", "fit", "trust", "later"] as const;
export type ObjectionKind = (typeof OBJECTION_KINDS)[number];

export const SUPPORT_KINDS = ["support", "billing", "refund", "invoice"] as const;
export type SupportKind = (typeof SUPPORT_KINDS)[number];

/** One understanding. Slots that do not apply are null; `service` is a profile service's exact name. */
export const understandingSchema = z.object({
  intent: z.enum(INTENTS),
  service: z.string().max(200).nullable(),
  topic: z.enum(QUESTION_TOPICS).nullable(),
  /** Further topics the same question asks about ("how much is it and how long?"). */
  moreTopics: z.array(z.enum(QUESTION_TOPICS)).max(QUESTION_TOPICS.length).default([]),
  objection: z.enum(OBJECTION_KINDS).nullable(),
  support: z.enum(SUPPORT_KINDS).nullable(),
  /** ISO 639-1 code of the consumer's language, when known. */
  language: z.string().max(10).nullable(),
  /** A reply drafted by the model in the consumer's language; checked against the profile before use. */
  reply: z.string().max(1500).nullable(),
});
export type Understanding = z.infer<typeof understandingSchema>;

/** An understanding with nothing but its intent. */
export function intentOnly(intent: IntentKind, slots: Partial<Understanding> = {}): Understanding {
  return {
    intent,
    service: null,
    topic: null,
    moreTopics: [],
    objection: null,
    support: null,
    language: null,
    reply: null,
    ...slots,
  };
}

/** The intent that wins when several messages of a burst are understood apart (INTENTS' order). */
export function strongest(understandings: Understanding[]): Understanding {
  const rank = (u: Understanding) => INTENTS.indexOf(u.intent);
  const sorted = [...understandings].sort((a, b) => rank(a) - rank(b));
  const best = sorted[0] ?? intentOnly("unknown");
  // A service named anywhere in the burst ("the sprint" ... "how much?") fills the winner's slot.
  const service = best.service ?? understandings.find((u) => u.service)?.service ?? null;
  if (best.intent !== "question") return { ...best, service };
  // Every question of the burst is answered: "how much is it?" ... "and when does it start?".
  const topics = [
    ...new Set(
      understandings
        .filter((u) => u.intent === "question")
        .flatMap((u) => [u.topic, ...u.moreTopics])
        .filter((t): t is QuestionTopic => t !== null),
    ),
  ];
  const specific = topics.filter((t) => t !== "general");
  const [topic, ...moreTopics] = specific.length > 0 ? specific : topics;
  return { ...best, service, topic: topic ?? best.topic, moreTopics };
}
