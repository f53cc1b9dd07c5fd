import { expect } from "vitest";
import { makeActiveProfile, makeCreator } from "../../scripts/fixtures.js";
import { graphql } from "../generated/gql.js";
import type { DeployAgentInput } from "../generated/graphql.js";
import type { TestApi } from "./api.js";

// Operations several test files send, and the steps made of them that several files take.

export const DeployAgent = graphql(`
  mutation DeployAgent($input: DeployAgentInput!) {
    deployAgent(input: $input) {
      __typename
      ... on Agent {
        id
        kind
        runtime
        status
        config
      }
      ...ErrorFields
    }
  }
`);

export const RevokeApiKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      __typename
      ... on ApiKey {
        revokedAt
      }
      ...ErrorFields
    }
  }
`);

/** What a landing page sends with its publishable ingest key: it learns ids and the duplicate flag only. */
export const IngestEvent = graphql(`
  mutation IngestEvent($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ...Ingested
      ...ErrorFields
    }
  }
`);

/** The same with the consumer's context in the answer: creator and admin keys only. */
export const IngestEventWithContext = graphql(`
  mutation IngestEventWithContext($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ...Ingested
      ... on IngestedEvent {
        context {
          stage
          eventCount
          pageViews
          serviceClicks
          counters
        }
      }
      ...ErrorFields
    }
  }
`);

export const IngestEvents = graphql(`
  mutation IngestEvents($creatorId: ID!, $events: [EventInput!]!) {
    ingestEvents(creatorId: $creatorId, events: $events) {
      __typename
      ... on IngestedEvents {
        results {
          ...Ingested
        }
      }
      ...ErrorFields
    }
  }
`);

export const IngestEventsWithContext = graphql(`
  mutation IngestEventsWithContext($creatorId: ID!, $events: [EventInput!]!) {
    ingestEvents(creatorId: $creatorId, events: $events) {
      __typename
      ... on IngestedEvents {
        results {
          ...Ingested
          context {
            eventCount
          }
        }
      }
      ...ErrorFields
    }
  }
`);

/** What an ingested event answers to any key: its id and type, and whether it was a replay. */
export const Ingested = graphql(`
  fragment Ingested on IngestedEvent {
    duplicate
    event {
      id
      type
    }
  }
`);

/** What every error result answers: its code and message, and for a validation error the issues. */
export const ErrorFields = graphql(`
  fragment ErrorFields on Error {
    code
    message
    ... on ValidationError {
      issues {
        path
        message
      }
    }
  }
`);

export const AgentDecisions = graphql(`
  subscription AgentDecisions($creatorId: ID) {
    agentDecisions(creatorId: $creatorId) {
      id
      status
      acted
      reason
      decision
      event {
        id
        type
      }
      actions {
        channel
        payload
        sendAt
        priority
        status
      }
    }
  }
`);

/**
 * A creator with an active profile and an agent deployed over the API: the generic sales agent on
 * the SIMPLE runtime unless `input` says otherwise. Answers the creator and the agent's id.
 */
export async function creatorWithAgent(api: TestApi, input: Omit<DeployAgentInput, "creatorId"> = {}) {
  const made = await makeCreator();
  await makeActiveProfile(made.creator.id);
  const deployed = await api.request(DeployAgent, { input: { creatorId: made.gid, ...input } }, made.creatorKey);
  const agent = deployed.data?.deployAgent;
  expect(agent).toMatchObject({ __typename: "Agent", kind: "generic_sales", runtime: input.runtime ?? "SIMPLE" });
  return { ...made, agentId: (agent as { id: string }).id };
}

/** One page_view of the consumer, sent with the creator's ingest key; answers the stored event, or throws. */
export async function ingestPageView(api: TestApi, owner: { gid: string; ingestKey: string }, externalId: string) {
  const response = await api.request(
    IngestEvent,
    { creatorId: owner.gid, event: { consumer: { externalId }, type: "page_view" } },
    owner.ingestKey,
  );
  const ingested = response.data?.ingestEvent;
  if (ingested?.__typename !== "IngestedEvent") throw new Error(`not ingested: ${JSON.stringify(response)}`);
  return ingested.event;
}
