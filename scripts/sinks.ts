import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { config } from "../src/config.js";

// Local stand-ins for the providers' endpoints: an SMTP server and an HTTP server that answers
// like the WhatsApp Cloud API. The delivery tests use them, and `npm run sinks` runs them for a
// developer watching Closer send.

export type ReceivedMail = { from: string; to: string[]; raw: string };

/**
 * An SMTP server that keeps what it receives, and hands each mail to `onMail` as it arrives.
 * Recipients whose local part starts with "bounce" are refused with 550, those starting with
 * "busy" with 451.
 */
export async function startSmtpSink(listenPort = 0, onMail: (mail: ReceivedMail) => void = () => {}) {
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
        const mail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        };
        received.push(mail);
        onMail(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    // A port already taken (EADDRINUSE) is the caller's to handle, not an unhandled error event.
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  // A sender gone in the middle of a mail (a worker killed while sending) resets its connection,
  // which smtp-server reports as an error event: that mail is not received, and the sink goes on.
  server.on("error", () => {});
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
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
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

/** A message one of the sinks received, as a person reads it. */
export type SunkMessage = {
  channel: "EMAIL" | "WHATSAPP";
  /** The email address, or the WhatsApp number as sent (E.164 without "+", or with it). */
  to: string;
  /** An email's subject; for WhatsApp, the template's name and language when it is a template message. */
  subject: string | null;
  /** The email's plain text, the WhatsApp text body, or a template's body parameters. */
  text: string;
  /** Why the WhatsApp stand-in refused the request (a malformed Cloud API body), or null. */
  refused: string | null;
};

/** A sunk message for a terminal: "Email to a@b.example [subject]", then its text indented. */
export function describeSunkMessage(message: SunkMessage): string {
  const head = message.channel === "EMAIL" ? "Email" : "WhatsApp";
  const subject = message.subject ? ` [${message.subject}]` : "";
  const refused = message.refused ? ` (refused: ${message.refused})` : "";
  return `${head} to ${message.to}${subject}${refused}\n  ${message.text.replaceAll("\n", "\n  ")}`;
}

/**
 * The local stand-ins `npm run sinks` and `npm run demo` run: an SMTP server and a WhatsApp Cloud
 * API, on the ports the configuration sends to (SMTP_URL, WHATSAPP_API_URL), calling `onMessage`
 * with every message as it arrives (emails decoded from MIME by mailparser). Other requests to the
 * WhatsApp stand-in get `onOther`. Rejects with EADDRINUSE when something already listens there.
 */
export async function startProviderSinks(onMessage: (message: SunkMessage) => void, onOther = (_line: string) => {}) {
  const smtp = await startSmtpSink(Number(new URL(config().SMTP_URL).port), (mail) => {
    void simpleParser(mail.raw).then((parsed) =>
      onMessage({
        channel: "EMAIL",
        to: mail.to.join(", "),
        subject: parsed.subject ?? null,
        text: (parsed.text ?? "").trim(),
        refused: null,
      }),
    );
  });
  let http: HttpSink;
  try {
    http = await startHttpSink(Number(new URL(config().WHATSAPP_API_URL).port));
  } catch (error) {
    await smtp.close();
    throw error;
  }
  http.reply = (request) => {
    if (request.method !== "POST" || !request.path.endsWith("/messages")) {
      onOther(`HTTP ${request.method} ${request.path}: ${request.body}`);
      return { status: 200, body: {} };
    }
    const answer = whatsAppAccepted(request);
    const { to, text, template } = JSON.parse(request.body) as {
      to?: string;
      text?: { body?: string };
      template?: { name?: string; language?: { code?: string }; components?: { parameters?: { text?: string }[] }[] };
    };
    const parameters = template?.components?.flatMap((c) => (c.parameters ?? []).map((p) => p.text ?? "")) ?? [];
    onMessage({
      channel: "WHATSAPP",
      to: to ?? "",
      subject: template ? `template ${template.name} (${template.language?.code})` : null,
      text: template ? parameters.map((p, i) => `{{${i + 1}}} ${p}`).join("\n") : (text?.body ?? request.body),
      refused: answer.status === 200 ? null : JSON.stringify(answer.body),
    });
    return answer;
  };
  return {
    smtp,
    http,
    close: () => Promise.all([smtp.close(), http.close()]).then(() => undefined),
  };
}
