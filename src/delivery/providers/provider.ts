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

/** A message the provider accepted. */
export type SendSuccess = {
  ok: true;
  providerMessageId: string | null;
  answer: ProviderAnswer;
  /** The sender it went out from (WhatsApp: the phone_number_id), when the channel has several. */
  sentFrom?: string;
  /** The recipient as the provider knows it (WhatsApp: the wa_id of the answer's contact). */
  recipientId?: string;
};

export type SendResult = SendSuccess | { ok: false; kind: FailureKind; reason: string; answer: ProviderAnswer };

/** A creator's own WhatsApp Business number, used instead of the platform's shared one. */
export type WhatsAppSenderCredentials = { phoneNumberId: string; accessToken: string };

export type SendRequest<P> = {
  actionId: string;
  /** Shown to the recipient where the channel has room for it (the email's default subject). */
  creatorName: string;
  payload: P;
  /** WhatsApp only: the creator's own number; absent, the platform's (WHATSAPP_PHONE_NUMBER_ID). */
  whatsAppSender?: WhatsAppSenderCredentials | null;
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
