// The GraphQL documents the console sends: plain strings over the public schema (schema.graphql),
// nothing the console could do that another client could not.

const ERROR = "... on Error { code message ... on ValidationError { issues { path message } } }";
const CONSUMER = "consumer { id name externalId creator { id name } }";

const INVOCATION = `id status acted reason error attempts queuedAt finishedAt
  agent { name creator { id name } }
  event { id type consumer { id name externalId } }
  actions { channel status }`;
const ACTION = `id channel status statusReason sendAt sentBy payload updatedAt ${CONSUMER}`;
const CONVERSATION = `id channel holder holderReason updatedAt lastInboundAt ${CONSUMER}`;

export const VIEWER = "query OpsViewer { viewer { kind apiKey { name prefix } creator { id name handle } } }";

/** Creators for an admin's picker, a page at a time: `totalCount` says how many are not loaded yet. */
export const CREATORS = `query OpsCreators($after: String) { creators(first: 100, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id name handle } } } }`;

export const FEEDS = {
  decision: `subscription OpsDecisions($creatorId: ID) { agentDecisions(creatorId: $creatorId) { ${INVOCATION} } }`,
  invocation: `subscription OpsInvocations($creatorId: ID) { invocationUpdates(creatorId: $creatorId) { ${INVOCATION} } }`,
  action: `subscription OpsActions($creatorId: ID) { actionUpdates(creatorId: $creatorId) { ${ACTION} } }`,
  conversation: `subscription OpsConversations($creatorId: ID) { conversationUpdates(creatorId: $creatorId) { ${CONVERSATION} } }`,
};

const handedOff = (first) => `conversations(first: ${first}, after: $after, filter: { holder: [PERSON] }) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { ${CONVERSATION} } } }`;

/** A page of one creator's handed-off conversations, with how many there are in all. */
export const CREATOR_HANDOFFS = `query OpsCreatorHandoffs($id: ID!, $after: String) {
  node(id: $id) { ... on Creator { id ${handedOff(50)} } } }`;

/**
 * How many conversations wait for a person at each creator, a page of creators at a time, for an
 * admin watching the whole platform: a count costs little, so a page holds many creators; the
 * conversations themselves are then read for the creators that have some (OpsCreatorHandoffs).
 */
export const HANDOFF_COUNTS = `query OpsHandoffCounts($after: String) { creators(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { node { id conversations(first: 1, filter: { holder: [PERSON] }) { totalCount } } } } }`;

/** The first page of hand-offs of a batch of creators (those HANDOFF_COUNTS found some at). */
export const HANDOFFS_OF_CREATORS = `query OpsHandoffsOfCreators($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Creator { id conversations(first: 10, filter: { holder: [PERSON] }) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { ${CONVERSATION} } } } } } }`;

export const CONVERSATION_MESSAGES = `query OpsConversation($id: ID!) { node(id: $id) { ... on Conversation {
  ${CONVERSATION} customerServiceWindowEndsAt
  messages(last: 50) { totalCount edges { node { at direction text intent topic action { id status sentBy } } } } } } }`;

/**
 * The messages of a consumer on a channel not sent yet (a person's answer is a conversation
 * message only once sent): shown after the conversation's messages, with their status.
 */
/**
 * A conversation's messages not sent (yet): those planned or being sent, and those that will not
 * go (skipped, failed, cancelled), whose reason the page shows for a person's own answers.
 */
export const UNSENT_MESSAGES = `query OpsUnsentMessages($creatorId: ID!, $consumerId: ID!, $channel: Channel!) {
  node(id: $creatorId) { ... on Creator {
    pending: actions(first: 20, filter: { consumerId: $consumerId, channel: [$channel], status: [PLANNED, SENDING] }) {
      edges { node { id status statusReason sendAt createdAt sentBy payload } } }
    stopped: actions(first: 20, filter: { consumerId: $consumerId, channel: [$channel], status: [SKIPPED, FAILED, CANCELLED] }) {
      edges { node { id status statusReason sendAt createdAt sentBy payload } } } } } }`;

export const SEND_MESSAGE = `mutation OpsSendMessage($id: ID!, $text: String!, $subject: String) {
  sendMessage(conversationId: $id, text: $text, subject: $subject) { __typename ... on Action { id status } ${ERROR} } }`;

export const RETURN_TO_AGENT = `mutation OpsReturnToAgent($id: ID!) {
  returnConversationToAgent(id: $id) { __typename ... on Conversation { id holder } ${ERROR} } }`;

/** A consumer's timeline; the two statuses are of different enums, so each has its alias. */
export const TIMELINE = `query OpsTimeline($id: ID!, $after: String) { node(id: $id) { ... on Consumer {
  id name externalId email phone creator { name }
  timeline(first: 20, after: $after) {
    edges { node { __typename
      ... on Event { id type occurredAt payload }
      ... on AgentInvocation { id runStatus: status acted reason queuedAt agent { name } }
      ... on Action { id channel sendStatus: status statusReason sendAt createdAt sentBy payload } } }
    pageInfo { hasNextPage endCursor } } } } }`;

const DEAD_EVENT = `id type failedAt failureReason ${CONSUMER}`;
const DEAD_CALLBACK = "id kind from outcome reason attempts receivedAt creators { id }";
const PAGE = "pageInfo { hasNextPage endCursor }";

/** The dead letters, a page of each kind; WhatsApp callback items are the platform's (admin keys only). */
export const DEAD_LETTERS = `query OpsDeadLetters($callbacks: Boolean!) {
  failedEvents(first: 50) { ${PAGE} edges { node { ${DEAD_EVENT} } } }
  failedInvocations(first: 50) { ${PAGE} edges { node { ${INVOCATION} } } }
  whatsAppCallbackItems(first: 50, outcome: [FAILED, UNROUTED]) @include(if: $callbacks) {
    ${PAGE} edges { node { ${DEAD_CALLBACK} } } } }`;

/** The next page of one kind of dead letter, by the field that lists it. */
export const MORE_DEAD_LETTERS = {
  failedEvents: `query OpsMoreFailedEvents($after: String) {
    failedEvents(first: 50, after: $after) { ${PAGE} edges { node { ${DEAD_EVENT} } } } }`,
  failedInvocations: `query OpsMoreFailedInvocations($after: String) {
    failedInvocations(first: 50, after: $after) { ${PAGE} edges { node { ${INVOCATION} } } } }`,
  whatsAppCallbackItems: `query OpsMoreCallbackItems($after: String) {
    whatsAppCallbackItems(first: 50, after: $after, outcome: [FAILED, UNROUTED]) { ${PAGE} edges { node { ${DEAD_CALLBACK} } } } }`,
};

/** The retry of each kind of dead letter, by the field that answers it. */
export const RETRIES = {
  retryEvent: `mutation OpsRetryEvent($id: ID!) { retryEvent(id: $id) { __typename ... on Event { id failedAt } ${ERROR} } }`,
  retryInvocation: `mutation OpsRetryInvocation($id: ID!) {
    retryInvocation(id: $id) { __typename ... on AgentInvocation { id status } ${ERROR} } }`,
  retryWhatsAppCallbackItem: `mutation OpsRetryCallback($id: ID!) {
    retryWhatsAppCallbackItem(id: $id) { __typename ... on WhatsAppCallbackItem { id outcome reason } ${ERROR} } }`,
};
