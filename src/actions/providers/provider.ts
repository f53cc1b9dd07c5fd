import type { EmailPayload, WebhookPayload, WhatsAppPayload } from "../action-payload.js";

/** What the provider answered, stored on the action as providerResponse. */
export type ProviderAnswer = Record<string, unknown>;

/**
 * Why a send failed decides what happens next:
 * - `transient`: not delivered, a later try may work (4xx SMTP reply, HTTP 429 or 5xx, connection
 *   refused): retried with backoff, then failed;
 * - `rejected`: the provider refused this message for good (5xx SMTP reply, HTTP 4xx): failed at once;
 * - `unknown`: the message may have gone out (timeout or connection lost mid-request): failed and
 *   never retried, since each action is sent at most once.
 */
export type FailureKind = "transient" | "rejected" | "unknown";

export type SendResult =
  | { ok: true; providerMessageId: string | null; answer: ProviderAnswer }
  | { ok: false; kind: FailureKind; reason: string; answer: ProviderAnswer };

export type SendRequest<P> = {
  actionId: string;
  /** Shown to the recipient where the channel has room for it (the email's default subject). */
  creatorName: string;
  payload: P;
};

export interface Provider<P> {
  /** Names the provider's send-rate bucket, shared by every worker. */
  readonly name: string;
  /** Never throws: every failure is a SendResult, classified by kind. */
  send(request: SendRequest<P>): Promise<SendResult>;
  close(): Promise<void>;
}

export type ChannelProviders = {
  EMAIL: Provider<EmailPayload>;
  WHATSAPP: Provider<WhatsAppPayload>;
  WEBHOOK: Provider<WebhookPayload>;
};
