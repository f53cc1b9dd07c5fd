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
        context {
          stage
          eventCount
          pageViews
          serviceClicks
          counters
        }
      }
      ... on Error {
        code
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
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
          context {
            eventCount
          }
        }
      }
      ... on Error {
        code
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
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
