import { ApiError, createApi, describeError, resultOf } from "./api.js";
import { brief, fill, h, when } from "./dom.js";
import {
  ALL_HANDOFFS,
  CONVERSATION_MESSAGES,
  CREATOR_HANDOFFS,
  CREATORS,
  DEAD_LETTERS,
  FEEDS,
  RETRIES,
  RETURN_TO_AGENT,
  SEND_MESSAGE,
  TIMELINE,
  VIEWER,
} from "./queries.js";

// The ops console: one key, four live feeds, and the panels an operator acts from. The key is kept
// in sessionStorage (gone with the tab, never in a URL or a cookie) so a reload reconnects.

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

const state = {
  api: null,
  viewer: null,
  /** The creator watched, by global id; "" for every creator (admin keys). */
  creatorId: "",
  creatorNames: new Map(),
  stopFeeds: [],
  handoffs: new Map(),
  openConversationId: null,
  timeline: { consumerId: null, after: null },
};

function showError(error) {
  fill($("error"), describeError(error)).hidden = false;
}

function clearError() {
  $("error").hidden = true;
}
$("error").addEventListener("click", clearError);

/** Runs an operator's action, showing what went wrong instead of failing silently. */
async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    showError(error);
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

function setLive(live, total) {
  const element = $("live");
  element.dataset.state = live === total ? "live" : live === 0 ? "off" : "connecting";
  element.textContent = live === total ? "live" : `connecting ${live}/${total}`;
}

/** (Re)opens the four feeds for the watched creator, or the platform's for "all". */
function subscribeFeeds() {
  for (const stop of state.stopFeeds) stop();
  const kinds = Object.keys(FEEDS);
  let live = 0;
  setLive(0, kinds.length);
  const variables = { creatorId: state.creatorId || null };
  state.stopFeeds = kinds.map((kind) => {
    let counted = false;
    return state.api.subscribe(FEEDS[kind], variables, {
      onLive: () => {
        if (!counted) setLive(++live, kinds.length);
        counted = true;
      },
      onError: (error) => {
        setLive(0, kinds.length);
        showError(error);
      },
      onData: (data) => {
        const payload = Object.values(data)[0];
        if (!payload) return;
        addRow(kind, payload);
        if (kind === "conversation") conversationChanged(payload);
      },
    });
  });
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

function renderHandoffs() {
  const visible = [...state.handoffs.values()]
    .filter((c) => state.creatorId === "" || c.consumer.creator.id === state.creatorId)
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  fill(
    $("handoffs"),
    visible.length === 0 ? h("li", { class: "empty" }, "No conversation is waiting for a person.") : null,
    visible.map((c) =>
      h(
        "li",
        { class: "handoff", "data-id": c.id, "data-creator": c.consumer.creator.id },
        consumerButton(c.consumer),
        h("span", { class: "channel" }, c.channel),
        h("span", { class: "text" }, c.holderReason ?? ""),
        h("time", {}, when(c.updatedAt)),
        h("button", { type: "button", class: "open", onclick: () => openConversation(c.id) }, "Open"),
      ),
    ),
  );
}

async function loadHandoffs() {
  await guarded(async () => {
    const conversations = [];
    if (state.creatorId) {
      const { node } = await state.api.request(CREATOR_HANDOFFS, { id: state.creatorId });
      conversations.push(...(node?.conversations.edges ?? []));
    } else {
      for (let after = null, more = true; more; ) {
        const { creators } = await state.api.request(ALL_HANDOFFS, { after });
        for (const { node } of creators.edges) conversations.push(...node.conversations.edges);
        ({ hasNextPage: more, endCursor: after } = creators.pageInfo);
      }
    }
    state.handoffs = new Map(conversations.map(({ node }) => [node.id, node]));
    renderHandoffs();
  });
}

/** A conversation feed message: the hand-off list follows holders, the open conversation its messages. */
function conversationChanged(conversation) {
  if (conversation.holder === "PERSON") state.handoffs.set(conversation.id, conversation);
  else state.handoffs.delete(conversation.id);
  renderHandoffs();
  if (state.openConversationId === conversation.id) void openConversation(conversation.id);
}

/**
 * Opens a conversation: its messages, and a form to answer it or give it back to the agent. Opened
 * again (a live update, the operator's own answer), only its head and messages are redrawn: a
 * reply being written and the last outcome stay.
 */
async function openConversation(id) {
  await guarded(async () => {
    const { node } = await state.api.request(CONVERSATION_MESSAGES, { id });
    if (!node) throw new ApiError("NOT_FOUND", "This conversation is not visible to this key");
    const view = $("conversation");
    if (state.openConversationId !== id || !view.querySelector("form.reply")) {
      state.openConversationId = id;
      fill(view, h("div", { class: "head" }), h("ol", { class: "messages" }), replyForm(node)).hidden = false;
    }
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
    );
    fill(
      view.querySelector(".messages"),
      node.messages.edges.map(({ node: m }) =>
        h(
          "li",
          { class: `message ${m.direction.toLowerCase()}` },
          h("time", {}, when(m.at)),
          h("span", { class: "text" }, m.text ?? ""),
          m.intent ? badge(m.intent, "intent") : null,
          m.action ? badge(m.action.status) : null,
          m.action?.sentBy ? h("span", { class: "meta" }, `by ${m.action.sentBy}`) : null,
        ),
      ),
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
      report(`Sent: message ${action.status.toLowerCase()}`, true);
      await openConversation(conversation.id);
    } catch (error) {
      report(describeError(error), false);
    }
  };
  const giveBack = async () => {
    try {
      resultOf((await state.api.request(RETURN_TO_AGENT, { id: conversation.id })).returnConversationToAgent);
      state.handoffs.delete(conversation.id);
      renderHandoffs();
      closeConversationView();
    } catch (error) {
      report(describeError(error), false);
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
  state.openConversationId = null;
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
      fill(outcome, describeError(error)).className = "outcome failed";
    }
  });
  const hidden = state.creatorId !== "" && !creatorIds.includes(state.creatorId);
  return hidden
    ? null
    : h(
        "li",
        { class: `dead-letter ${kind}`, "data-kind": kind, "data-id": item.id },
        h("span", { class: "kind" }, kind),
        consumerButton(consumer),
        h("span", { class: "text" }, text),
        button,
        outcome,
      );
}

async function loadDeadLetters() {
  await guarded(async () => {
    const data = await state.api.request(DEAD_LETTERS, { callbacks: state.viewer.kind === "ADMIN" });
    const items = [
      ...data.failedEvents.edges.map(({ node: e }) =>
        deadLetter("event", e, {
          mutation: "retryEvent",
          creatorIds: [e.consumer.creator.id],
          consumer: e.consumer,
          text: `${e.type} failed ${when(e.failedAt)}: ${e.failureReason ?? ""}`,
        }),
      ),
      ...data.failedInvocations.edges.map(({ node: i }) =>
        deadLetter("invocation", i, {
          mutation: "retryInvocation",
          creatorIds: [i.agent.creator.id],
          consumer: i.event.consumer,
          text: `${i.agent.name} on ${i.event.type} failed after ${i.attempts} attempts: ${i.error ?? ""}`,
        }),
      ),
      ...(data.whatsAppCallbackItems?.edges ?? []).map(({ node: c }) =>
        deadLetter("whatsapp", c, {
          mutation: "retryWhatsAppCallbackItem",
          creatorIds: c.creators.map((creator) => creator.id),
          consumer: null,
          text: `WhatsApp ${c.kind}${c.from ? ` from ${c.from}` : ""} ${c.outcome}: ${c.reason ?? ""}`,
        }),
      ),
    ].filter(Boolean);
    fill($("dead-letters"), items.length ? items : h("li", { class: "empty" }, "No dead letters."));
  });
}

// ---- Connecting --------------------------------------------------------------------------------

function fillCreators(creators) {
  state.creatorNames = new Map(creators.map((c) => [c.id, c.name]));
  const admin = state.viewer.kind === "ADMIN";
  fill(
    $("creator"),
    admin ? h("option", { value: "" }, "All creators") : null,
    creators.map((c) => h("option", { value: c.id }, `${c.name} (@${c.handle})`)),
  );
  $("creator").disabled = !admin;
  state.creatorId = admin ? "" : creators[0].id;
}

async function connect(key) {
  disconnect();
  clearError();
  const api = createApi(key);
  try {
    const { viewer } = await api.request(VIEWER);
    if (!viewer) throw new ApiError("UNAUTHENTICATED", "No key was accepted");
    if (viewer.kind === "INGEST")
      throw new ApiError("FORBIDDEN", "An ingest key cannot watch: use a creator or admin key");
    state.api = api;
    state.viewer = viewer;
    sessionStorage.setItem(KEY_STORAGE, key);
    const creators =
      viewer.kind === "ADMIN" ? (await api.request(CREATORS)).creators.edges.map((e) => e.node) : [viewer.creator];
    fillCreators(creators);
  } catch (error) {
    api.dispose();
    state.api = null;
    showError(error);
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
  setLive(0, 1);
}

function forget() {
  disconnect();
  sessionStorage.removeItem(KEY_STORAGE);
  for (const id of ["who", "feed", "handoffs", "dead-letters", "timeline"]) fill($(id));
  for (const id of ["filters", "console", "forget", "timeline-panel", "conversation"]) $(id).hidden = true;
  $("feed-empty").hidden = false;
}

fill(
  $("status"),
  h("option", { value: "" }, "Any status"),
  STATUSES.map((s) => h("option", { value: s }, s.toLowerCase())),
);
$("connect").addEventListener("submit", (event) => {
  event.preventDefault();
  void connect($("key").value.trim());
});
$("forget").addEventListener("click", forget);
$("creator").addEventListener("change", () => {
  state.creatorId = $("creator").value;
  applyFilters();
  subscribeFeeds();
  closeConversationView();
  void loadHandoffs();
  void loadDeadLetters();
});
$("status").addEventListener("change", applyFilters);
$("kinds").addEventListener("change", applyFilters);
$("handoffs-refresh").addEventListener("click", () => void loadHandoffs());
$("dead-letters-refresh").addEventListener("click", () => void loadDeadLetters());
$("timeline-more").addEventListener("click", () => void openTimeline(state.timeline.consumerId, state.timeline.after));
$("timeline-close").addEventListener("click", () => {
  $("timeline-panel").hidden = true;
});

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) void connect(saved);
