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

export const CREATORS = "query OpsCreators { creators(first: 100) { edges { node { id name handle } } } }";

export const FEEDS = {
  decision: `subscription OpsDecisions($creatorId: ID) { agentDecisions(creatorId: $creatorId) { ${INVOCATION} } }`,
  invocation: `subscription OpsInvocations($creatorId: ID) { invocationUpdates(creatorId: $creatorId) { ${INVOCATION} } }`,
  action: `subscription OpsActions($creatorId: ID) { actionUpdates(creatorId: $creatorId) { ${ACTION} } }`,
  conversation: `subscription OpsConversations($creatorId: ID) { conversationUpdates(creatorId: $creatorId) { ${CONVERSATION} } }`,
};

const handedOff = (first) =>
  `conversations(first: ${first}, filter: { holder: [PERSON] }) { edges { node { ${CONVERSATION} } } }`;

/** One creator's handed-off conversations. */
export const CREATOR_HANDOFFS = `query OpsCreatorHandoffs($id: ID!) { node(id: $id) { ... on Creator { ${handedOff(50)} } } }`;

/**
 * Every creator's, for an admin watching the whole platform: a page of creators at a time, and
 * fewer conversations each, so that a page stays within the API's query complexity limit.
 */
export const ALL_HANDOFFS = `query OpsAllHandoffs($after: String) { creators(first: 20, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { ${handedOff(10)} } } } }`;

export const CONVERSATION_MESSAGES = `query OpsConversation($id: ID!) { node(id: $id) { ... on Conversation {
  ${CONVERSATION} customerServiceWindowEndsAt
  messages(last: 50) { edges { node { at direction text intent topic action { status sentBy } } } } } } }`;

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

/** The dead letters; WhatsApp callback items are the platform's (admin keys only). */
export const DEAD_LETTERS = `query OpsDeadLetters($callbacks: Boolean!) {
  failedEvents(first: 50) { edges { node { id type failedAt failureReason ${CONSUMER} } } }
  failedInvocations(first: 50) { edges { node { ${INVOCATION} } } }
  whatsAppCallbackItems(first: 50, outcome: [FAILED, UNROUTED]) @include(if: $callbacks) {
    edges { node { id kind from outcome reason attempts receivedAt creators { id } } } } }`;

/** The retry of each kind of dead letter, by the field that answers it. */
export const RETRIES = {
  retryEvent: `mutation OpsRetryEvent($id: ID!) { retryEvent(id: $id) { __typename ... on Event { id failedAt } ${ERROR} } }`,
  retryInvocation: `mutation OpsRetryInvocation($id: ID!) {
    retryInvocation(id: $id) { __typename ... on AgentInvocation { id status } ${ERROR} } }`,
  retryWhatsAppCallbackItem: `mutation OpsRetryCallback($id: ID!) {
    retryWhatsAppCallbackItem(id: $id) { __typename ... on WhatsAppCallbackItem { id outcome reason } ${ERROR} } }`,
};
