import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// A local stand-in for the OpenAI API: POST /v1/chat/completions with the real JSON shapes
// (completion, usage, error bodies), so the real `openai` SDK runs against it unchanged.

export type ChatRequest = {
  model: string;
  messages: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { name: string; strict?: boolean; schema: unknown } };
  temperature?: number;
  [key: string]: unknown;
};

export type RecordedRequest = { body: ChatRequest; headers: IncomingMessage["headers"]; receivedAt: number };

/** What the server does with one request. */
export type Reply =
  | { kind: "answer"; content: string | null; promptTokens?: number; completionTokens?: number; finishReason?: string }
  | { kind: "error"; status: number; message: string; type?: string; code?: string; headers?: Record<string, string> }
  /** Never answers (the client's timeout fires). */
  | { kind: "hang" };

/** Chooses the reply to the n-th request (0-based) since the last `behave` call. */
export type Behaviour = (request: ChatRequest, index: number) => Reply;

export const answer = (content: string | null, usage = { promptTokens: 1200, completionTokens: 800 }): Reply => ({
  kind: "answer",
  content,
  ...usage,
});

export const apiError = (status: number, message: string, headers?: Record<string, string>): Reply => ({
  kind: "error",
  status,
  message,
  type: status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error",
  code: status === 429 ? "rate_limit_exceeded" : undefined,
  headers,
});

export async function startFakeOpenAI() {
  let behaviour: Behaviour = () => apiError(500, "no behaviour set for this test");
  let requests: RecordedRequest[] = [];

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      return send(res, 404, {
        error: { message: `Unknown route ${req.method} ${req.url}`, type: "invalid_request_error" },
      });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: ChatRequest;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(res, 400, { error: { message: "We could not parse the JSON body", type: "invalid_request_error" } });
    }
    const index = requests.length;
    requests.push({ body, headers: req.headers, receivedAt: Date.now() });
    const reply = behaviour(body, index);
    if (reply.kind === "hang") return; // the socket is closed by the client's abort, or by close()
    if (reply.kind === "error") {
      return send(
        res,
        reply.status,
        { error: { message: reply.message, type: reply.type ?? null, param: null, code: reply.code ?? null } },
        { "x-request-id": `req_fake_${index}`, ...reply.headers },
      );
    }
    const promptTokens = reply.promptTokens ?? 0;
    const completionTokens = reply.completionTokens ?? 0;
    send(
      res,
      200,
      {
        id: `chatcmpl-fake-${index}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: reply.content, refusal: null, annotations: [] },
            finish_reason: reply.finishReason ?? "stop",
            logprobs: null,
          },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      },
      { "x-request-id": `req_fake_${index}` },
    );
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    /** The base URL for OPENAI_BASE_URL. */
    url: `http://127.0.0.1:${port}/v1`,
    /** Sets how the next requests are answered, and forgets the requests seen so far. */
    behave(next: Behaviour) {
      behaviour = next;
      requests = [];
    },
    get requests(): readonly RecordedRequest[] {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeOpenAI = Awaited<ReturnType<typeof startFakeOpenAI>>;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
