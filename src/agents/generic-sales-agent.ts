import type { Channel } from "../generated/prisma/enums.js";
import type { ObjectionResponse, ProfileService } from "../profiles/profile-content.js";
import { type AgentContext, type AgentEvent, BaseAgent, type Decision, type PlannedAction } from "./agent.js";

const MINUTE = 60_000;
/** Events that are the consumer talking to us: answering them is not spam, so spacing does not hold them back. */
const CONVERSATIONAL = new Set(["objection", "whatsapp_replied", "email_replied"]);
const STOP_WORDS = new Set([
  "that",
  "this",
  "with",
  "have",
  "your",
  "what",
  "about",
  "will",
  "just",
  "dont",
  "don't",
  "it's",
  "there",
  "they",
  "from",
  "much",
  "very",
  "really",
]);

function words(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^a-z0-9']+/)
      .filter((w) => w.length > 3 && !STOP_WORDS.has(w)),
  );
}

function firstSentences(text: string, count: number): string {
  const sentences = text
    .replace(/\s+/g, " ")
    .trim()
    .match(/[^.!?]+[.!?]+/g) ?? [text.trim()];
  return sentences
    .slice(0, count)
    .map((s) => s.trim())
    .join(" ");
}

function formatPrice(service: ProfileService): string {
  if (service.price === null) return "";
  const amount = service.currency
    ? new Intl.NumberFormat("en-US", {
        style: "currency",
        currency: service.currency,
        maximumFractionDigits: 2,
      }).format(service.price)
    : String(service.price);
  return ` It's ${amount}.`;
}

/**
 * The one sales agent every creator gets, configured by the creator's profile alone.
 * Playbook, first match wins: stop after opt-out; after a conversion only thank; answer an
 * objection with the profile's response; follow up repeated views of a service with its pitch;
 * welcome a newly interested consumer; and never message anyone more often than the spacing allows.
 */
export class GenericSalesAgent extends BaseAgent {
  shouldAct(ctx: AgentContext, event: AgentEvent): Decision {
    if (!this.profile) return this.skip("no_profile", "The creator has no active profile yet");
    if (this.stage(ctx) === "UNSUBSCRIBED" || event.type === "unsubscribed") {
      return this.skip("opted_out", "The consumer opted out: no more messages");
    }
    const channels = this.reachableChannels(ctx);
    if (channels.length === 0) {
      return this.skip("unreachable", "No channel with both consent and contact details");
    }
    if (event.type === "enrolled") {
      return this.alreadySent(ctx, "thank_you")
        ? this.skip("converted", "Already thanked for the enrolment")
        : this.act("thank_you", "The consumer enrolled: send a thank-you, and stop selling");
    }
    if (this.stage(ctx) === "CONVERTED") return this.skip("converted", "The consumer converted: no more selling");

    if (!CONVERSATIONAL.has(event.type)) {
      const hours = this.hoursSinceLastMessage(ctx);
      // A message already planned for later counts too (negative hours), unless spacing is off.
      if (this.tunables.minHoursBetweenMessages > 0 && hours < this.tunables.minHoursBetweenMessages) {
        return this.skip(
          "spacing",
          `Last message ${hours.toFixed(1)} h ago; at least ${this.tunables.minHoursBetweenMessages} h between messages`,
        );
      }
    }

    const objection = this.objectionIn(event);
    if (objection !== null) {
      const answer = this.matchObjection(objection);
      return answer
        ? this.act("objection", `The consumer raised "${answer.objection}": answer with the profile's response`)
        : this.skip("objection_unknown", "An objection the profile has no response for: left to the creator");
    }

    const service = this.viewedService(event);
    if (service) {
      const views = this.serviceViews(ctx, service.name);
      if (views >= this.tunables.serviceViewsForFollowUp && !this.alreadySent(ctx, `follow_up:${service.name}`)) {
        return this.act("service_follow_up", `${views} views of "${service.name}": follow up with its pitch`);
      }
    }

    if ((this.stage(ctx) === "INTERESTED" || this.stage(ctx) === "ENGAGED") && !this.alreadySent(ctx, "welcome")) {
      return this.act("welcome", "A newly interested consumer: welcome them");
    }
    return this.skip("nothing_to_do", "Nothing in the playbook applies to this event");
  }

  planActions(ctx: AgentContext, event: AgentEvent, decision: Decision): PlannedAction[] {
    const profile = this.profile;
    if (!profile) return [];
    const [channel] = this.reachableChannels(ctx) as [Channel];
    const name = this.firstName(ctx);
    const now = ctx.now.getTime();

    switch (decision.rule) {
      case "thank_you":
        return [
          this.message(
            ctx,
            channel,
            {
              template: "thank_you",
              subject: `Welcome aboard, ${name}!`,
              text: `Welcome aboard, ${name}! Thank you for joining ${profile.creatorName}. We're glad to have you, and we'll be in touch with everything you need to get started.`,
            },
            { sendAt: new Date(now), priority: 2 },
          ),
        ];
      case "objection": {
        const answer = this.matchObjection(this.objectionIn(event) ?? "") as ObjectionResponse;
        return [
          this.message(
            ctx,
            channel,
            {
              template: `objection:${answer.objection}`,
              subject: `About ${answer.objection.toLowerCase()}`,
              text: `Hi ${name}, ${answer.response}`,
            },
            { sendAt: new Date(now), priority: 1.5 },
          ),
        ];
      }
      case "service_follow_up": {
        const service = this.viewedService(event) as ProfileService;
        const pitch = service.pitch || service.description || firstSentences(profile.salesPitch, 1);
        const link = service.url ? ` More here: ${service.url}` : "";
        return [
          this.message(
            ctx,
            channel,
            {
              template: `follow_up:${service.name}`,
              subject: `${service.name}: is it right for you?`,
              text: `Hi ${name}, I noticed you've been looking at ${service.name}. ${pitch}${formatPrice(service)}${link} Happy to answer any questions.`,
            },
            { sendAt: new Date(now + 5 * MINUTE), priority: 1 },
          ),
        ];
      }
      case "welcome": {
        const value = profile.valuePropositions[0] ? ` ${profile.valuePropositions[0]}` : "";
        return [
          this.message(
            ctx,
            channel,
            {
              template: "welcome",
              subject: `Welcome from ${profile.creatorName}`,
              text: `Hi ${name}, thanks for checking out ${profile.creatorName}! ${firstSentences(profile.salesPitch, 2)}${value} Reply any time if you have questions.`,
            },
            { sendAt: new Date(now + this.tunables.welcomeDelayMinutes * MINUTE), priority: 0.8 },
          ),
        ];
      }
      default:
        return [];
    }
  }

  /** The objection the event carries: an explicit objection event, or a reply that reads like one. */
  private objectionIn(event: AgentEvent): string | null {
    if (event.type === "objection") return String(event.payload.objection ?? event.payload.text ?? "");
    if (event.type === "whatsapp_replied" || event.type === "email_replied") {
      const text = String(event.payload.text ?? "");
      return this.matchObjection(text) ? text : null;
    }
    return null;
  }

  /**
   * The profile's objection sharing the most meaningful words with the text; words of the
   * objection count double those of its response ("price" finds "Too expensive" through its answer).
   */
  private matchObjection(text: string): ObjectionResponse | null {
    const said = words(text);
    const shared = (source: string) =>
      [...words(source)].filter((w) => said.has(w) || said.has(w.replace(/s$/, ""))).length;
    let best: { entry: ObjectionResponse; score: number } | null = null;
    for (const entry of this.profile?.objectionHandling ?? []) {
      const score = 2 * shared(entry.objection) + shared(entry.response);
      if (score > 0 && (!best || score > best.score)) best = { entry, score };
    }
    return best?.entry ?? null;
  }

  /** The profile's service named by a page view or click, matched case-insensitively. */
  private viewedService(event: AgentEvent): ProfileService | null {
    if (event.type !== "page_view" && event.type !== "service_click") return null;
    const name = String(event.payload.service ?? "")
      .trim()
      .toLowerCase();
    if (!name) return null;
    return this.profile?.services.find((s) => s.name.toLowerCase() === name) ?? null;
  }
}
