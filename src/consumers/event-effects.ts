import type { Stage } from "../generated/prisma/enums.js";

/** The context columns an event can increment. */
export type CounterColumn = "pageViews" | "serviceClicks" | "emailsOpened" | "whatsappReplied" | "objections";

type EventEffect = {
  /** The stage this event moves a consumer towards (see consumers/stage.ts); NEW means none. */
  stage: Stage;
  counter?: CounterColumn;
  enrolled?: true;
  description: string;
};

/**
 * Event types Closer understands. Any other type matching CUSTOM_EVENT_TYPE is accepted as a
 * custom event: stored, counted under its name in the context's counters, and shown to agents.
 */
export const KNOWN_EVENT_TYPES = {
  page_view: {
    stage: "INTERESTED",
    counter: "pageViews",
    description: "A page of the creator's site was viewed; payload.service names the service page, if any.",
  },
  service_click: {
    stage: "ENGAGED",
    counter: "serviceClicks",
    description: "A service was clicked; payload.service names it.",
  },
  email_delivered: { stage: "NEW", description: "An email reached the consumer's mailbox." },
  email_opened: { stage: "INTERESTED", counter: "emailsOpened", description: "An email was opened." },
  email_clicked: { stage: "ENGAGED", description: "A link in an email was clicked." },
  email_replied: { stage: "ENGAGED", description: "The consumer answered an email." },
  email_bounced: { stage: "NEW", description: "An email could not be delivered." },
  whatsapp_delivered: { stage: "NEW", description: "A WhatsApp message was delivered." },
  whatsapp_read: { stage: "INTERESTED", description: "A WhatsApp message was read." },
  whatsapp_replied: {
    stage: "ENGAGED",
    counter: "whatsappReplied",
    description: "The consumer answered on WhatsApp; payload.text holds the reply.",
  },
  objection: {
    stage: "ENGAGED",
    counter: "objections",
    description: "The consumer raised an objection; payload.objection says which (e.g. price, time).",
  },
  enrolled: {
    stage: "CONVERTED",
    enrolled: true,
    description:
      "The consumer bought or enrolled; payload.service names what, payload.amount (a number from 0 to 1000000000, major units) and payload.currency (ISO 4217) what was paid, for the analytics.",
  },
  unsubscribed: {
    stage: "UNSUBSCRIBED",
    description: "The consumer asked for no more messages; payload.channel limits it to one channel.",
  },
  lost: { stage: "LOST", description: "The creator marked the consumer as lost." },
} as const satisfies Record<string, EventEffect>;

export const CUSTOM_EVENT_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;

/**
 * The largest `payload.amount` an `enrolled` event may carry, in major units of its currency: a
 * billion, above any one sale, and far enough below a double's limit (1.8e308) that the
 * analytics' sums of them stay finite. Checked at ingestion; the analytics ignore stored amounts
 * outside 0..this, and listed prices outside it.
 */
export const MAX_ENROLMENT_AMOUNT = 1_000_000_000;

/**
 * Event types a publishable ingest key may not send, each with why: the key sits in web pages,
 * where anyone can read it, so it may send only what a visitor does there (page_view,
 * service_click, objection, unsubscribed, custom events). These are facts a page cannot know:
 * a sale, or what became of a message Closer sent, recorded by Closer itself (the scheduler, the
 * WhatsApp callbacks) or by the creator's server (a payment or email provider's webhook) with a
 * creator key. Sent from a page they would forge revenue, delivery and reply rates, or a
 * consumer's message for the agent to answer.
 */
export const SERVER_ONLY_EVENT_TYPES: Readonly<Record<string, string>> = {
  enrolled: "a sale, and the money it brought into the creator's revenue",
  email_delivered: "the SMTP server's acceptance of a message Closer sent",
  email_bounced: "a message Closer sent that could not be delivered",
  email_opened: "an open of a message Closer sent, from the creator's email tracking",
  email_clicked: "a click in a message Closer sent, from the creator's email tracking",
  email_replied: "the consumer's email, which the agent answers",
  whatsapp_delivered: "WhatsApp's status callback for a message Closer sent",
  whatsapp_read: "WhatsApp's status callback for a message Closer sent",
  whatsapp_failed: "WhatsApp's status callback for a message Closer sent",
  whatsapp_replied: "the consumer's WhatsApp message, which the agent answers",
  lost: "the creator's own judgement that a consumer is lost",
};

export function eventEffect(type: string): EventEffect {
  return (KNOWN_EVENT_TYPES as Record<string, EventEffect>)[type] ?? { stage: "NEW", description: "custom" };
}

/** The context counter of one service's views and clicks: names are matched case-insensitively. */
export function serviceCounterKey(service: string): string {
  return `service:${service.trim().toLowerCase().slice(0, 100)}`;
}
