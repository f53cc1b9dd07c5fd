import { request as httpRequest } from "node:http";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MadeCreator, makeActiveProfile, makeAdminKey, makeCreator, uniqueHandle } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { OPS_CONTENT_SECURITY_POLICY } from "../src/ops/console.js";
import { useApi } from "./support/api.js";
import { fromGlobalId, toGlobalId } from "./support/ids.js";
import { creatorWithAgent, DeployAgent, IngestEvents, ingestPageView } from "./support/operations.js";
import { eventually } from "./support/processes.js";

// The ops console at /ops, in headless Chromium with no way out (every request that leaves this
// machine is refused and recorded), against the real API and worker: what an operator sees arrives
// live, and what they do from the page reaches the API.

const api = useApi({ worker: true });
let browser: Browser;
let adminKey: string;

/** Set by a consumer's name or message if the page ever ran it as HTML. */
const XSS = `<img src=x onerror="window.__xss = 1">`;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
  });
  adminKey = await makeAdminKey();
});

afterAll(async () => {
  await browser?.close();
});

const origin = () => new URL(api.url).origin;

type Console = { page: Page; outside: string[]; requested: string[]; problems: string[] };

/** The console in a new page, connected with the key, its four feeds live. */
async function openConsole(key: string): Promise<Console> {
  const page = await browser.newPage();
  // Shorter than the test's own timeout, so a step that waits in vain fails with its screenshot.
  page.setDefaultTimeout(10_000);
  const opened: Console = { page, outside: [], requested: [], problems: [] };
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    opened.requested.push(url.href);
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

/** What every test checks at the end: nothing left the machine, the key never went into a URL, no script error. */
async function closeConsole({ page, outside, requested, problems }: Console, key: string) {
  try {
    expect(outside).toEqual([]);
    expect(requested.filter((url) => url.includes(key))).toEqual([]);
    expect(page.url()).not.toContain(key);
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(problems).toEqual([]);
    expect(await page.locator("#error").isVisible()).toBe(false);
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
      (await db.event.findUniqueOrThrow({ where: { id: fromGlobalId(eventGid).id } })).processedAt ? true : undefined,
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

  it("answers a handed-off conversation and shows consumers' HTML as text", async () => {
    const owner = await creatorWithAgent(api, { tunables: { replyDelaySeconds: 0 } });
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
      await expect.poll(() => view.locator(".outcome").textContent()).toMatch(/^Sent: message planned/);

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
      ["/ops/graphql-sse.js", "text/javascript"],
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
    }

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
  });
});
