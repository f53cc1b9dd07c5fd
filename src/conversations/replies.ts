import indefinite from "indefinite";
import type { ProfileSnapshot } from "../agents/agent-config.js";
import type { Channel } from "../generated/prisma/enums.js";
import { firstSentences, formatDuration, joinSentences, priceOf, sentencesMatching } from "../profiles/facts.js";
import type { ProfileService } from "../profiles/profile-content.js";
import { objectionKindOf, serviceNamedIn } from "./understanding/deterministic.js";
import type { ObjectionKind, QuestionTopic, Understanding } from "./understanding/intent.js";

/** "A support", "An invoice", "An included": the reason's first words, with the article English wants (indefinite). */
const aOrAn = (words: string) => indefinite(words, { capitalize: true });

// What the agent does with an understood message: answer from the profile's facts, never the same
// answer twice in a conversation (the next step instead: another service, or the creator), hand
// off what it cannot answer, and stop at an opt-out.

/** A message the agent writes. `template` names what it says, so it is never said twice. */
export type ReplyMessage = { template: string; subject: string; text: string };

/** The plan for an understood message. */
export type ReplyPlan =
  /** Answer; `direct` marks an answer to the question itself (a model's draft may word it). */
  | { kind: "reply"; rule: string; reason: string; message: ReplyMessage; direct: boolean }
  /** Pass the conversation to the creator, with at most one short notice to the consumer. */
  | { kind: "hand_off"; rule: string; reason: string; notice: ReplyMessage | null }
  /** The consumer opted out: consent withdrawn on every channel, nothing sent. */
  | { kind: "opt_out"; rule: string; reason: string }
  | { kind: "none"; rule: string; reason: string };

export type ReplyRequest = {
  understanding: Understanding;
  profile: ProfileSnapshot;
  channel: Channel;
  /** The consumer's first name, or null. */
  name: string | null;
  /** Templates the agent already sent or planned in this conversation, in this cycle. */
  said: ReadonlySet<string>;
  /** The service the conversation is about when the message names none (the last discussed or viewed). */
  focus: ProfileService | null;
  /** The subject of the consumer's email, for "Re: ..." on the answer. */
  subject: string | null;
};

/** Sentences of a description about when a service runs. */
const SCHEDULE =
  /\b(start|starts|begin|begins|next (cohort|round|intake)|every|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?|january|february|march|april|may|june|july|august|september|october|november|december|\d{1,2}(:\d{2})? ?(am|pm)|\d{1,2}:\d{2})\b/i;
/** Sentences of a description about what a service includes. */
const INCLUDED = /\b(includ\w*|cover\w*|you get|comes with)\b/i;
/** Sentences of a description about how long a service takes. */
const LENGTH = /\b\d+[- ]?(minute|min|hour|day|week|month|session)s?\b/i;

const key = (service: ProfileService) => service.name.toLowerCase();

function greeting(name: string | null): string {
  return name ? `Hi ${name}!` : "Hi!";
}

function signUp(service: ProfileService): string | null {
  return service.url ? `You can sign up here: ${service.url}` : null;
}

function subjectFor(request: ReplyRequest, fallback: string): string {
  if (request.subject) return /^re:/i.test(request.subject) ? request.subject : `Re: ${request.subject}`;
  return fallback;
}

/** Plans the answer to an understood message (or burst). Pure: the same request, the same plan. */
export function planReply(request: ReplyRequest): ReplyPlan {
  const u = request.understanding;
  const creator = request.profile.creatorName;
  const thanksName = request.name ? `Thanks, ${request.name}.` : "Thank you.";
  switch (u.intent) {
    case "opt_out":
      return { kind: "opt_out", rule: "opt_out", reason: "The consumer asked for no more messages" };
    case "complaint":
      return handOff(request, "complaint", "A complaint: selling stops and the creator takes over", {
        template: "apology",
        subject: subjectFor(request, "Sorry"),
        text: joinSentences(
          `Sorry, ${request.name ?? "and thank you for telling us"}`,
          `I've passed this to ${creator}, who will get back to you personally`,
        ),
      });
    case "support": {
      const what = {
        refund: "your refund request",
        invoice: "your invoice request",
        billing: "your billing question",
        support: "your message",
      }[u.support ?? "support"];
      return handOff(
        request,
        `support:${u.support ?? "support"}`,
        `${aOrAn(u.support ?? "support")} request: for the creator`,
        {
          template: "hand_off",
          subject: subjectFor(request, `${creator} will reply personally`),
          text: joinSentences(thanksName, `I've passed ${what} to ${creator}, who will reply here personally`),
        },
      );
    }
    case "purchase":
      return purchase(request);
    case "question":
      return question(request, [u.topic ?? "general", ...u.moreTopics.filter((t) => t !== u.topic)]);
    case "objection":
      return objection(request, u.objection ?? "price");
    case "thanks":
      return request.said.has("thanks")
        ? { kind: "none", rule: "thanks", reason: "Thanked before: nothing more to say" }
        : reply("thanks", "The consumer said thanks: a short answer", false, {
            template: "thanks",
            subject: subjectFor(request, "You're welcome"),
            text: `You're welcome${request.name ? `, ${request.name}` : ""}! Reply here any time.`,
          });
    case "small_talk":
      return { kind: "none", rule: "small_talk", reason: "Small talk: nothing to answer" };
    default:
      return handOff(request, "unknown", "A message the agent cannot answer: for the creator", {
        template: "hand_off",
        subject: subjectFor(request, `${creator} will reply personally`),
        text: joinSentences(thanksName, `I've passed your message to ${creator}, who will reply here personally`),
      });
  }
}

function reply(rule: string, reason: string, direct: boolean, message: ReplyMessage): ReplyPlan {
  return { kind: "reply", rule, reason, message, direct };
}

function handOff(request: ReplyRequest, rule: string, reason: string, notice: ReplyMessage): ReplyPlan {
  // One notice per conversation and cycle: a second hand-off (after the creator gave it back) is silent.
  return { kind: "hand_off", rule, reason, notice: request.said.has(notice.template) ? null : notice };
}

/** The service a message is about: the one it names, the conversation's, or the profile's only one. */
function serviceOf(request: ReplyRequest): ProfileService | null {
  const { services } = request.profile;
  const named = request.understanding.service;
  if (named) return services.find((s) => s.name === named) ?? null;
  return request.focus ?? (services.length === 1 ? services[0] : null);
}

function purchase(request: ReplyRequest): ReplyPlan {
  const service = serviceOf(request);
  const withLinks = request.profile.services.filter((s) => s.url);
  if (!service) {
    if (withLinks.length === 0 || request.said.has("links")) {
      return handOff(
        request,
        "purchase",
        "Wants to buy, but which service is unclear: for the creator",
        nudge(request),
      );
    }
    return reply("purchase", "Wants to buy without naming a service: every sign-up link", true, {
      template: "links",
      subject: subjectFor(request, "How to sign up"),
      text: joinSentences(
        `Great, ${request.name ?? "thank you"}! Here is where to sign up`,
        ...withLinks.slice(0, 4).map((s) => `${s.name}${priceOf(s) ? ` (${priceOf(s)})` : ""}: ${s.url}`),
      ),
    });
  }
  const template = `link:${key(service)}`;
  if (!service.url || request.said.has(template)) {
    return handOff(
      request,
      "purchase",
      service.url
        ? `Asked again how to buy ${service.name}: for the creator`
        : `Wants ${service.name}, which has no sign-up link: for the creator`,
      nudge(request),
    );
  }
  return reply("purchase", `Wants to buy ${service.name}: its link at once`, true, {
    template,
    subject: subjectFor(request, `Your sign-up link for ${service.name}`),
    text: joinSentences(
      `Great, ${request.name ?? "thank you"}! You can sign up for ${service.name} here: ${service.url}`,
      priceOf(service) && `It's ${priceOf(service)}`,
    ),
  });
}

/**
 * The notice of a hand-off the consumer is waiting on: who answers them, and where. `name` is the
 * consumer's first name (or null); `subject` is the email subject to use.
 */
export function handOffNotice(creatorName: string, name: string | null, subject: string): ReplyMessage {
  return {
    template: "hand_off",
    subject,
    text: joinSentences(
      name ? `Thanks, ${name}.` : "Thank you.",
      `I've asked ${creatorName} to help you personally; you'll hear back here`,
    ),
  };
}

function nudge(request: ReplyRequest): ReplyMessage {
  const creator = request.profile.creatorName;
  return handOffNotice(creator, request.name, subjectFor(request, `${creator} will reply personally`));
}

const TOPIC_SUBJECTS: Record<QuestionTopic, (service: string) => string> = {
  price: (s) => `${s}: price and how to join`,
  duration: (s) => `${s}: how long it takes`,
  schedule: (s) => `${s}: dates`,
  included: (s) => `${s}: what's included`,
  link: (s) => `${s}: the link`,
  general: (s) => `About ${s}`,
};

/**
 * What the profile says about one topic of a service, without its sign-up link, or null when it
 * does not say.
 */
function factsAbout(service: ProfileService, topic: QuestionTopic): string | null {
  const price = priceOf(service);
  const about = service.description || service.pitch;
  switch (topic) {
    case "price":
      return price ? `${service.name} is ${price}` : null;
    case "duration": {
      const length = service.durationMinutes
        ? `${service.name} takes ${formatDuration(service.durationMinutes)}`
        : sentencesMatching(about, LENGTH).join(" ");
      return length || null;
    }
    case "schedule":
      return sentencesMatching(service.description, SCHEDULE).join(" ") || null;
    case "included": {
      const included = sentencesMatching(about, INCLUDED);
      return (included.length > 0 ? included.join(" ") : firstSentences(about, 2)) || null;
    }
    case "link":
      return service.url ? `Here's the page for ${service.name}: ${service.url}` : null;
    default:
      return about ? joinSentences(firstSentences(about, 2), price && `It's ${price}`) : null;
  }
}

/** Templates of one message, which may answer several topics ("answer:price:x|answer:duration:x"). */
export function templatesOf(template: string): string[] {
  return template.split("|");
}

/** A question's topics answered together from the facts, each at most once per conversation. */
function question(request: ReplyRequest, topics: QuestionTopic[]): ReplyPlan {
  const [first] = topics;
  const service = serviceOf(request);
  if (!service) {
    const priced = request.profile.services.filter((s) => s.price !== null);
    if (topics.includes("price") && priced.length > 0 && !request.said.has("answer:price:all")) {
      return reply("question", "A price question naming no service: every price the profile has", true, {
        template: "answer:price:all",
        subject: subjectFor(request, "Prices"),
        text: joinSentences(...priced.map((s) => `${s.name}: ${priceOf(s)}${s.url ? ` (${s.url})` : ""}`)),
      });
    }
    return handOff(
      request,
      "question",
      `${aOrAn(first)} question the agent cannot place: for the creator`,
      nudge(request),
    );
  }
  const template = (topic: QuestionTopic) => `answer:${topic}:${key(service)}`;
  const fresh = topics.filter((topic) => !request.said.has(template(topic)));
  if (fresh.length === 0) {
    return nextStep(request, service, `Asked again about the ${topics.join(" and ")} of ${service.name}`, false);
  }
  const answered = fresh.flatMap((topic) => {
    const facts = factsAbout(service, topic);
    return facts ? [{ topic, facts }] : [];
  });
  if (answered.length === 0) {
    return handOff(
      request,
      "question",
      `The profile does not say the ${fresh.join(" or ")} of ${service.name}: for the creator`,
      nudge(request),
    );
  }
  const names = answered.map((a) => a.topic);
  const message = {
    template: names.map(template).join("|"),
    subject: subjectFor(request, TOPIC_SUBJECTS[names[0]](service.name)),
    text: joinSentences(
      // The service is named once: "1:1 Strategy Call is $120. It takes 1 hour."
      ...answered.map((a, i) =>
        i === 0
          ? a.facts
          : a.facts.replace(`${service.name} is `, "It's ").replace(`${service.name} takes `, "It takes "),
      ),
      !names.includes("link") && signUp(service),
    ),
  };
  const unknown = fresh.filter((topic) => !names.includes(topic));
  if (unknown.length > 0) {
    // What the profile says, and the rest to the creator, in one message.
    const rest = `The ${unknown.join(" and ")} of ${service.name}`;
    return {
      kind: "hand_off",
      rule: "question",
      reason: `${rest}: not in the profile, for the creator (the rest answered)`,
      notice: {
        ...message,
        template: `${message.template}|hand_off`,
        text: joinSentences(
          message.text,
          `I've asked ${request.profile.creatorName} about the ${unknown.join(" and ")}; you'll hear back here`,
        ),
      },
    };
  }
  return reply(
    "question",
    `${aOrAn(names.join(" and "))} question about ${service.name}: answered from the profile`,
    true,
    message,
  );
}

/** Subjects for the answer to an objection, about the service (null when the conversation names none). */
const OBJECTION_SUBJECTS: Record<ObjectionKind, (service: string | null) => string> = {
  price: (s) => (s ? `About the price of ${s}` : "About the price"),
  time: (s) => (s ? `Making time for ${s}` : "Finding the time"),
  fit: (s) => (s ? `Is ${s} right for you?` : "Is this right for you?"),
  trust: (s) => (s ? `What ${s} does for people` : "What it does for people"),
  later: () => "Whenever you're ready",
};

function objection(request: ReplyRequest, kind: ObjectionKind): ReplyPlan {
  const service = serviceOf(request);
  const template = `objection:${kind}`;
  // The profile's answer for that objection, unless it is about another service than this one
  // ("the Sprint pays for itself" is no answer when the call is too expensive).
  const entry = [
    ...request.profile.objectionHandling.filter((o) => objectionKindOf(o.objection) === kind),
    ...request.profile.objectionHandling.filter((o) => objectionKindOf(o.response) === kind),
  ].find((o) => {
    const about = serviceNamedIn(`${o.objection} ${o.response}`, request.profile.services);
    return !service || !about || about === service;
  });
  if (!entry && kind === "later") {
    // "Maybe later" is not a reason to offer something else.
    return request.said.has(template)
      ? { kind: "none", rule: "objection", reason: "Not now, said again: nothing more to say" }
      : reply("objection", "Not now: no pressure", false, {
          template,
          subject: subjectFor(request, OBJECTION_SUBJECTS.later(null)),
          text: `No rush${request.name ? `, ${request.name}` : ""}. Reply here whenever you're ready.`,
        });
  }
  if (!entry && kind !== "price") {
    // Doubts about fit or results the profile does not answer are the creator's, not a pitch's.
    return handOff(
      request,
      "objection",
      `${aOrAn(kind)} objection the profile has no answer for: for the creator`,
      nudge(request),
    );
  }
  if (!entry || request.said.has(template)) {
    return nextStep(
      request,
      service,
      entry ? `The ${kind} objection again` : `${aOrAn(kind)} objection the profile has no answer for`,
      kind === "price",
    );
  }
  const subject = OBJECTION_SUBJECTS[kind](service?.name ?? null);
  return reply("objection", `The ${kind} objection: the profile's answer`, true, {
    template,
    subject: subjectFor(request, subject),
    text: joinSentences(greeting(request.name), entry.response),
  });
}

/**
 * What follows an answer already given: another service not offered yet (a cheaper one after a
 * price objection), or, when there is none, the creator.
 */
function nextStep(request: ReplyRequest, current: ProfileService | null, why: string, cheaper: boolean): ReplyPlan {
  const candidates = request.profile.services.filter(
    (s) => s !== current && !request.said.has(`offer:${key(s)}`) && (s.url || s.price !== null),
  );
  const affordable = candidates
    .filter((s) => s.price !== null && (current?.price == null || s.price < current.price))
    .sort((a, b) => (a.price ?? 0) - (b.price ?? 0));
  const other = cheaper ? affordable[0] : (candidates[0] ?? null);
  if (!other)
    return handOff(request, "next_step", `${why}, and nothing else to offer: for the creator`, nudge(request));
  const intro = current ? `If ${current.name} isn't right for you now, ${other.name}` : other.name;
  return reply("next_step", `${why}: offer ${other.name} instead of repeating`, false, {
    template: `offer:${key(other)}`,
    subject: subjectFor(request, `Another option: ${other.name}`),
    text: joinSentences(
      `${intro} could be a good fit`,
      firstSentences(other.pitch || other.description, 1),
      priceOf(other) && `It's ${priceOf(other)}`,
      other.url && `More here: ${other.url}`,
    ),
  });
}

/** The service named by the template of a message the agent sent ("answer:price:career sprint"), if any. */
export function serviceOfTemplate(template: string, profile: ProfileSnapshot): ProfileService | null {
  // Names may hold colons themselves ("answer:price:1:1 strategy call"): match the whole ending.
  const lower = template.toLowerCase();
  return profile.services.find((s) => lower.endsWith(`:${key(s)}`)) ?? null;
}
