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
      "The consumer bought or enrolled; payload.service names what, payload.amount (major units) and payload.currency (ISO 4217) what was paid, for the analytics.",
  },
  unsubscribed: {
    stage: "UNSUBSCRIBED",
    description: "The consumer asked for no more messages; payload.channel limits it to one channel.",
  },
  lost: { stage: "LOST", description: "The creator marked the consumer as lost." },
} as const satisfies Record<string, EventEffect>;

export const CUSTOM_EVENT_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;

export function eventEffect(type: string): EventEffect {
  return (KNOWN_EVENT_TYPES as Record<string, EventEffect>)[type] ?? { stage: "NEW", description: "custom" };
}

/** The context counter of one service's views and clicks: names are matched case-insensitively. */
export function serviceCounterKey(service: string): string {
  return `service:${service.trim().toLowerCase().slice(0, 100)}`;
}
