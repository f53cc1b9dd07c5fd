/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** PLANNED -> SENDING -> SENT or FAILED; CANCELLED and SKIPPED carry their reason in statusReason. */
export type ActionStatus =
  | 'CANCELLED'
  | 'FAILED'
  | 'PLANNED'
  | 'SENDING'
  | 'SENT'
  | 'SKIPPED';

export type Channel =
  | 'EMAIL'
  | 'WEBHOOK'
  | 'WHATSAPP';

export type ConsentInput = {
  channel: Channel;
  granted: boolean;
  /** How it was given, e.g. "signup_form". Defaults to "api". */
  source?: string | null | undefined;
};

export type ConsumerFilter = {
  /** The consumer with this email, compared as stored: trimmed and lower-cased. */
  email?: string | null | undefined;
  /** The consumer with this id in the creator's own systems. */
  externalId?: string | null | undefined;
  lastSeenAfter?: string | null | undefined;
  lastSeenBefore?: string | null | undefined;
  /** The consumer with this phone, in any international format ("+34 612 345 678"), compared as stored (E.164); or with 00 for the + ("0034 612 345 678"), or digits alone as WhatsApp gives them ("34612345678", a wa_id): the phone with a + before them, or the consumer's wa_id (WhatsApp's can differ from the phone's digits). */
  phone?: string | null | undefined;
  /** Any of these stages. */
  stage?: Array<Stage> | null | undefined;
};

/** Names the consumer: at least one of externalId, email, phone. Unknown consumers are created. */
export type ConsumerRefInput = {
  /** Merged into the context's attributes (at most 4 KiB). */
  attributes?: unknown;
  consents?: Array<ConsentInput> | null | undefined;
  email?: string | null | undefined;
  externalId?: string | null | undefined;
  name?: string | null | undefined;
  /** International format, e.g. +14155550123. */
  phone?: string | null | undefined;
  /** IANA zone, used for quiet hours. */
  timezone?: string | null | undefined;
};

/** Who answers: AGENT (the creator's sales agent), PERSON (handed off: the agent plans nothing in it until it is given back), CLOSED (the agent plans nothing in it; the consumer's next message reopens it to the agent). */
export type ConversationHolder =
  | 'AGENT'
  | 'CLOSED'
  | 'PERSON';

export type EventInput = {
  consumer: ConsumerRefInput;
  /** Same key and same body: answered with the first result. Same key, other body: a conflict. */
  idempotencyKey?: string | null | undefined;
  /** Defaults to now; at most 5 minutes ahead. */
  occurredAt?: string | null | undefined;
  /** A JSON object of at most 16 KiB. */
  payload?: unknown;
  type: string;
};

export type InvocationStatus =
  | 'COMPLETED'
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SKIPPED';

export type MessageSender =
  /** The creator's sales agent. */
  | 'AGENT'
  /** A person, through sendMessage. */
  | 'PERSON';

/** A creator's raw data. The profile is generated from bio, services, links, testimonials and notes. */
export type OnboardCreatorInput = {
  audienceNotes?: string | null | undefined;
  bio?: string | null | undefined;
  email?: string | null | undefined;
  /** Anything else: notes, a pasted page. */
  freeText?: string | null | undefined;
  /** An existing creator with this handle is onboarded again. */
  handle: string;
  links?: Array<string> | null | undefined;
  name: string;
  /** International format, e.g. +14155550123. */
  phone?: string | null | undefined;
  services?: Array<OnboardingServiceInput> | null | undefined;
  testimonials?: Array<string> | null | undefined;
  /** IANA zone; defaults to UTC. */
  timezone?: string | null | undefined;
};

export type OnboardingServiceInput = {
  /** ISO 4217, e.g. USD. */
  currency?: string | null | undefined;
  description?: string | null | undefined;
  durationMinutes?: number | null | undefined;
  name: string;
  price?: number | null | undefined;
  url?: string | null | undefined;
};

/** QUEUED, RUNNING, then SUCCEEDED (profile active, agent deployed), FAILED (see error) or NEEDS_REVIEW (the profile says what the raw data does not support, or the raw data holds instructions to the AI: stored inactive, see reviewReasons). */
export type OnboardingStatus =
  | 'FAILED'
  | 'NEEDS_REVIEW'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED';

export type OnboardingStepStatus =
  | 'FAILED'
  | 'STARTED'
  | 'SUCCEEDED';

/** Where a consumer stands: NEW < INTERESTED < ENGAGED < CONVERTED; LOST and UNSUBSCRIBED aside. */
export type Stage =
  | 'CONVERTED'
  | 'ENGAGED'
  | 'INTERESTED'
  | 'LOST'
  | 'NEW'
  | 'UNSUBSCRIBED';

/** What a timeline entry is. */
export type TimelineKind =
  /** An agent's run on one of their events: what it decided and why. */
  | 'DECISION'
  /** Something the consumer did or that happened to them (their messages included). */
  | 'EVENT'
  /** A message to them, the agent's or a person's, with its delivery status. */
  | 'MESSAGE';

type ClientError_ConflictError_Fragment = { code: string, message: string };

type ClientError_NotFoundError_Fragment = { code: string, message: string };

type ClientError_ValidationError_Fragment = { code: string, message: string, issues: Array<{ path: string, message: string }> };

export type ClientErrorFragment =
  | ClientError_ConflictError_Fragment
  | ClientError_NotFoundError_Fragment
  | ClientError_ValidationError_Fragment
;

export type IngestEventMutationVariables = Exact<{
  creatorId: string;
  event: EventInput;
}>;


export type IngestEventMutation = { ingestEvent:
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'IngestedEvent', duplicate: boolean, event: { id: string, type: string, occurredAt: string } }
    | { __typename: 'NotFoundError', code: string, message: string }
    | { __typename: 'ValidationError', code: string, message: string, issues: Array<{ path: string, message: string }> }
   };

export type OnboardCreatorMutationVariables = Exact<{
  input: OnboardCreatorInput;
}>;


export type OnboardCreatorMutation = { onboardCreator:
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'NotFoundError', code: string, message: string }
    | { __typename: 'Onboarding', id: string, status: OnboardingStatus, creator: { id: string, handle: string } }
    | { __typename: 'ValidationError', code: string, message: string, issues: Array<{ path: string, message: string }> }
   };

export type OnboardingQueryVariables = Exact<{
  id: string;
}>;


export type OnboardingQuery = { node:
    | { __typename: 'Action' }
    | { __typename: 'Agent' }
    | { __typename: 'AgentInvocation' }
    | { __typename: 'ApiKey' }
    | { __typename: 'AuditLog' }
    | { __typename: 'Consumer' }
    | { __typename: 'Conversation' }
    | { __typename: 'Creator' }
    | { __typename: 'CreatorProfile' }
    | { __typename: 'Event' }
    | { __typename: 'Onboarding', id: string, status: OnboardingStatus, error: string | null, reviewReasons: Array<string>, steps: Array<{ step: string, status: OnboardingStepStatus, message: string | null, durationMs: number | null }>, profile: { id: string, version: number, isActive: boolean } | null }
    | { __typename: 'WhatsAppCallbackItem' }
    | { __typename: 'WhatsAppTemplate' }
   | null };

export type FindConsumersQueryVariables = Exact<{
  creatorId: string;
  filter?: ConsumerFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type FindConsumersQuery = { node:
    | { __typename: 'Action' }
    | { __typename: 'Agent' }
    | { __typename: 'AgentInvocation' }
    | { __typename: 'ApiKey' }
    | { __typename: 'AuditLog' }
    | { __typename: 'Consumer' }
    | { __typename: 'Conversation' }
    | { __typename: 'Creator', consumers: { totalCount: number, edges: Array<{ cursor: string, node: { id: string, externalId: string | null, name: string | null, email: string | null, phone: string | null, context: { stage: Stage, lastSeenAt: string | null } | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } }
    | { __typename: 'CreatorProfile' }
    | { __typename: 'Event' }
    | { __typename: 'Onboarding' }
    | { __typename: 'WhatsAppCallbackItem' }
    | { __typename: 'WhatsAppTemplate' }
   | null };

export type ConsumerTimelineQueryVariables = Exact<{
  consumerId: string;
  first?: number | null | undefined;
  after?: string | null | undefined;
  kinds?: Array<TimelineKind> | TimelineKind | null | undefined;
}>;


export type ConsumerTimelineQuery = { node:
    | { __typename: 'Action' }
    | { __typename: 'Agent' }
    | { __typename: 'AgentInvocation' }
    | { __typename: 'ApiKey' }
    | { __typename: 'AuditLog' }
    | { __typename: 'Consumer', timeline: { edges: Array<{ cursor: string, node:
            | { __typename: 'Action', id: string, channel: Channel, statusReason: string | null, payload: unknown, sendAt: string, sentAt: string | null, actionStatus: ActionStatus }
            | { __typename: 'AgentInvocation', id: string, acted: boolean | null, reason: string | null, decision: unknown, invocationStatus: InvocationStatus }
            | { __typename: 'Event', id: string, type: string, payload: unknown, occurredAt: string }
           }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } }
    | { __typename: 'Conversation' }
    | { __typename: 'Creator' }
    | { __typename: 'CreatorProfile' }
    | { __typename: 'Event' }
    | { __typename: 'Onboarding' }
    | { __typename: 'WhatsAppCallbackItem' }
    | { __typename: 'WhatsAppTemplate' }
   | null };

export type HandedOffConversationsQueryVariables = Exact<{
  creatorId: string;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type HandedOffConversationsQuery = { node:
    | { __typename: 'Action' }
    | { __typename: 'Agent' }
    | { __typename: 'AgentInvocation' }
    | { __typename: 'ApiKey' }
    | { __typename: 'AuditLog' }
    | { __typename: 'Consumer' }
    | { __typename: 'Conversation' }
    | { __typename: 'Creator', conversations: { edges: Array<{ cursor: string, node: { id: string, channel: Channel, holder: ConversationHolder, holderReason: string | null, customerServiceWindowEndsAt: string | null, consumer: { id: string, name: string | null } } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } }
    | { __typename: 'CreatorProfile' }
    | { __typename: 'Event' }
    | { __typename: 'Onboarding' }
    | { __typename: 'WhatsAppCallbackItem' }
    | { __typename: 'WhatsAppTemplate' }
   | null };

export type SendMessageMutationVariables = Exact<{
  conversationId: string;
  text: string;
  subject?: string | null | undefined;
}>;


export type SendMessageMutation = { sendMessage:
    | { __typename: 'Action', id: string, status: ActionStatus }
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'NotFoundError', code: string, message: string }
    | { __typename: 'ValidationError', code: string, message: string, issues: Array<{ path: string, message: string }> }
   };

type ClientMessageOutcomes_ChannelPerformance_Fragment = { sent: number, delivered: number, read: number, replied: number, deliveredRate: number | null, readRate: number | null, replyRate: number | null, conversions: number, revenue: Array<{ currency: string, amount: number }> };

type ClientMessageOutcomes_MessageKindPerformance_Fragment = { sent: number, delivered: number, read: number, replied: number, deliveredRate: number | null, readRate: number | null, replyRate: number | null, conversions: number, revenue: Array<{ currency: string, amount: number }> };

export type ClientMessageOutcomesFragment =
  | ClientMessageOutcomes_ChannelPerformance_Fragment
  | ClientMessageOutcomes_MessageKindPerformance_Fragment
;

export type CreatorAnalyticsQueryVariables = Exact<{
  creatorId: string;
  from: string;
  to: string;
  attributionWindowHours?: number | null | undefined;
}>;


export type CreatorAnalyticsQuery = { node:
    | { __typename: 'Action' }
    | { __typename: 'Agent' }
    | { __typename: 'AgentInvocation' }
    | { __typename: 'ApiKey' }
    | { __typename: 'AuditLog' }
    | { __typename: 'Consumer' }
    | { __typename: 'Conversation' }
    | { __typename: 'Creator', analytics: { from: string, to: string, attributionWindowHours: number, funnel: { firstSeen: number, byStage: Array<{ stage: Stage, consumers: number }>, reachedAtLeast: Array<{ stage: Stage, consumers: number }> }, messages: Array<{ channel: Channel, status: ActionStatus, count: number }>, webhooks: Array<{ status: ActionStatus, count: number }>, channels: Array<{ channel: Channel, sent: number, delivered: number, read: number, replied: number, deliveredRate: number | null, readRate: number | null, replyRate: number | null, conversions: number, revenue: Array<{ currency: string, amount: number }> }>, conversions: { count: number, attributed: number, withoutRevenue: number, revenue: Array<{ currency: string, amount: number }>, attributedRevenue: Array<{ currency: string, amount: number }> }, byMessageKind: Array<{ sender: MessageSender, channel: Channel, rule: string | null, template: string | null, whatsAppTemplate: string | null, sent: number, delivered: number, read: number, replied: number, deliveredRate: number | null, readRate: number | null, replyRate: number | null, conversions: number, revenue: Array<{ currency: string, amount: number }> }> } }
    | { __typename: 'CreatorProfile' }
    | { __typename: 'Event' }
    | { __typename: 'Onboarding' }
    | { __typename: 'WhatsAppCallbackItem' }
    | { __typename: 'WhatsAppTemplate' }
   | null };

export type AgentDecisionsSubscriptionVariables = Exact<{
  creatorId?: string | null | undefined;
}>;


export type AgentDecisionsSubscription = { agentDecisions: { id: string, status: InvocationStatus, acted: boolean | null, reason: string | null, decision: unknown, event: { id: string, type: string } } | null };

export const ClientErrorFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ClientError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"issues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<ClientErrorFragment, unknown>;
export const ClientMessageOutcomesFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ClientMessageOutcomes"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MessageOutcomes"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sent"}},{"kind":"Field","name":{"kind":"Name","value":"delivered"}},{"kind":"Field","name":{"kind":"Name","value":"read"}},{"kind":"Field","name":{"kind":"Name","value":"replied"}},{"kind":"Field","name":{"kind":"Name","value":"deliveredRate"}},{"kind":"Field","name":{"kind":"Name","value":"readRate"}},{"kind":"Field","name":{"kind":"Name","value":"replyRate"}},{"kind":"Field","name":{"kind":"Name","value":"conversions"}},{"kind":"Field","name":{"kind":"Name","value":"revenue"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"currency"}},{"kind":"Field","name":{"kind":"Name","value":"amount"}}]}}]}}]} as unknown as DocumentNode<ClientMessageOutcomesFragment, unknown>;
export const IngestEventDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"IngestEvent"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"event"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"EventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"ingestEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"creatorId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}}},{"kind":"Argument","name":{"kind":"Name","value":"event"},"value":{"kind":"Variable","name":{"kind":"Name","value":"event"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IngestedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"duplicate"}},{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}}]}}]}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ClientError"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ClientError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"issues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<IngestEventMutation, IngestEventMutationVariables>;
export const OnboardCreatorDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"OnboardCreator"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"OnboardCreatorInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"onboardCreator"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Onboarding"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"creator"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"handle"}}]}}]}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ClientError"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ClientError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"issues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<OnboardCreatorMutation, OnboardCreatorMutationVariables>;
export const OnboardingDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Onboarding"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Onboarding"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"reviewReasons"}},{"kind":"Field","name":{"kind":"Name","value":"steps"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"step"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"durationMs"}}]}},{"kind":"Field","name":{"kind":"Name","value":"profile"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"isActive"}}]}}]}}]}}]}}]} as unknown as DocumentNode<OnboardingQuery, OnboardingQueryVariables>;
export const FindConsumersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"FindConsumers"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ConsumerFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}},"defaultValue":{"kind":"IntValue","value":"20"}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Creator"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"consumers"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"phone"}},{"kind":"Field","name":{"kind":"Name","value":"context"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"stage"}},{"kind":"Field","name":{"kind":"Name","value":"lastSeenAt"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<FindConsumersQuery, FindConsumersQueryVariables>;
export const ConsumerTimelineDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ConsumerTimeline"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"consumerId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}},"defaultValue":{"kind":"IntValue","value":"50"}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"kinds"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"TimelineKind"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"consumerId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Consumer"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"timeline"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"kinds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"kinds"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Event"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"payload"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"AgentInvocation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","alias":{"kind":"Name","value":"invocationStatus"},"name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"acted"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"decision"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Action"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"channel"}},{"kind":"Field","alias":{"kind":"Name","value":"actionStatus"},"name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"statusReason"}},{"kind":"Field","name":{"kind":"Name","value":"payload"}},{"kind":"Field","name":{"kind":"Name","value":"sendAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<ConsumerTimelineQuery, ConsumerTimelineQueryVariables>;
export const HandedOffConversationsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"HandedOffConversations"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}},"defaultValue":{"kind":"IntValue","value":"20"}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Creator"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"conversations"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"holder"},"value":{"kind":"EnumValue","value":"PERSON"}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"channel"}},{"kind":"Field","name":{"kind":"Name","value":"holder"}},{"kind":"Field","name":{"kind":"Name","value":"holderReason"}},{"kind":"Field","name":{"kind":"Name","value":"customerServiceWindowEndsAt"}},{"kind":"Field","name":{"kind":"Name","value":"consumer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<HandedOffConversationsQuery, HandedOffConversationsQueryVariables>;
export const SendMessageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SendMessage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"conversationId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"text"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"subject"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sendMessage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"conversationId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"conversationId"}}},{"kind":"Argument","name":{"kind":"Name","value":"text"},"value":{"kind":"Variable","name":{"kind":"Name","value":"text"}}},{"kind":"Argument","name":{"kind":"Name","value":"subject"},"value":{"kind":"Variable","name":{"kind":"Name","value":"subject"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Action"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ClientError"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ClientError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"issues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<SendMessageMutation, SendMessageMutationVariables>;
export const CreatorAnalyticsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CreatorAnalytics"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"from"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTime"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"to"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTime"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"attributionWindowHours"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}},"defaultValue":{"kind":"IntValue","value":"168"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Creator"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"analytics"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"from"},"value":{"kind":"Variable","name":{"kind":"Name","value":"from"}}},{"kind":"Argument","name":{"kind":"Name","value":"to"},"value":{"kind":"Variable","name":{"kind":"Name","value":"to"}}},{"kind":"Argument","name":{"kind":"Name","value":"attributionWindowHours"},"value":{"kind":"Variable","name":{"kind":"Name","value":"attributionWindowHours"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"from"}},{"kind":"Field","name":{"kind":"Name","value":"to"}},{"kind":"Field","name":{"kind":"Name","value":"attributionWindowHours"}},{"kind":"Field","name":{"kind":"Name","value":"funnel"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"firstSeen"}},{"kind":"Field","name":{"kind":"Name","value":"byStage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"stage"}},{"kind":"Field","name":{"kind":"Name","value":"consumers"}}]}},{"kind":"Field","name":{"kind":"Name","value":"reachedAtLeast"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"stage"}},{"kind":"Field","name":{"kind":"Name","value":"consumers"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"messages"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"channel"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"count"}}]}},{"kind":"Field","name":{"kind":"Name","value":"webhooks"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"count"}}]}},{"kind":"Field","name":{"kind":"Name","value":"channels"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"channel"}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ClientMessageOutcomes"}}]}},{"kind":"Field","name":{"kind":"Name","value":"conversions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"count"}},{"kind":"Field","name":{"kind":"Name","value":"attributed"}},{"kind":"Field","name":{"kind":"Name","value":"withoutRevenue"}},{"kind":"Field","name":{"kind":"Name","value":"revenue"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"currency"}},{"kind":"Field","name":{"kind":"Name","value":"amount"}}]}},{"kind":"Field","name":{"kind":"Name","value":"attributedRevenue"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"currency"}},{"kind":"Field","name":{"kind":"Name","value":"amount"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"byMessageKind"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sender"}},{"kind":"Field","name":{"kind":"Name","value":"channel"}},{"kind":"Field","name":{"kind":"Name","value":"rule"}},{"kind":"Field","name":{"kind":"Name","value":"template"}},{"kind":"Field","name":{"kind":"Name","value":"whatsAppTemplate"}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ClientMessageOutcomes"}}]}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ClientMessageOutcomes"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MessageOutcomes"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sent"}},{"kind":"Field","name":{"kind":"Name","value":"delivered"}},{"kind":"Field","name":{"kind":"Name","value":"read"}},{"kind":"Field","name":{"kind":"Name","value":"replied"}},{"kind":"Field","name":{"kind":"Name","value":"deliveredRate"}},{"kind":"Field","name":{"kind":"Name","value":"readRate"}},{"kind":"Field","name":{"kind":"Name","value":"replyRate"}},{"kind":"Field","name":{"kind":"Name","value":"conversions"}},{"kind":"Field","name":{"kind":"Name","value":"revenue"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"currency"}},{"kind":"Field","name":{"kind":"Name","value":"amount"}}]}}]}}]} as unknown as DocumentNode<CreatorAnalyticsQuery, CreatorAnalyticsQueryVariables>;
export const AgentDecisionsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"AgentDecisions"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"agentDecisions"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"creatorId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"creatorId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"acted"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"decision"}},{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"type"}}]}}]}}]}}]} as unknown as DocumentNode<AgentDecisionsSubscription, AgentDecisionsSubscriptionVariables>;