import nodemailer, { type NodemailerError } from "nodemailer";
import type { EmailPayload } from "../action-payload.js";
import type { FailureKind, Provider, SendResult } from "./provider.js";

export type EmailSettings = {
  /** smtp://user:pass@host:port, or smtps:// for implicit TLS. */
  smtpUrl: string;
  from: string;
  timeoutMs: number;
};

/** Failures raised before the SMTP transaction began: nothing was handed over. */
const BEFORE_TRANSACTION = new Set(["EDNS", "EAUTH", "ENOAUTH", "ECONFIG", "ETLS"]);
const NOT_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * A server reply says what happened (5xx: refused for good, 4xx: try later). Without one, only a
 * failure to connect proves the message was not sent; a connection lost mid-session may have
 * delivered it.
 */
function classify(error: NodemailerError): FailureKind {
  if (typeof error.responseCode === "number") return error.permanent ? "rejected" : "transient";
  if (BEFORE_TRANSACTION.has(error.code ?? "")) return "transient";
  if (NOT_CONNECTED.has(error.originalCode ?? "")) return "transient";
  if (error.timeoutType === "CONNECT_TIMEOUT" || error.timeoutType === "GREETING_TIMEOUT") return "transient";
  return "unknown";
}

/** The domain Message-IDs are made in: the sender's. */
function senderDomain(from: string): string {
  return /@([^>\s]+)/.exec(from)?.[1] ?? "closer.local";
}

/** Email over SMTP through a pooled nodemailer transport; the Message-ID is derived from the action id. */
export function createEmailProvider(settings: EmailSettings): Provider<EmailPayload> {
  const transport = nodemailer.createTransport({
    url: settings.smtpUrl,
    pool: true,
    maxConnections: 5,
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
  });
  const domain = senderDomain(settings.from);

  return {
    name: "smtp",
    async send({ actionId, creatorName, payload }): Promise<SendResult> {
      try {
        const info = await transport.sendMail({
          from: settings.from,
          to: payload.to,
          subject: payload.subject ?? `A message from ${creatorName}`,
          text: payload.message,
          messageId: `<${actionId}@${domain}>`,
          headers: { "X-Closer-Action": actionId },
        });
        return {
          ok: true,
          providerMessageId: info.messageId,
          answer: { response: info.response, messageId: info.messageId },
        };
      } catch (caught) {
        const error = caught as NodemailerError;
        return {
          ok: false,
          kind: classify(error),
          reason: error.response ?? error.message,
          answer: {
            error: error.message,
            code: error.code ?? null,
            command: error.command ?? null,
            responseCode: error.responseCode ?? null,
            response: error.response ?? null,
          },
        };
      }
    },
    close: async () => transport.close(),
  };
}
