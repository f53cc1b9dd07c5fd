import { ApiError, createApi, describeError, resultOf } from "./api.js";
import { brief, fill, h, when } from "./dom.js";
import {
  CONVERSATION_MESSAGES,
  CREATOR_HANDOFFS,
  CREATORS,
  DEAD_LETTERS,
  FEEDS,
  HANDOFF_COUNTS,
  HANDOFFS_OF_CREATORS,
  MORE_DEAD_LETTERS,
  RETRIES,
  RETURN_TO_AGENT,
  SEND_MESSAGE,
  TIMELINE,
  UNSENT_MESSAGES,
  VIEWER,
} from "./queries.js";

// The ops console: one key, four live feeds over one socket, and the panels an operator acts from.
// The key is kept in sessionStorage (gone with the tab, never in a URL or a cookie) so a reload
// reconnects; a key the API refuses (revoked while the page is open) is forgotten at once.

const KEY_STORAGE = "closer.ops.key";
/** Rows kept in the feed: an open console must not grow without end. */
const FEED_LIMIT = 500;
const STATUSES = [
  "QUEUED",
  "RUNNING",
  "COMPLETED",
  "SKIPPED",
  "FAILED",
  "PLANNED",
  "SENDING",
  "SENT",
  "CANCELLED",
  "AGENT",
  "PERSON",
  "CLOSED",
];

const $ = (id) => document.getElementById(id);

/** Creators per batch whose hand-offs an admin's "All creators" view reads at once (OpsHandoffsOfCreators). */
const HANDOFF_BATCH = 20;

const state = {
  api: null,
  viewer: null,
  /** The creator watched, by global id; "" for every creator (admin keys). */
  creatorId: "",
  creatorNames: new Map(),
  /** The admin's creator picker: how many creators there are, and where its next page starts. */
  creators: { total: 0, after: null, more: false },
  stopFeeds: [],
  /** Counts the feeds' (re)subscriptions: a probe answered for an older one says nothing. */
  feedGeneration: 0,
  handoffs: new Map(),
  /** Per creator: how many of its conversations wait for a person, and where its next page starts. */
  handoffPages: new Map(),
  /** The open conversation: its id, consumer, creator and channel (what its live updates name). */
  open: null,
  /** A refresh of the open conversation under way, and whether another was asked meanwhile. */
  refreshing: null,
  refreshAgain: false,
  /** Per dead-letter list (failedEvents...): where its next page starts, if it has one. */
  deadLetterPages: {},
  timeline: { consumerId: null, after: null },
};

function showError(error) {
  fill($("error"), describeError(error)).hidden = false;
}

function clearError() {
  $("error").hidden = true;
}
$("error").addEventListener("click", clearError);

/** Whether the API refused the key itself (revoked, or unknown): nothing more can be done with it. */
const refusesKey = (error) => error instanceof ApiError && error.code === "UNAUTHENTICATED";

/**
 * Shows an error; one refusing the key forgets it: the console is emptied and asks for a key, as
 * one revoked while the page was open must not stay in the tab nor its data on the screen.
 */
function failed(error) {
  if (refusesKey(error) && state.api) refuseKey(error);
  else showError(error);
}

/** Runs an operator's action, showing what went wrong instead of failing silently. */
async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    failed(error);
    return undefined;
  }
}

const consumerLabel = (consumer) => consumer.name || consumer.externalId || "consumer";

/** A consumer as a button that opens their timeline. */
function consumerButton(consumer) {
  if (!consumer) return null;
  return h(
    "button",
    { type: "button", class: "consumer", "data-consumer": consumer.id, onclick: () => openTimeline(consumer.id) },
    consumerLabel(consumer),
  );
}

const badge = (text, extra = "") => h("span", { class: `badge ${extra}`.trim(), "data-status": text }, text);

function creatorName(id) {
  return state.creatorNames.get(id) ?? "";
}

// ---- The live feed -----------------------------------------------------------------------------

/** What each feed's message says in a row: its creator, status, consumer and a line of text. */
const ROWS = {
  decision: (i) => ({
    id: i.id,
    creator: i.agent.creator,
    status: i.status,
    consumer: i.event.consumer,
    text: `${i.agent.name} on ${i.event.type}: ${i.acted ? "acted" : "did not act"}${i.reason ? ` — ${i.reason}` : ""}${
      i.actions.length ? ` [${i.actions.map((a) => `${a.channel} ${a.status}`).join(", ")}]` : ""
    }`,
  }),
  invocation: (i) => ({
    id: i.id,
    creator: i.agent.creator,
    status: i.status,
    consumer: i.event.consumer,
    text: `${i.agent.name} on ${i.event.type} (attempt ${i.attempts})${i.error ? ` — ${i.error}` : ""}`,
  }),
  action: (a) => ({
    id: a.id,
    creator: a.consumer.creator,
    status: a.status,
    consumer: a.consumer,
    text: `${a.channel}${a.sentBy ? ` by ${a.sentBy}` : ""}: ${brief(a.payload?.message ?? a.payload?.subject ?? a.payload)}${
      a.statusReason ? ` — ${a.statusReason}` : ""
    }`,
  }),
  conversation: (c) => ({
    id: c.id,
    creator: c.consumer.creator,
    status: c.holder,
    consumer: c.consumer,
    text: `${c.channel} conversation held by ${c.holder.toLowerCase()}${c.holderReason ? ` (${c.holderReason})` : ""}`,
  }),
};

function filterRow(li) {
  const kinds = [...$("kinds").querySelectorAll("input:checked")].map((input) => input.value);
  const status = $("status").value;
  li.hidden =
    !kinds.includes(li.dataset.kind) ||
    (status !== "" && li.dataset.status !== status) ||
    (state.creatorId !== "" && li.dataset.creator !== state.creatorId);
}

function applyFilters() {
  for (const li of $("feed").children) filterRow(li);
}

function addRow(kind, data) {
  const row = ROWS[kind](data);
  const li = h(
    "li",
    {
      class: `row ${kind}`,
      "data-kind": kind,
      "data-id": row.id,
      "data-status": row.status,
      "data-creator": row.creator.id,
    },
    h("time", {}, when(new Date().toISOString())),
    h("span", { class: "kind" }, kind),
    badge(row.status),
    state.viewer.kind === "ADMIN" ? h("span", { class: "creator" }, row.creator.name) : null,
    consumerButton(row.consumer),
    h("span", { class: "text" }, row.text),
  );
  filterRow(li);
  const feed = $("feed");
  feed.prepend(li);
  while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
  $("feed-empty").hidden = true;
}

/** What the header's indicator says of the feeds: one word, and its state for the style sheet. */
const LIVE_STATES = {
  off: "offline",
  connecting: "connecting",
  reconnecting: "reconnecting",
  live: "live",
  refused: "key refused",
  failed: "offline: connection lost",
};

function setLive(live) {
  const element = $("live");
  element.dataset.state = live;
  element.textContent = LIVE_STATES[live];
  $("reconnect").hidden = live !== "failed";
}

/**
 * Live once the socket has answered a probe sent after the feeds' subscriptions, so that an
 * operator (or a test) acting on "live" misses nothing those feeds publish afterwards.
 */
async function confirmLive() {
  const { api } = state;
  const generation = state.feedGeneration;
  try {
    await api.probe();
    if (api === state.api && generation === state.feedGeneration) setLive("live");
  } catch (error) {
    if (api === state.api) failed(error);
  }
}

/** (Re)subscribes the four feeds, over the key's one socket, for the watched creator or the platform ("all"). */
function subscribeFeeds() {
  for (const stop of state.stopFeeds) stop();
  const { api } = state;
  state.feedGeneration++;
  setLive("connecting");
  const variables = { creatorId: state.creatorId || null };
  state.stopFeeds = Object.keys(FEEDS).map((kind) =>
    api.subscribe(FEEDS[kind], variables, {
      onError: (error) => {
        if (api !== state.api) return;
        if (error.code === "STREAM_FAILED") setLive("failed");
        failed(error);
      },
      onData: (data) => {
        const payload = Object.values(data)[0];
        if (!payload || api !== state.api) return;
        addRow(kind, payload);
        if (kind === "conversation") conversationChanged(payload);
        if (kind === "action") actionChanged(payload);
      },
    }),
  );
  void confirmLive();
}

/** The socket's own news: a drop (graphql-ws reconnects and subscribes again), a refused key, giving up. */
function socketChanged(api, socket, error) {
  if (!api || api !== state.api) return;
  if (socket === "closed") setLive("reconnecting");
  // After a drop, the subscriptions are sent again once the socket is back: confirm them then, and
  // read the lists again, since what changed while the socket was down was not heard.
  else if (socket === "connected" && $("live").dataset.state === "reconnecting") {
    setTimeout(() => void confirmLive());
    void loadHandoffs();
    void loadDeadLetters();
  } else if (socket === "refused") refuseKey(error);
  else if (socket === "failed") {
    setLive("failed");
    showError(new ApiError("STREAM_FAILED", "The live connection was lost: press Reconnect"));
  }
}

// ---- A consumer's timeline ---------------------------------------------------------------------

const TIMELINE_ITEMS = {
  Event: (e) => [e.occurredAt, "event", e.type, brief(e.payload)],
  AgentInvocation: (i) => [
    i.queuedAt,
    "decision",
    i.runStatus,
    `${i.agent.name}: ${i.acted ? "acted" : "did not act"}${i.reason ? ` — ${i.reason}` : ""}`,
  ],
  Action: (a) => [
    a.createdAt,
    "message",
    a.sendStatus,
    `${a.channel}${a.sentBy ? ` by ${a.sentBy}` : ""}: ${brief(a.payload?.message ?? a.payload)}${
      a.statusReason ? ` — ${a.statusReason}` : ""
    }`,
  ],
};

/** Shows the consumer's timeline, newest first; with `after`, appends the next page. */
async function openTimeline(consumerId, after = null) {
  await guarded(async () => {
    const { node } = await state.api.request(TIMELINE, { id: consumerId, after });
    if (!node) throw new ApiError("NOT_FOUND", "This consumer is not visible to this key");
    state.timeline = { consumerId, after: node.timeline.pageInfo.endCursor };
    fill($("timeline-title"), consumerLabel(node));
    fill(
      $("timeline-who"),
      [node.externalId && `external id ${node.externalId}`, node.email, node.phone, node.creator.name]
        .filter(Boolean)
        .join(" · "),
    );
    const list = $("timeline");
    if (!after) list.replaceChildren();
    for (const { node: item } of node.timeline.edges) {
      const [at, kind, status, text] = TIMELINE_ITEMS[item.__typename](item);
      list.append(
        h(
          "li",
          { class: `item ${kind}`, "data-kind": kind, "data-id": item.id },
          h("time", {}, when(at)),
          h("span", { class: "kind" }, kind),
          badge(status),
          h("span", { class: "text" }, text),
        ),
      );
    }
    $("timeline-more").hidden = !node.timeline.pageInfo.hasNextPage;
    $("timeline-panel").hidden = false;
  });
}

// ---- Handed-off conversations ------------------------------------------------------------------

/** "12 of 30": how many are shown of how many there are, when not all are. */
function shownOf(shown, total, noun) {
  return shown >= total ? `${total} ${noun}` : `${shown} of ${total} ${noun}`;
}

function handoffTotals() {
  let total = 0;
  let more = false;
  for (const [creatorId, page] of state.handoffPages) {
    if (state.creatorId !== "" && creatorId !== state.creatorId) continue;
    total += page.total;
    more ||= page.more;
  }
  return { total, more };
}

function renderHandoffs() {
  const visible = [...state.handoffs.values()]
    .filter((c) => state.creatorId === "" || c.consumer.creator.id === state.creatorId)
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  const { total, more } = handoffTotals();
  fill(
    $("handoffs"),
    visible.length === 0 ? h("li", { class: "empty" }, "No conversation is waiting for a person.") : null,
    visible.map((c) =>
      h(
        "li",
        { class: "handoff", "data-id": c.id, "data-creator": c.consumer.creator.id },
        consumerButton(c.consumer),
        state.viewer.kind === "ADMIN" ? h("span", { class: "creator" }, c.consumer.creator.name) : null,
        h("span", { class: "channel" }, c.channel),
        h("span", { class: "text" }, c.holderReason ?? ""),
        h("time", {}, when(c.updatedAt)),
        h("button", { type: "button", class: "open", onclick: () => openConversation(c.id) }, "Open"),
      ),
    ),
  );
  fill($("handoffs-count"), visible.length ? shownOf(visible.length, Math.max(total, visible.length), "waiting") : "");
  $("handoffs-more").hidden = !more;
}

/** Keeps a page of a creator's hand-offs: its conversations, their count, where the next page starts. */
function keepHandoffs(creatorId, connection) {
  for (const { node } of connection.edges) state.handoffs.set(node.id, node);
  state.handoffPages.set(creatorId, {
    total: connection.totalCount,
    after: connection.pageInfo.endCursor,
    more: connection.pageInfo.hasNextPage,
  });
}

/** The next page of one creator's hand-offs. */
async function moreHandoffsOf(creatorId) {
  const page = state.handoffPages.get(creatorId);
  const { node } = await state.api.request(CREATOR_HANDOFFS, { id: creatorId, after: page?.after ?? null });
  if (node) keepHandoffs(creatorId, node.conversations);
}

/**
 * The hand-offs, afresh: the watched creator's first page; for "All creators", how many wait at
 * each creator (a page of 100 creators at a time), then the first page of each that has some,
 * creators in batches. Nothing is dropped: a count says how many there are, "More" reads on.
 */
async function loadHandoffs() {
  await guarded(async () => {
    state.handoffs = new Map();
    state.handoffPages = new Map();
    if (state.creatorId) {
      await moreHandoffsOf(state.creatorId);
    } else {
      const waiting = [];
      for (let after = null, more = true; more; ) {
        const { creators } = await state.api.request(HANDOFF_COUNTS, { after });
        for (const { node } of creators.edges) if (node.conversations.totalCount > 0) waiting.push(node.id);
        ({ hasNextPage: more, endCursor: after } = creators.pageInfo);
      }
      const batches = [];
      for (let i = 0; i < waiting.length; i += HANDOFF_BATCH) batches.push(waiting.slice(i, i + HANDOFF_BATCH));
      await Promise.all(
        batches.map(async (ids) => {
          const { nodes } = await state.api.request(HANDOFFS_OF_CREATORS, { ids });
          for (const creator of nodes) if (creator) keepHandoffs(creator.id, creator.conversations);
        }),
      );
    }
    renderHandoffs();
  });
}

/** "More": the next page of every creator (in view) that has more. */
async function moreHandoffs() {
  await guarded(async () => {
    const pending = [...state.handoffPages]
      .filter(([creatorId, page]) => page.more && (state.creatorId === "" || creatorId === state.creatorId))
      .map(([creatorId]) => creatorId);
    await Promise.all(pending.map((creatorId) => moreHandoffsOf(creatorId)));
    renderHandoffs();
  });
}

/** A conversation feed message: the hand-off list follows holders, the open conversation its messages. */
function conversationChanged(conversation) {
  const creatorId = conversation.consumer.creator.id;
  const page = state.handoffPages.get(creatorId) ?? { total: 0, after: null, more: false };
  const known = state.handoffs.has(conversation.id);
  if (conversation.holder === "PERSON") {
    state.handoffs.set(conversation.id, conversation);
    if (!known) state.handoffPages.set(creatorId, { ...page, total: page.total + 1 });
  } else if (known) {
    state.handoffs.delete(conversation.id);
    state.handoffPages.set(creatorId, { ...page, total: Math.max(0, page.total - 1) });
  }
  renderHandoffs();
  if (state.open?.id === conversation.id) refreshConversation();
}

/**
 * An action feed message: one to the open conversation's consumer on its channel (an answer
 * planned, sending, sent, failed) redraws the conversation, whose messages show it.
 */
function actionChanged(action) {
  const { open } = state;
  if (open && action.consumer.id === open.consumerId && action.channel === open.channel) refreshConversation();
  if (state.answer?.id === action.id) state.answer.report(action);
}

/** Redraws the open conversation; asked again while one is under way, once more after it. */
function refreshConversation() {
  if (state.refreshing) {
    state.refreshAgain = true;
    return;
  }
  const { open } = state;
  if (!open) return;
  state.refreshing = openConversation(open.id).finally(() => {
    state.refreshing = null;
    if (state.refreshAgain) {
      state.refreshAgain = false;
      if (state.open?.id === open.id) refreshConversation();
    }
  });
}

/** A message of the conversation, the consumer's or ours: time, text, what it was understood as, its status. */
function messageItem(m) {
  return h(
    "li",
    { class: `message ${m.direction.toLowerCase()}`, "data-action": m.action?.id ?? null },
    h("time", {}, when(m.at)),
    h("span", { class: "text" }, m.text ?? ""),
    m.intent ? badge(m.intent, "intent") : null,
    m.action ? badge(m.action.status) : null,
    m.action?.sentBy ? h("span", { class: "meta" }, `by ${m.action.sentBy}`) : null,
  );
}

/**
 * A message of ours not sent: planned or being sent, or a person's answer that will not go
 * (skipped, failed, cancelled), with why. After the conversation's messages, with its status.
 */
function unsentItem(a) {
  return h(
    "li",
    { class: "message outbound unsent", "data-action": a.id },
    h("time", {}, when(a.sendAt ?? a.createdAt)),
    h("span", { class: "text" }, brief(a.payload?.message ?? a.payload, 2000)),
    badge(a.status),
    a.sentBy ? h("span", { class: "meta" }, `by ${a.sentBy}`) : null,
    a.statusReason ? h("span", { class: "meta reason" }, a.statusReason) : null,
  );
}

/**
 * Opens a conversation: its messages, then ours not sent yet (a person's answer is a message of
 * the conversation once sent), and a form to answer it or give it back to the agent. Opened again
 * (a live update, the operator's own answer), only its head and messages are redrawn: a reply
 * being written and the last outcome stay.
 */
async function openConversation(id) {
  await guarded(async () => {
    const { api } = state;
    const { node } = await api.request(CONVERSATION_MESSAGES, { id });
    if (!node) throw new ApiError("NOT_FOUND", "This conversation is not visible to this key");
    const unsent = await api.request(UNSENT_MESSAGES, {
      creatorId: node.consumer.creator.id,
      consumerId: node.consumer.id,
      channel: node.channel,
    });
    if (api !== state.api) return;
    const view = $("conversation");
    if (state.open?.id !== id || !view.querySelector("form.reply")) {
      fill(view, h("div", { class: "head" }), h("ol", { class: "messages" }), replyForm(node)).hidden = false;
    }
    state.open = { id, consumerId: node.consumer.id, creatorId: node.consumer.creator.id, channel: node.channel };
    fill(
      view.querySelector(".head"),
      h(
        "h3",
        {},
        consumerButton(node.consumer),
        ` · ${node.channel} · held by ${node.holder.toLowerCase()}`,
        node.holderReason ? ` (${node.holderReason})` : "",
      ),
      node.customerServiceWindowEndsAt
        ? h("p", { class: "meta" }, `WhatsApp window open until ${when(node.customerServiceWindowEndsAt)}`)
        : null,
      node.messages.totalCount > node.messages.edges.length
        ? h("p", { class: "meta" }, `The last ${node.messages.edges.length} of ${node.messages.totalCount} messages`)
        : null,
    );
    const shown = new Set(node.messages.edges.map(({ node: m }) => m.action?.id).filter(Boolean));
    // The agent's stopped messages are its own business (a hand-off cancels its plans); a person's
    // answer that will not go is shown, with why, never dropped from view.
    const stopped = (unsent.node?.stopped.edges ?? []).filter(({ node: a }) => a.sentBy);
    const pending = [...(unsent.node?.pending.edges ?? []), ...stopped]
      .map(({ node: a }) => a)
      .filter((a) => !shown.has(a.id))
      .sort((a, b) => (a.sendAt ?? a.createdAt).localeCompare(b.sendAt ?? b.createdAt));
    fill(
      view.querySelector(".messages"),
      node.messages.edges.map(({ node: m }) => messageItem(m)),
      pending.map(unsentItem),
    );
  });
}

/** The answer form of a conversation: text (and a subject on email), Send, Return to agent, Close. */
function replyForm(conversation) {
  const outcome = h("span", { class: "outcome", role: "status" });
  const subject =
    conversation.channel === "EMAIL" ? h("input", { name: "subject", placeholder: "Subject (optional)" }) : null;
  const text = h("textarea", { name: "text", rows: 3, placeholder: "Your answer", required: true });
  const report = (message, ok) => {
    fill(outcome, message).className = `outcome ${ok ? "ok" : "failed"}`;
  };
  const send = async () => {
    try {
      const data = await state.api.request(SEND_MESSAGE, {
        id: conversation.id,
        text: text.value,
        subject: subject?.value || null,
      });
      const action = resultOf(data.sendMessage);
      text.value = "";
      // The outcome follows the answer: planned, then sent, or why it will not go.
      const follow = ({ status, statusReason }) =>
        report(
          `Your answer: ${status.toLowerCase()}${statusReason ? ` (${statusReason})` : ""}`,
          !["SKIPPED", "FAILED", "CANCELLED"].includes(status),
        );
      state.answer = { id: action.id, report: follow };
      follow(action);
      refreshConversation();
    } catch (error) {
      if (refusesKey(error)) failed(error);
      else report(describeError(error), false);
    }
  };
  const giveBack = async () => {
    try {
      resultOf((await state.api.request(RETURN_TO_AGENT, { id: conversation.id })).returnConversationToAgent);
      conversationChanged({ ...conversation, holder: "AGENT" });
      closeConversationView();
    } catch (error) {
      if (refusesKey(error)) failed(error);
      else report(describeError(error), false);
    }
  };
  return h(
    "form",
    {
      class: "reply",
      onsubmit: (event) => {
        event.preventDefault();
        void send();
      },
    },
    subject,
    text,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "submit" }, "Send"),
      h("button", { type: "button", class: "return", onclick: giveBack }, "Return to agent"),
      h("button", { type: "button", class: "close", onclick: closeConversationView }, "Close"),
      outcome,
    ),
  );
}

function closeConversationView() {
  state.open = null;
  fill($("conversation")).hidden = true;
}

// ---- Dead letters ------------------------------------------------------------------------------

function deadLetter(kind, item, { mutation, creatorIds, consumer, text }) {
  const outcome = h("span", { class: "outcome", role: "status" });
  const button = h("button", { type: "button", class: "retry" }, "Retry");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const result = resultOf((await state.api.request(RETRIES[mutation], { id: item.id }))[mutation]);
      // What the retried item is now: an invocation's status, a callback item's outcome (null
      // while pending), an event has neither once reopened.
      const now = result.status ?? result.outcome ?? "requeued";
      fill(outcome, `Retried: ${String(now).toLowerCase()}`).className = "outcome ok";
    } catch (error) {
      button.disabled = false;
      if (refusesKey(error)) failed(error);
      else fill(outcome, describeError(error)).className = "outcome failed";
    }
  });
  return h(
    "li",
    {
      class: `dead-letter ${kind}`,
      "data-kind": kind,
      "data-id": item.id,
      "data-creators": creatorIds.join(" "),
    },
    h("span", { class: "kind" }, kind),
    consumerButton(consumer),
    h("span", { class: "text" }, text),
    button,
    outcome,
  );
}

/** Each dead-letter list as rows: the field that lists it, and how one of its items reads. */
const DEAD_LETTER_LISTS = {
  failedEvents: (e) =>
    deadLetter("event", e, {
      mutation: "retryEvent",
      creatorIds: [e.consumer.creator.id],
      consumer: e.consumer,
      text: `${e.type} failed ${when(e.failedAt)}: ${e.failureReason ?? ""}`,
    }),
  failedInvocations: (i) =>
    deadLetter("invocation", i, {
      mutation: "retryInvocation",
      creatorIds: [i.agent.creator.id],
      consumer: i.event.consumer,
      text: `${i.agent.name} on ${i.event.type} failed after ${i.attempts} attempts: ${i.error ?? ""}`,
    }),
  whatsAppCallbackItems: (c) =>
    deadLetter("whatsapp", c, {
      mutation: "retryWhatsAppCallbackItem",
      creatorIds: c.creators.map((creator) => creator.id),
      consumer: null,
      text: `WhatsApp ${c.kind}${c.from ? ` from ${c.from}` : ""} ${c.outcome}: ${c.reason ?? ""}`,
    }),
};

/** Shows the rows of the watched creator (or all), says how many are shown and whether more can be read. */
function renderDeadLetters() {
  const list = $("dead-letters");
  let shown = 0;
  for (const li of list.querySelectorAll("li.dead-letter")) {
    li.hidden = state.creatorId !== "" && !li.dataset.creators.split(" ").includes(state.creatorId);
    if (!li.hidden) shown++;
  }
  list.querySelector("li.empty")?.remove();
  if (shown === 0) list.append(h("li", { class: "empty" }, "No dead letters."));
  const more = Object.values(state.deadLetterPages).some((page) => page.more);
  fill($("dead-letters-count"), more ? `${shown} shown, more to read` : shown ? `${shown}` : "");
  $("dead-letters-more").hidden = !more;
}

function appendDeadLetters(data) {
  const list = $("dead-letters");
  for (const [field, row] of Object.entries(DEAD_LETTER_LISTS)) {
    const connection = data[field];
    if (!connection) continue;
    list.append(...connection.edges.map(({ node }) => row(node)));
    state.deadLetterPages[field] = { after: connection.pageInfo.endCursor, more: connection.pageInfo.hasNextPage };
  }
}

async function loadDeadLetters() {
  await guarded(async () => {
    const data = await state.api.request(DEAD_LETTERS, { callbacks: state.viewer.kind === "ADMIN" });
    fill($("dead-letters"));
    state.deadLetterPages = {};
    appendDeadLetters(data);
    renderDeadLetters();
  });
}

/** "More": the next page of each dead-letter list that has one. */
async function moreDeadLetters() {
  await guarded(async () => {
    const pending = Object.entries(state.deadLetterPages).filter(([, page]) => page.more);
    const pages = await Promise.all(
      pending.map(([field, page]) => state.api.request(MORE_DEAD_LETTERS[field], { after: page.after })),
    );
    for (const data of pages) appendDeadLetters(data);
    renderDeadLetters();
  });
}

// ---- Connecting --------------------------------------------------------------------------------

/** Adds a page of creators to the picker (an admin's: "All creators" first) and says how many there are. */
function addCreators(creators, { total, after, more }) {
  const admin = state.viewer.kind === "ADMIN";
  for (const c of creators) state.creatorNames.set(c.id, c.name);
  const picker = $("creator");
  if (picker.options.length === 0 && admin) picker.append(h("option", { value: "" }, "All creators"));
  picker.append(...creators.map((c) => h("option", { value: c.id }, `${c.name} (@${c.handle})`)));
  state.creators = { total, after, more };
  const loaded = state.creatorNames.size;
  fill($("creator-count"), admin && more ? `${loaded} of ${total} creators` : "");
  $("creator-more").hidden = !more;
}

/** The next page of creators, for an admin's picker. */
async function moreCreators(api = state.api) {
  const { creators } = await api.request(CREATORS, { after: state.creators.after });
  addCreators(
    creators.edges.map((e) => e.node),
    { total: creators.totalCount, after: creators.pageInfo.endCursor, more: creators.pageInfo.hasNextPage },
  );
}

async function connect(key) {
  disconnect();
  clearError();
  // The socket opens at once and reports through onSocket before createApi has answered.
  let api = null;
  api = createApi(key, { onSocket: (socket, error) => socketChanged(api, socket, error) });
  try {
    const { viewer } = await api.request(VIEWER);
    if (!viewer) throw new ApiError("UNAUTHENTICATED", "No key was accepted");
    if (viewer.kind === "INGEST")
      throw new ApiError("FORBIDDEN", "An ingest key cannot watch: use a creator or admin key");
    state.api = api;
    state.viewer = viewer;
    sessionStorage.setItem(KEY_STORAGE, key);
    state.creatorNames = new Map();
    fill($("creator"));
    if (viewer.kind === "ADMIN") await moreCreators(api);
    else addCreators([viewer.creator], { total: 1, after: null, more: false });
    $("creator").disabled = viewer.kind !== "ADMIN";
    state.creatorId = viewer.kind === "ADMIN" ? "" : viewer.creator.id;
  } catch (error) {
    api.dispose();
    state.api = null;
    // A saved key refused on reload is forgotten like one refused while the page is open.
    if (refusesKey(error)) sessionStorage.removeItem(KEY_STORAGE);
    showError(error);
    setLive(refusesKey(error) ? "refused" : "off");
    return;
  }
  fill(
    $("who"),
    state.viewer.kind === "ADMIN"
      ? `Admin key “${state.viewer.apiKey.name}” (${state.viewer.apiKey.prefix}…): every creator`
      : `Creator key “${state.viewer.apiKey.name}” (${state.viewer.apiKey.prefix}…) of ${creatorName(state.creatorId)}`,
  );
  $("key").value = "";
  $("forget").hidden = false;
  $("filters").hidden = false;
  $("console").hidden = false;
  subscribeFeeds();
  await Promise.all([loadHandoffs(), loadDeadLetters()]);
}

function disconnect() {
  for (const stop of state.stopFeeds) stop();
  state.stopFeeds = [];
  state.api?.dispose();
  state.api = null;
  state.open = null;
  setLive("off");
}

/** Ends the session: the key forgotten, every panel emptied and hidden, the key field ready. */
function forget() {
  disconnect();
  sessionStorage.removeItem(KEY_STORAGE);
  state.viewer = null;
  state.handoffs = new Map();
  state.handoffPages = new Map();
  state.deadLetterPages = {};
  state.creatorNames = new Map();
  for (const id of ["who", "feed", "handoffs", "dead-letters", "timeline", "creator", "conversation"]) fill($(id));
  for (const id of ["handoffs-count", "dead-letters-count", "creator-count", "timeline-title", "timeline-who"])
    fill($(id));
  for (const id of ["filters", "console", "forget", "timeline-panel", "conversation"]) $(id).hidden = true;
  $("feed-empty").hidden = false;
  $("key").value = "";
}

/** The API refused the key (revoked while the page was open): forgotten, and a new one asked for. */
function refuseKey(error) {
  forget();
  showError(error);
  setLive("refused");
  $("key").focus();
}

fill(
  $("status"),
  h("option", { value: "" }, "Any status"),
  // As the badges write them.
  STATUSES.map((s) => h("option", { value: s }, s)),
);
$("connect").addEventListener("submit", (event) => {
  event.preventDefault();
  void connect($("key").value.trim());
});
$("forget").addEventListener("click", forget);
$("reconnect").addEventListener("click", () => {
  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) void connect(saved);
});
$("creator").addEventListener("change", () => {
  state.creatorId = $("creator").value;
  applyFilters();
  subscribeFeeds();
  closeConversationView();
  void loadHandoffs();
  renderDeadLetters();
});
$("creator-more").addEventListener("click", () => void guarded(() => moreCreators()));
$("status").addEventListener("change", applyFilters);
$("kinds").addEventListener("change", applyFilters);
$("handoffs-refresh").addEventListener("click", () => void loadHandoffs());
$("handoffs-more").addEventListener("click", () => void moreHandoffs());
$("dead-letters-refresh").addEventListener("click", () => void loadDeadLetters());
$("dead-letters-more").addEventListener("click", () => void moreDeadLetters());
$("timeline-more").addEventListener("click", () => void openTimeline(state.timeline.consumerId, state.timeline.after));
$("timeline-close").addEventListener("click", () => {
  $("timeline-panel").hidden = true;
});

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) void connect(saved);
