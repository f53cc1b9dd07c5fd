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

/** A WhatsApp Cloud API answer for a request, with a message id the test can find again (wamidOf). */
export function whatsAppAccepted(request: ReceivedRequest): HttpReply {
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
