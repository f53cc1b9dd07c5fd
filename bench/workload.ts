// The events the bench sends. Ingestion: page views spread round-robin over a fixed population
// of consumers (the first pass creates them, later passes find them), the same for Closer and
// the baseline. Agent runs: reachable consumers (WhatsApp consent and a phone number), so the
// agent acts on some events (a welcome message, as the creator's approved WhatsApp template) and
// skips others (spacing).

export type BenchEvent = {
  consumer: {
    externalId: string;
    email?: string;
    phone?: string;
    consents?: { channel: "WHATSAPP"; granted: boolean; source: string }[];
  };
  type: string;
  payload?: Record<string, unknown>;
};

export const INGEST_CONSUMERS = 5_000;

export function ingestionEvent(i: number): BenchEvent {
  return {
    consumer: { externalId: `c${i % INGEST_CONSUMERS}` },
    type: "page_view",
    payload: { url: "/pricing", service: "Leadership Sprint" },
  };
}

/**
 * A page view by consumer `n` of a creator. Its phone number comes from `n` alone, and the
 * identity rules make one person of one phone number: distinct people need distinct `n`
 * (the prefix only names them).
 */
export function agentEvent(prefix: string, n: number): BenchEvent {
  return {
    consumer: {
      externalId: `${prefix}${n}`,
      email: `${prefix}${n}@example.com`,
      phone: `+1415${String(5_000_000 + n).padStart(7, "0")}`,
      consents: [{ channel: "WHATSAPP", granted: true, source: "signup_form" }],
    },
    type: "page_view",
    payload: { url: "/sprint", service: "Leadership Sprint" },
  };
}

/**
 * The soak's events: every 500 events a fresh group of 100 consumers, each seen 5 times spread
 * over its group, so new consumers keep arriving (each gets a welcome, the rest of their events
 * are skipped for spacing) at a fifth of the event rate for as long as the soak lasts.
 */
export const soakEvent = (i: number) => agentEvent("s", Math.floor(i / 500) * 100 + (i % 100));

/** Deploys the generic sales agent on the creator's active profile. */
export const DEPLOY_AGENT = `mutation BenchDeployAgent($input: DeployAgentInput!) {
  deployAgent(input: $input) {
    __typename
    ... on Agent { id kind runtime status }
    ... on Error { code message }
  }
}`;

/** What a client asks back: the stored event and the consumer's updated context. */
export const INGEST_EVENT = `mutation BenchIngestEvent($creatorId: ID!, $event: EventInput!) {
  ingestEvent(creatorId: $creatorId, event: $event) {
    __typename
    ... on IngestedEvent { duplicate event { id } context { stage eventCount } }
    ... on Error { code message }
  }
}`;

export const INGEST_EVENTS = `mutation BenchIngestEvents($creatorId: ID!, $events: [EventInput!]!) {
  ingestEvents(creatorId: $creatorId, events: $events) {
    __typename
    ... on IngestedEvents { results { duplicate event { id } context { stage eventCount } } }
    ... on Error { code message }
  }
}`;

export const AGENT_DECISIONS = `subscription BenchAgentDecisions($creatorId: ID) {
  agentDecisions(creatorId: $creatorId) { id status acted event { id } }
}`;
