import { type ClientRequest, request } from "node:http";

// A lean GraphQL-over-SSE subscriber: each `next` message goes to the callback the moment its
// frame is complete, stamped with the time it arrived (test/support/sse.ts buffers and scans).

export async function subscribeSse(
  url: string,
  query: string,
  variables: object,
  apiKey: string,
  onMessage: (data: unknown, receivedAt: number) => void,
): Promise<{ close(): void }> {
  const body = JSON.stringify({ query, variables });
  let req: ClientRequest | undefined;
  await new Promise<void>((resolve, reject) => {
    req = request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          accept: "text/event-stream",
          authorization: `Bearer ${apiKey}`,
        },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`subscription refused: HTTP ${res.statusCode}`));
        let buffer = "";
        let opened = false;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          const now = performance.now();
          // Yoga writes a keep-alive once the subscription is registered server-side.
          if (!opened) {
            opened = true;
            resolve();
          }
          buffer += chunk;
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (!frame.includes("event: next")) continue;
            const data = frame
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).trim())
              .join("");
            if (data) onMessage(JSON.parse(data), now);
          }
        });
        res.on("error", () => {});
      },
    );
    req.on("error", reject);
    req.end(body);
    // Should the keep-alive not come, carry on after a while (early messages may then be missed).
    setTimeout(resolve, 3_000).unref();
  });
  return { close: () => req?.destroy() };
}
