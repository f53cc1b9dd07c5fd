import { graphql } from "../generated/gql.js";

// Operations several test files send.

export const DeployAgent = graphql(`
  mutation DeployAgent($input: DeployAgentInput!) {
    deployAgent(input: $input) {
      __typename
      ... on Agent {
        id
        kind
        runtime
        status
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

/** What a landing page sends with its publishable ingest key: it learns ids and the duplicate flag only. */
export const IngestEvent = graphql(`
  mutation IngestEvent($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on IngestedEvent {
        duplicate
        event {
          id
          type
        }
      }
      ...IngestErrors
    }
  }
`);

/** The same with the consumer's context in the answer: creator and admin keys only. */
export const IngestEventWithContext = graphql(`
  mutation IngestEventWithContext($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on IngestedEvent {
        duplicate
        event {
          id
          type
        }
        context {
          stage
          eventCount
          pageViews
          serviceClicks
          counters
        }
      }
      ...IngestErrors
    }
  }
`);

export const IngestEvents = graphql(`
  mutation IngestEvents($creatorId: ID!, $events: [EventInput!]!) {
    ingestEvents(creatorId: $creatorId, events: $events) {
      __typename
      ... on IngestedEvents {
        results {
          duplicate
          event {
            id
          }
        }
      }
      ...IngestErrors
    }
  }
`);

export const IngestEventsWithContext = graphql(`
  mutation IngestEventsWithContext($creatorId: ID!, $events: [EventInput!]!) {
    ingestEvents(creatorId: $creatorId, events: $events) {
      __typename
      ... on IngestedEvents {
        results {
          duplicate
          event {
            id
          }
          context {
            eventCount
          }
        }
      }
      ...IngestErrors
    }
  }
`);

export const IngestErrors = graphql(`
  fragment IngestErrors on Error {
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
