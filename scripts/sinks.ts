import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

// Local stand-ins for the providers' endpoints: an SMTP server and an HTTP server that answers
// like the WhatsApp Cloud API. The delivery tests use them, and `npm run sinks` runs them for a
// developer watching Closer send.

export type ReceivedMail = { from: string; to: string[]; raw: string };

/**
 * An SMTP server that keeps what it receives. Recipients whose local part starts with "bounce"
 * are refused with 550, those starting with "busy" with 451.
 */
export async function startSmtpSink(listenPort = 0) {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, callback) {
      const refusal = address.address.startsWith("bounce")
        ? { code: 550, text: "5.1.1 mailbox unavailable" }
        : address.address.startsWith("busy")
          ? { code: 451, text: "4.3.0 try again later" }
          : null;
      if (!refusal) return callback();
      callback(Object.assign(new Error(refusal.text), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type HttpReply = { status: number; body?: unknown; delayMs?: number };
export type ReceivedRequest = {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** What the sink answered. */
  answer?: HttpReply;
};

/**
 * An HTTP server that records each request and answers with what `reply` says (200 and an
 * empty JSON object by default). Tests replace `reply` to make the provider fail or wait.
 */
export async function startHttpSink(listenPort = 0) {
  const received: ReceivedRequest[] = [];
  const sink = {
    received,
    url: "",
    reply: (_request: ReceivedRequest): HttpReply | Promise<HttpReply> => ({ status: 200, body: {} }),
    close: () => Promise.resolve(),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const request: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(request);
      const answer = await sink.reply(request);
      request.answer = answer;
      const send = () =>
        res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body ?? {}));
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  sink.url = `http://127.0.0.1:${port}`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sink;
}

export type HttpSink = Awaited<ReturnType<typeof startHttpSink>>;
export type SmtpSink = Awaited<ReturnType<typeof startSmtpSink>>;

type CloudApiBody = {
  messaging_product?: unknown;
  recipient_type?: unknown;
  to?: unknown;
  type?: unknown;
  text?: { body?: unknown } | null;
  template?: {
    name?: unknown;
    language?: { code?: unknown } | null;
    components?: unknown;
  } | null;
};

/**
 * What is wrong with a request to the Cloud API's messages endpoint, or null: the shape of a text
 * message (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages) or a
 * template message (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates),
 * the only two Closer sends.
 */
export function cloudApiRequestProblem(raw: string): string | null {
  let body: CloudApiBody;
  try {
    body = JSON.parse(raw) as CloudApiBody;
  } catch {
    return "the body is not JSON";
  }
  if (body?.messaging_product !== "whatsapp") return 'messaging_product must be "whatsapp"';
  if (body.recipient_type !== undefined && body.recipient_type !== "individual")
    return 'recipient_type must be "individual"';
  if (typeof body.to !== "string" || body.to.length === 0) return "to is required";
  if (body.type === "text") {
    const text = body.text?.body;
    if (typeof text !== "string" || text.length === 0 || text.length > 4096) return "text.body: 1 to 4096 characters";
    return null;
  }
  if (body.type !== "template") return `unsupported message type ${JSON.stringify(body.type)}`;
  const template = body.template;
  if (typeof template?.name !== "string" || !/^[a-z0-9_]{1,512}$/.test(template.name))
    return "template.name is invalid";
  if (typeof template.language?.code !== "string" || template.language.code.length === 0) {
    return "template.language.code is required";
  }
  if (template.components === undefined) return null;
  if (!Array.isArray(template.components)) return "template.components must be an array";
  for (const component of template.components as { type?: unknown; parameters?: unknown }[]) {
    if (!["header", "body", "button"].includes(String(component?.type))) return "a component's type is invalid";
    if (!Array.isArray(component.parameters)) return "a component's parameters must be an array";
    for (const parameter of component.parameters as { type?: unknown; text?: unknown }[]) {
      if (parameter?.type !== "text") continue;
      if (typeof parameter.text !== "string" || parameter.text.length === 0) return "a text parameter needs its text";
      // Cloud API error 132018.
      if (/[\n\t]| {5}/.test(parameter.text)) return "a parameter's text has a line break, a tab or 5 spaces in a row";
    }
  }
  return null;
}

/**
 * A WhatsApp Cloud API answer for a request, with a message id the test can find again (wamidOf);
 * a request of the wrong shape gets the API's 400 "(#100) Invalid parameter" instead.
 */
export function whatsAppAccepted(request: ReceivedRequest): HttpReply {
  const problem = cloudApiRequestProblem(request.body);
  if (problem) {
    return {
      status: 400,
      body: {
        error: {
          message: "(#100) Invalid parameter",
          type: "OAuthException",
          code: 100,
          error_data: { messaging_product: "whatsapp", details: problem },
        },
      },
    };
  }
  const to = (JSON.parse(request.body) as { to: string }).to;
  return {
    status: 200,
    body: {
      messaging_product: "whatsapp",
      contacts: [{ input: to, wa_id: to.replace("+", "") }],
      messages: [{ id: `wamid.${randomBytes(8).toString("hex")}` }],
    },
  };
}

/** The message id the WhatsApp sink answered a request with. */
export function wamidOf(request: ReceivedRequest): string {
  const body = request.answer?.body as { messages?: { id: string }[] } | undefined;
  const id = body?.messages?.[0]?.id;
  if (!id) throw new Error(`the WhatsApp sink answered ${JSON.stringify(request.answer)}, without a message id`);
  return id;
}
