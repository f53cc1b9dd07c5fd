import type { ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { connect as netConnect } from "node:net";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MadeCreator, makeActiveProfile, makeAdminKey, makeCreator, uniqueHandle } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { OPS_CONTENT_SECURITY_POLICY } from "../src/ops/console.js";
import { useApi } from "./support/api.js";
import {
  type HttpSink,
  type SmtpSink,
  sendDue,
  startHttpSink,
  startSmtpSink,
  testProviders,
  whatsAppAccepted,
} from "./support/delivery-fixtures.js";
import { fromGlobalId, toGlobalId } from "./support/ids.js";
import { creatorWithAgent, DeployAgent, IngestEvents, ingestPageView, RevokeApiKey } from "./support/operations.js";
import { eventually, freePort, startProcess, waitForHttp } from "./support/processes.js";

// The ops console at /ops, in headless Chromium with no way out (every request that leaves this
// machine is refused and recorded), against the real API and worker: what an operator sees arrives
// live, and what they do from the page reaches the API.

const api = useApi({ worker: true });
let browser: Browser;
let adminKey: string;
let smtp: SmtpSink;
let whatsapp: HttpSink;

/** Set by a consumer's name or message if the page ever ran it as HTML. */
const XSS = `<img src=x onerror="window.__xss = 1">`;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
  });
  adminKey = await makeAdminKey();
  [smtp, whatsapp] = await Promise.all([startSmtpSink(), startHttpSink()]);
  whatsapp.reply = whatsAppAccepted;
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([smtp?.close(), whatsapp?.close()]);
});

const origin = () => new URL(api.url).origin;

type Console = {
  page: Page;
  outside: string[];
  requested: string[];
  problems: string[];
  /** The WebSockets the page opened, by URL. */
  sockets: string[];
  /** Its requests for an SSE stream (none: its feeds share one WebSocket). */
  streams: string[];
};

/** The console in a new page (of its own browser context unless given one), connected with the key, its feeds live. */
async function openConsole(key: string, context?: BrowserContext): Promise<Console> {
  const page = await (context ?? browser).newPage();
  // Shorter than the test's own timeout, so a step that waits in vain fails with its screenshot.
  page.setDefaultTimeout(10_000);
  const opened: Console = { page, outside: [], requested: [], problems: [], sockets: [], streams: [] };
  page.on("websocket", (socket) => {
    opened.sockets.push(socket.url());
    opened.requested.push(socket.url());
  });
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    opened.requested.push(url.href);
    if (route.request().headers().accept?.includes("text/event-stream")) opened.streams.push(url.href);
    if (["127.0.0.1", "localhost"].includes(url.hostname)) return route.continue();
    opened.outside.push(url.href);
    return route.abort();
  });
  // A script error or a refused CSP directive would show here.
  page.on("pageerror", (error) => opened.problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") opened.problems.push(message.text());
  });
  await page.goto(`${origin()}/ops`);
  await page.fill("#key", key);
  await page.click("#connect button[type=submit]");
  await page.locator('#live[data-state="live"]').waitFor({ timeout: 15_000 });
  return opened;
}

/**
 * What every test checks at the end: nothing left the machine, the key never went into a URL (a
 * request's or the socket's), the feeds on one WebSocket and no SSE stream, no script error.
 */
async function closeConsole(
  { page, outside, requested, problems, sockets, streams }: Console,
  key: string,
  { errorShown = false } = {},
) {
  try {
    expect(outside).toEqual([]);
    expect(requested.filter((url) => url.includes(key))).toEqual([]);
    expect(page.url()).not.toContain(key);
    expect(sockets).toEqual([`ws://${new URL(api.url).host}/graphql`]);
    expect(streams).toEqual([]);
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(problems).toEqual([]);
    expect(await page.locator("#error").isVisible()).toBe(errorShown);
  } finally {
    await page.close();
  }
}

/** Runs the steps on an open console; on failure, leaves a screenshot in /tmp for the reader. */
async function withConsole(key: string, steps: (page: Page) => Promise<void>) {
  const opened = await openConsole(key);
  try {
    await steps(opened.page);
  } catch (error) {
    await opened.page.screenshot({ path: "/tmp/ops-console-failure.png", fullPage: true });
    await opened.page.close();
    throw error;
  }
  await closeConsole(opened, key);
}

const feedRows = (page: Page, kind: string, creatorGid: string) =>
  page.locator(`#feed li[data-kind="${kind}"][data-creator="${creatorGid}"]`);

async function processed(eventGid: string) {
  await eventually(
    async () =>
      (await db.event.findFirstOrThrow({ where: { id: fromGlobalId(eventGid).id } })).processedAt ? true : undefined,
    15_000,
    "event processed",
  );
}

describe("the ops console", () => {
  it("shows a decision arriving live, filters by creator and status, and opens the consumer's timeline", async () => {
    const [maya, other] = await Promise.all([creatorWithAgent(api), creatorWithAgent(api)]);
    await withConsole(adminKey, async (page) => {
      await expect.poll(() => page.locator("#who").textContent()).toContain("Admin key");
      await ingestPageView(api, maya, "live-maya");
      await ingestPageView(api, other, "live-other");

      await feedRows(page, "decision", maya.gid).waitFor({ timeout: 15_000 });
      // That row, by its invocation: more rows of this creator come later.
      const decisionId = await feedRows(page, "decision", maya.gid).getAttribute("data-id");
      const decision = page.locator(`#feed li[data-kind="decision"][data-id="${decisionId}"]`);
      expect(await decision.textContent()).toContain("page_view");
      await expect.poll(() => decision.locator("button.consumer").textContent()).toBe("live-maya");
      await feedRows(page, "decision", other.gid).waitFor({ timeout: 15_000 });

      // One creator: the other's rows are hidden, and the feeds follow that creator alone.
      await page.selectOption("#creator", maya.gid);
      await page.locator('#live[data-state="live"]').waitFor();
      expect(await feedRows(page, "decision", other.gid).isVisible()).toBe(false);
      expect(await decision.isVisible()).toBe(true);
      // A status: rows of any other are hidden (a decision is COMPLETED when the agent acted, else SKIPPED).
      const status = (await decision.getAttribute("data-status")) as string;
      expect(["COMPLETED", "SKIPPED"]).toContain(status);
      // The status filter says each status as its badges write it.
      expect(await page.locator('#status option[value="FAILED"]').textContent()).toBe("FAILED");
      expect(await decision.locator(".badge").textContent()).toBe(status);
      await page.selectOption("#status", "FAILED");
      expect(await decision.isVisible()).toBe(false);
      await page.selectOption("#status", status);
      expect(await decision.isVisible()).toBe(true);
      await page.locator('#kinds input[value="decision"]').uncheck();
      expect(await decision.isVisible()).toBe(false);
      await page.locator('#kinds input[value="decision"]').check();

      // More of the consumer's story than a page of the timeline (20) holds: with their decisions,
      // 20 entries newer than the page_view and its decision.
      const lessons = Array.from({ length: 10 }, (_, i) => ({
        consumer: { externalId: "live-maya" },
        type: "lesson_watched",
        payload: { lesson: i + 1 },
      }));
      const batch = await api.request(IngestEvents, { creatorId: maya.gid, events: lessons }, maya.ingestKey);
      expect(batch.data?.ingestEvents.__typename).toBe("IngestedEvents");
      await eventually(async () => {
        const waiting = await db.event.count({ where: { creatorId: maya.creator.id, processedAt: null } });
        return waiting === 0 ? true : undefined;
      });

      await decision.locator("button.consumer").click();
      const timeline = page.locator("#timeline");
      await timeline.locator("li").nth(19).waitFor();
      expect(await page.locator("#timeline-title").textContent()).toBe("live-maya");
      expect(await timeline.locator("li").count()).toBe(20);
      // Newest first: the page_view and its decision are on the next page.
      await page.click("#timeline-more");
      await timeline.locator('li[data-kind="event"]', { hasText: "page_view" }).waitFor();
      await timeline.locator('li[data-kind="decision"]', { hasText: "Sales agent" }).first().waitFor();
      expect(await timeline.locator("li").count()).toBeGreaterThan(20);
    });
  });

  it("keeps a creator key to its own creator's feed", async () => {
    const [mine, theirs] = await Promise.all([creatorWithAgent(api), creatorWithAgent(api)]);
    await withConsole(mine.creatorKey, async (page) => {
      expect(await page.locator("#creator option").allTextContents()).toEqual([
        `${mine.creator.name} (@${mine.creator.handle})`,
      ]);
      expect(await page.locator("#creator").isDisabled()).toBe(true);
      // Theirs first, and done before mine is sent: had it leaked, it would be in the feed before mine.
      await processed((await ingestPageView(api, theirs, "not-yours")).id);
      await ingestPageView(api, mine, "yours");
      await feedRows(page, "decision", mine.gid).waitFor({ timeout: 15_000 });
      expect(await page.locator(`#feed li[data-creator="${theirs.gid}"]`).count()).toBe(0);
      expect(await page.locator("#feed").textContent()).not.toContain("not-yours");
    });
  });

  it("answers a handed-off conversation, shows the answer planned then sent, and consumers' HTML as text", async () => {
    const owner = await creatorWithAgent(api, { tunables: { replyDelaySeconds: 0 } });
    // Quiet hours off, so that the answer is sent at whatever hour the test runs.
    await db.creator.update({ where: { id: owner.creator.id }, data: { quietHoursStart: 0, quietHoursEnd: 0 } });
    const consumer = {
      externalId: "ops-handoff",
      name: XSS,
      phone: "+14155550123",
      consents: [{ channel: "WHATSAPP", granted: true }],
    };
    await withConsole(owner.creatorKey, async (page) => {
      const ingested = await api.request<{ ingestEvent: { event: { id: string; consumer: { id: string } } } }, unknown>(
        `mutation ($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) {
          ... on IngestedEvent { event { id consumer { id } } } } }`,
        { c: owner.gid, e: { consumer, type: "whatsapp_replied", payload: { channel: "WHATSAPP", text: XSS } } },
        owner.creatorKey,
      );
      const { event } = ingested.data!.ingestEvent;
      await processed(event.id);
      const conversations = await api.request<{ node: { conversations: { id: string; holder: string }[] } }, unknown>(
        `query ($id: ID!) { node(id: $id) { ... on Consumer { conversations { id holder } } } }`,
        { id: event.consumer.id },
        owner.creatorKey,
      );
      const [conversation] = conversations.data!.node.conversations;
      if (conversation.holder !== "PERSON") {
        const handedOff = await api.request(
          `mutation ($id: ID!) { handOffConversation(id: $id, reason: "ops test") { __typename } }`,
          { id: conversation.id },
          owner.creatorKey,
        );
        expect(handedOff.data).toEqual({ handOffConversation: { __typename: "Conversation" } });
      }

      // Arrived live over conversationUpdates; the name is shown as written, as text.
      const handoff = page.locator(`#handoffs li[data-id="${conversation.id}"]`);
      await handoff.waitFor({ timeout: 15_000 });
      expect(await handoff.locator("button.consumer").textContent()).toBe(XSS);
      await handoff.locator("button.open").click();
      const view = page.locator("#conversation");
      await view.locator("li.message.inbound", { hasText: XSS }).waitFor();

      const answer = `Maya here ${XSS} happy to help`;
      await view.locator("textarea").fill(answer);
      await view.locator("button[type=submit]").click();
      await expect.poll(() => view.locator(".outcome").textContent()).toMatch(/^Your answer: planned/);
      // The answer shows in the conversation at once, planned (a person's message is one of the
      // conversation's messages only once sent)...
      const mine = view.locator("li.message.outbound", { hasText: "Maya here" });
      await mine.locator('.badge[data-status="PLANNED"]').waitFor();
      expect(await mine.locator(".text").textContent()).toBe(answer);
      expect(await mine.locator(".meta").textContent()).toMatch(/^by /);
      // ...and, sent by the scheduler, as sent: the action feed says so, the page reads it again.
      await sendDue(testProviders({ smtpUrl: smtp.url, whatsAppUrl: whatsapp.url }));
      await mine.locator('.badge[data-status="SENT"]').waitFor();
      expect(await view.locator("li.message.outbound", { hasText: "Maya here" }).count()).toBe(1);
      expect(await view.locator("li.message.unsent").count()).toBe(0);
      expect(JSON.stringify(whatsapp.received.map((r) => r.body))).toContain("Maya here");
      await expect.poll(() => view.locator(".outcome").textContent()).toBe("Your answer: sent");

      // An answer that will not go stays in view, with why, and the outcome says so.
      const withdrawn = await api.request(
        `mutation ($id: ID!) { setConsent(consumerId: $id, channel: WHATSAPP, granted: false, source: "ops test") { __typename } }`,
        { id: event.consumer.id },
        owner.creatorKey,
      );
      expect(JSON.stringify(withdrawn.data)).toContain("__typename");
      await view.locator("textarea").fill("One more thing");
      await view.locator("button[type=submit]").click();
      await expect.poll(() => view.locator(".outcome").textContent()).toMatch(/^Your answer: planned/);
      await sendDue(testProviders({ smtpUrl: smtp.url, whatsAppUrl: whatsapp.url }));
      const refused = view.locator("li.message.outbound", { hasText: "One more thing" });
      await refused.locator('.badge[data-status="SKIPPED"]').waitFor();
      expect(await refused.locator(".reason").textContent()).toMatch(/WHATSAPP consent/);
      await expect.poll(() => view.locator(".outcome").textContent()).toMatch(/^Your answer: skipped \(.*consent/);

      const actions = await api.request<
        { node: { actions: { edges: { node: { payload: { message?: string }; sentBy: string | null } }[] } } },
        unknown
      >(
        `query ($c: ID!, $consumer: ID!) { node(id: $c) { ... on Creator {
          actions(first: 20, filter: { consumerId: $consumer }) { edges { node { payload sentBy } } } } } }`,
        { c: owner.gid, consumer: event.consumer.id },
        owner.creatorKey,
      );
      const sent = actions.data!.node.actions.edges.find((e) => e.node.payload.message === answer);
      expect(sent?.node.sentBy).toBeTruthy();
      expect(await page.locator("img").count()).toBe(0);
    });
  });

  it("retries a dead letter from the page", async () => {
    const owner = await creatorWithAgent(api);
    const event = await ingestPageView(api, owner, "dead-letter");
    await processed(event.id);
    // A run that failed for good, as the worker leaves one after its attempts (made directly:
    // test/dead-letter.test.ts is where runs fail; here the subject is the console's retry).
    const invocation = await db.agentInvocation.findFirstOrThrow({ where: { eventId: fromGlobalId(event.id).id } });
    await db.agentInvocation.update({
      where: { id: invocation.id },
      data: { status: "FAILED", error: "agent service answered 502", attempts: 3 },
    });
    const gid = toGlobalId("AgentInvocation", invocation.id);

    await withConsole(adminKey, async (page) => {
      const item = page.locator(`#dead-letters li[data-id="${gid}"]`);
      await item.waitFor();
      expect(await item.textContent()).toContain("agent service answered 502");
      await item.locator("button.retry").click();
      await expect.poll(() => item.locator(".outcome").textContent()).toBe("Retried: queued");
      expect(await item.locator("button.retry").isDisabled()).toBe(true);
    });
    // Run again by the worker: finished this time, on a fourth attempt.
    const after = await eventually(async () => {
      const r = await api.request<{ node: { status: string; attempts: number; error: string | null } }, unknown>(
        `query ($id: ID!) { node(id: $id) { ... on AgentInvocation { status attempts error } } }`,
        { id: gid },
        adminKey,
      );
      return ["COMPLETED", "SKIPPED"].includes(r.data?.node.status ?? "") ? r.data?.node : undefined;
    });
    expect(after).toMatchObject({ attempts: 4, error: null });
  });

  it("shows an API error with its code", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${origin()}/ops`);
      await page.fill("#key", "clsr_not_a_key");
      await page.click("#connect button[type=submit]");
      await expect.poll(() => page.locator("#error").textContent()).toMatch(/^UNAUTHENTICATED: /);
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    } finally {
      await page.close();
    }
  });
});

describe("the ops console, on one connection per tab", () => {
  it("stays live in two tabs of one browser beside GraphiQL, and each tab's requests complete", async () => {
    const owner = await creatorWithAgent(api);
    // One browser context: its tabs share the six HTTP/1.1 connections Chromium allows per host.
    const context = await browser.newContext();
    try {
      const first = await openConsole(adminKey, context);
      const second = await openConsole(adminKey, context);
      // GraphiQL in a third tab, running a subscription over SSE as it does: a long-lived HTTP connection.
      const graphiql = await context.newPage();
      await graphiql.goto(`${origin()}/graphql`, { waitUntil: "domcontentloaded" });
      const streaming = await graphiql.evaluate(async (key) => {
        const response = await fetch("/graphql", {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "text/event-stream" },
          body: JSON.stringify({ query: "subscription { agentDecisions { id } }" }),
        });
        // Kept open, unread, for as long as the page lives.
        (window as { __stream?: unknown }).__stream = response.body?.getReader();
        return response.status;
      }, adminKey);
      expect(streaming).toBe(200);

      await ingestPageView(api, owner, "two-tabs");
      for (const { page } of [first, second]) await feedRows(page, "decision", owner.gid).waitFor({ timeout: 15_000 });
      // A request from each tab completes: the consumer's timeline.
      for (const { page } of [first, second]) {
        await feedRows(page, "decision", owner.gid).first().locator("button.consumer").click();
        await page.locator("#timeline li").first().waitFor();
        expect(await page.locator("#timeline-title").textContent()).toBe("two-tabs");
      }
      // And GraphiQL's page still gets answers beside them.
      const answered = await graphiql.evaluate(async (key) => {
        const response = await fetch("/graphql", {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ query: "{ viewer { kind } }" }),
        });
        return response.json();
      }, adminKey);
      expect(answered).toEqual({ data: { viewer: { kind: "ADMIN" } } });
      await closeConsole(first, adminKey);
      await closeConsole(second, adminKey);
    } finally {
      await context.close();
    }
  });

  it("comes back live by itself when the API restarts, however long it takes to answer again", async () => {
    const owner = await creatorWithAgent(api);
    // An API process of its own, stopped and started again on its port as `npm start` would.
    const port = await freePort();
    const start = async () => {
      const child = startProcess("src/server.ts", { PORT: String(port), HOST: "127.0.0.1" });
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      return child;
    };
    const stop = (child: ChildProcess) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    let server = await start();
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const attempts: string[] = [];
    page.on("websocket", (socket) => attempts.push(socket.url()));
    await page.route("**/*", (route) =>
      new URL(route.request().url()).hostname === "127.0.0.1" ? route.continue() : route.abort(),
    );
    try {
      await page.goto(`http://127.0.0.1:${port}/ops`);
      await page.fill("#key", owner.creatorKey);
      await page.click("#connect button[type=submit]");
      await page.locator('#live[data-state="live"]').waitFor();

      await stop(server);
      await page.locator('#live[data-state="reconnecting"]').waitFor();
      // A try while it is down is refused (a browser error Event, no close code): it tries again.
      await eventually(async () => (attempts.length >= 2 ? true : undefined), 20_000, "a second connection attempt");
      server = await start();
      await page.locator('#live[data-state="live"]').waitFor({ timeout: 60_000 });

      await ingestPageView(api, owner, "after-restart");
      await feedRows(page, "decision", owner.gid).waitFor({ timeout: 15_000 });
      expect(await page.locator("#error").isVisible()).toBe(false);
    } finally {
      await page.close();
      await stop(server);
    }
  }, 120_000);

  it("forgets a key revoked while the page is open, empties the console and asks for a key", async () => {
    const owner = await creatorWithAgent(api);
    const opened = await openConsole(owner.creatorKey);
    const { page } = opened;
    await ingestPageView(api, owner, "before-revocation");
    await feedRows(page, "decision", owner.gid).waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);

    const viewer = await api.request<{ viewer: { apiKey: { id: string } } }, unknown>(
      "{ viewer { apiKey { id } } }",
      {},
      owner.creatorKey,
    );
    const revoked = await api.request(RevokeApiKey, { id: viewer.data!.viewer.apiKey.id }, adminKey);
    expect(revoked.data?.revokeApiKey.__typename).toBe("ApiKey");

    await page.locator('#live[data-state="refused"]').waitFor();
    expect(await page.locator("#live").textContent()).toBe("key refused");
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/^UNAUTHENTICATED: /);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Nothing of what the key could see is left on the page, and the key field waits for a new one.
    expect(await page.locator("#console").isVisible()).toBe(false);
    expect(await page.locator("#filters").isVisible()).toBe(false);
    expect(await page.locator("#feed li").count()).toBe(0);
    expect(await page.locator("#creator option").count()).toBe(0);
    expect(await page.locator("#who").textContent()).toBe("");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("key");
    expect(await page.locator("#key").inputValue()).toBe("");
    // A reload does not come back to it.
    await page.reload();
    await page.waitForTimeout(500);
    expect(await page.locator("#console").isVisible()).toBe(false);
    expect(await page.locator("#live").textContent()).toBe("offline");
    await closeConsole(opened, owner.creatorKey, { errorShown: false });
  });
});

describe("the ops console's lists", () => {
  it("says how many there are and reads on with More: creators, hand-offs, dead letters", async () => {
    const owner = await creatorWithAgent(api);
    // More creators than a page of the picker holds (100), more hand-offs at one creator than
    // "All creators" reads at first (10), more failed events than a page of dead letters (50).
    await db.creator.createMany({
      data: Array.from({ length: 101 }, (_, i) => ({ name: `Listed ${i}`, handle: uniqueHandle("listed") })),
    });
    const consumers = await db.consumer.createManyAndReturn({
      data: Array.from({ length: 52 }, (_, i) => ({ creatorId: owner.creator.id, externalId: `listed-${i}` })),
    });
    await db.conversation.createMany({
      data: consumers.slice(0, 12).map((c) => ({
        creatorId: owner.creator.id,
        consumerId: c.id,
        channel: "EMAIL" as const,
        holder: "PERSON" as const,
        holderReason: "asked for a person",
      })),
    });
    await db.event.createMany({
      data: consumers.map((c) => ({
        creatorId: owner.creator.id,
        consumerId: c.id,
        type: "listed_failure",
        occurredAt: new Date(),
        failedAt: new Date(),
        failureReason: "made to fail",
      })),
    });
    const creators = await db.creator.count();
    const failedEvents = await db.event.count({ where: { failedAt: { not: null } } });

    await withConsole(adminKey, async (page) => {
      // The picker: "All creators" and the first 100, the count, and More for the rest.
      expect(await page.locator("#creator option").count()).toBe(101);
      expect(await page.locator("#creator-count").textContent()).toBe(`100 of ${creators} creators`);
      await page.click("#creator-more");
      await expect.poll(() => page.locator("#creator option").count()).toBe(creators + 1);
      expect(await page.locator("#creator-more").isVisible()).toBe(false);
      expect(await page.locator("#creator-count").textContent()).toBe("");

      // Hand-offs of every creator: 10 of this one's 12 at first, the rest with More.
      const handoffs = page.locator(`#handoffs li.handoff[data-creator="${owner.gid}"]`);
      await expect.poll(() => handoffs.count()).toBe(10);
      expect(await page.locator("#handoffs-count").textContent()).toMatch(/^\d+ of \d+ waiting$/);
      await page.click("#handoffs-more");
      await expect.poll(() => handoffs.count()).toBe(12);
      expect(await page.locator("#handoffs-more").isVisible()).toBe(false);
      // One creator: all 12 on its first page.
      await page.selectOption("#creator", owner.gid);
      await expect.poll(() => page.locator("#handoffs li.handoff").count()).toBe(12);
      expect(await page.locator("#handoffs-count").textContent()).toBe("12 waiting");

      // Dead letters: a page of 50 failed events, then the rest.
      await page.selectOption("#creator", "");
      const events = page.locator('#dead-letters li.dead-letter[data-kind="event"]');
      expect(await events.count()).toBe(50);
      expect(await page.locator("#dead-letters-count").textContent()).toMatch(/shown, more to read$/);
      await page.click("#dead-letters-more");
      await expect.poll(() => events.count()).toBe(failedEvents);
      expect(await page.locator("#dead-letters-more").isVisible()).toBe(false);
    });
  });
});

// The README's screenshot, with live data: OPS_SCREENSHOT=1 npx vitest run test/ops-console.test.ts -t screenshot
describe.runIf(process.env.OPS_SCREENSHOT)("the README's screenshot", () => {
  it("is taken of an admin's console with decisions, a handed-off conversation and a dead letter", async () => {
    const creators: MadeCreator[] = [];
    for (const name of ["Maya Rao", "Leo Park"]) {
      const made = await makeCreator({ name, handle: uniqueHandle(name.split(" ")[0].toLowerCase()) });
      await makeActiveProfile(made.creator.id);
      await api.request(
        DeployAgent,
        { input: { creatorId: made.gid, tunables: { replyDelaySeconds: 0 } } },
        made.creatorKey,
      );
      creators.push(made);
    }
    const [maya, leo] = creators;
    const ingest = (owner: MadeCreator, consumer: Record<string, unknown>, type: string, payload = {}) =>
      api.request<{ ingestEvent: { event: { id: string; consumer: { id: string } } } }, unknown>(
        `mutation ($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) {
          ... on IngestedEvent { event { id consumer { id } } } } }`,
        { c: owner.gid, e: { consumer, type, payload } },
        owner.creatorKey,
      );
    const person = (externalId: string, name: string, n: number) => ({
      externalId,
      name,
      email: `${externalId}@example.org`,
      phone: `+1415555${String(1000 + n)}`,
      consents: [
        { channel: "EMAIL", granted: true },
        { channel: "WHATSAPP", granted: true },
      ],
    });
    // A dead letter: a run that failed for good (made directly, as in the retry test above).
    const failed = await ingest(leo, person("ana", "Ana Souza", 1), "page_view", { url: "/coaching" });
    await processed(failed.data!.ingestEvent.event.id);
    await db.agentInvocation.updateMany({
      where: { eventId: fromGlobalId(failed.data!.ingestEvent.event.id).id },
      data: { status: "FAILED", error: "agent service answered 502 Bad Gateway", attempts: 3 },
    });
    // A conversation waiting for a person.
    const priya = person("priya", "Priya Shah", 2);
    const asked = await ingest(maya, priya, "whatsapp_replied", {
      channel: "WHATSAPP",
      text: "Can I get an invoice for my company before I sign up?",
    });
    await processed(asked.data!.ingestEvent.event.id);
    const conversation = (
      await api.request<{ node: { conversations: { id: string; holder: string }[] } }, unknown>(
        `query ($id: ID!) { node(id: $id) { ... on Consumer { conversations { id holder } } } }`,
        { id: asked.data!.ingestEvent.event.consumer.id },
        maya.creatorKey,
      )
    ).data!.node.conversations[0];
    if (conversation.holder !== "PERSON") {
      await api.request(
        `mutation ($id: ID!) { handOffConversation(id: $id, reason: "invoice request") { __typename } }`,
        { id: conversation.id },
        maya.creatorKey,
      );
    }

    const opened = await openConsole(adminKey);
    const { page } = opened;
    await page.setViewportSize({ width: 1440, height: 1000 });
    await page.locator(`#handoffs li[data-id="${conversation.id}"] button.open`).click();
    // Live: these arrive with the page open.
    await ingest(maya, person("sam", "Sam Lee", 3), "page_view", {
      url: "/programs/sprint",
      service: "Leadership Sprint",
    });
    await ingest(leo, person("kim", "Kim Ito", 4), "page_view", { url: "/coaching" });
    await ingest(maya, person("sam", "Sam Lee", 3), "service_click", { service: "Leadership Sprint" });
    await ingest(leo, person("noor", "Noor Haddad", 5), "page_view", { url: "/coaching" });
    await page.locator('#feed li[data-kind="decision"]').nth(3).waitFor({ timeout: 15_000 });
    await page.locator('#feed li[data-kind="decision"] button.consumer', { hasText: "Sam Lee" }).first().click();
    await page.locator("#timeline li").first().waitFor();
    await page.waitForTimeout(500);
    await page.screenshot({ path: "docs/ops-console.png" });
    await closeConsole(opened, adminKey);
  });
});

/** A GET with the path sent exactly as written (fetch would resolve dot segments first). */
function rawGet(path: string): Promise<number> {
  const { hostname, port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: "GET" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A request written as given on a socket, headers and all, with nothing else added; answers the response's head. */
function rawRequest(requestLine: string): Promise<string> {
  const { hostname, port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), hostname, () => {
      socket.write(`${requestLine}\r\nhost: ${hostname}:${port}\r\nconnection: close\r\n\r\n`);
    });
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
    });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

describe("the console's files", () => {
  it("come from this server with their types, a CSP and an ETag; anything else under /ops is a 404", async () => {
    const page = await fetch(`${origin()}/ops`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toBe(OPS_CONTENT_SECURITY_POLICY);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

    for (const [path, type] of [
      ["/ops/ops.js", "text/javascript"],
      ["/ops/graphql-ws.js", "text/javascript"],
      ["/ops/ops.css", "text/css"],
    ]) {
      const asset = await fetch(`${origin()}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("content-type")).toContain(type);
      const etag = asset.headers.get("etag") as string;
      expect(etag).toMatch(/^"[\w-]+"$/);
      expect(asset.headers.get("cache-control")).toBe("no-cache");
      await asset.arrayBuffer();
      const again = await fetch(`${origin()}${path}`, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
      // If-None-Match compares weakly (RFC 9110 §13.1.2): a weak validator of the same tag matches.
      for (const given of [`W/${etag}`, `"other", W/${etag}`, "*"]) {
        const weak = await fetch(`${origin()}${path}`, { headers: { "if-none-match": given } });
        expect(weak.status, given).toBe(304);
      }
      const other = await fetch(`${origin()}${path}`, { headers: { "if-none-match": 'W/"other"' } });
      expect(other.status).toBe(200);
      await other.arrayBuffer();
    }
    // The SSE client is no longer served: the page's feeds go over one WebSocket.
    expect(await rawGet("/ops/graphql-sse.js")).toBe(404);

    for (const path of [
      "/ops/nothing.js",
      "/ops/console.ts",
      "/ops/page/index.html",
      "/ops/../package.json",
      "/ops/..%2f..%2fpackage.json",
      "/ops/%2e%2e/%2e%2e/package.json",
      "/ops/ops.js/",
      "/ops//etc/passwd",
    ]) {
      expect(await rawGet(path), path).toBe(404);
    }
    expect((await fetch(`${origin()}/ops`, { method: "POST" })).status).toBe(405);
    // GraphiQL's page, once rendered, is not what /ops answers a browser (nor does its CSP replace the console's).
    expect((await fetch(`${origin()}/graphql`, { headers: { accept: "text/html" } })).status).toBe(200);
    for (const encoding of ["gzip, deflate, br", "identity"]) {
      const after = await fetch(`${origin()}/ops`, { headers: { accept: "text/html", "accept-encoding": encoding } });
      expect(after.headers.get("content-security-policy"), encoding).toBe(OPS_CONTENT_SECURITY_POLICY);
      expect(await after.text(), encoding).toContain("<title>Closer ops</title>");
    }
    // A POST with no body nor length is answered for /ops (405), not refused for its framing (411).
    expect(await rawRequest("POST /ops HTTP/1.1")).toMatch(/^HTTP\/1\.1 405 /);
  });
});
