import { get } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCreator } from "../scripts/fixtures.js";
import { useApi } from "./support/api.js";

// GraphiQL as a browser with no way out gets it: every request that leaves this machine is
// refused, as on a network without a CDN. Headless Chromium (Debian's) driven by playwright-core.

const api = useApi();
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe("GraphiQL", () => {
  it("loads and runs a query with the key in its headers tab, with no request leaving this machine", async () => {
    const owner = await makeCreator();
    const page = await browser.newPage();
    const outside: string[] = [];
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (["127.0.0.1", "localhost"].includes(url.hostname) || url.protocol === "blob:" || url.protocol === "data:") {
        return route.continue();
      }
      outside.push(url.href);
      return route.abort();
    });
    try {
      await page.goto(api.url, { waitUntil: "load" });
      await page.locator(".graphiql-container").first().waitFor({ timeout: 20_000 });

      // Each editor is filled as a person would: select all, write; what the editor closes on its
      // own (a brace, a quote) is cut after the cursor.
      const fill = async (editor: string, text: string) => {
        await page.locator(editor).last().click();
        await page.keyboard.press("ControlOrMeta+A");
        await page.keyboard.insertText(text);
        await page.keyboard.press("Shift+ControlOrMeta+End");
        await page.keyboard.press("Delete");
      };
      // A newcomer first reads where the key goes, with the Headers tab open for it.
      const editor = page.locator(".graphiql-query-editor .monaco-editor").last();
      await expect.poll(async () => editor.textContent(), { timeout: 10_000 }).toContain("authorization");
      expect(await page.locator(".graphiql-editor-tool .monaco-editor").last().isVisible()).toBe(true);
      await fill(".graphiql-query-editor .monaco-editor", "{ viewer { __typename kind } }");
      await page.getByText("Headers", { exact: true }).click();
      await fill(".graphiql-editor-tool .monaco-editor", `{"authorization": "Bearer ${owner.creatorKey}"}`);
      await page.locator(".graphiql-execute-button").click();

      const result = page.locator(".graphiql-response").first();
      await expect.poll(async () => result.textContent(), { timeout: 15_000 }).toContain("CREATOR");
      expect(await result.textContent()).not.toMatch(/errors/);
      expect(outside).toEqual([]);
    } catch (error) {
      await page.screenshot({ path: "/tmp/graphiql-failure.png" });
      throw error;
    } finally {
      await page.close();
    }
  });

  it("comes from this server alone, and a browser that has it revalidates it for a 304 instead of 9 MB", async () => {
    const first = await fetch(api.url, { headers: { accept: "text/html" } });
    expect(first.status).toBe(200);
    const page = await first.text();
    expect(page).toContain("<title>Closer</title>");
    expect(page).not.toMatch(/https?:\/\/(unpkg\.com|cdn\.jsdelivr\.net|esm\.sh)/);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers.get("cache-control")).toBe("no-cache");
    expect(first.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    expect(first.headers.get("x-frame-options")).toBe("DENY");

    const again = await fetch(api.url, { headers: { accept: "text/html", "if-none-match": etag as string } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const changed = await fetch(api.url, { headers: { accept: "text/html", "if-none-match": '"another"' } });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
  });

  it("goes compressed to a client that accepts Brotli or gzip, whole to one that accepts neither", async () => {
    /** The page's bytes as they cross the wire (fetch would decompress them). */
    const raw = (acceptEncoding: string | null) =>
      new Promise<{ encoding: string | undefined; vary: string | undefined; body: Buffer }>((resolve, reject) => {
        const headers = {
          accept: "text/html",
          ...(acceptEncoding === null ? {} : { "accept-encoding": acceptEncoding }),
        };
        get(api.url, { headers }, (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              encoding: response.headers["content-encoding"],
              vary: response.headers.vary,
              body: Buffer.concat(chunks),
            }),
          );
        }).on("error", reject);
      });
    const whole = await raw(null);
    expect(whole.encoding).toBeUndefined();
    expect(whole.body.length).toBeGreaterThan(8_000_000);
    expect(whole.vary).toMatch(/accept-encoding/i);

    const br = await raw("br, gzip;q=0.9");
    expect(br.encoding).toBe("br");
    expect(br.body.length).toBeLessThan(whole.body.length / 4);
    expect(brotliDecompressSync(br.body).equals(whole.body)).toBe(true);

    const gzip = await raw("gzip;q=1.0, br;q=0");
    expect(gzip.encoding).toBe("gzip");
    expect(gzip.body.length).toBeLessThan(whole.body.length / 3);
    expect(gunzipSync(gzip.body).equals(whole.body)).toBe(true);

    expect((await raw("identity, br;q=0, gzip;q=0")).encoding).toBeUndefined();
  });
});
