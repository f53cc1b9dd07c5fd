import type { Config } from "../../config.js";
import { createEmailProvider } from "./email.js";
import type { ChannelProviders } from "./provider.js";
import { createWebhookProvider } from "./webhook.js";
import { createWhatsAppProvider } from "./whatsapp.js";

/** One provider per channel, endpoints and credentials from the configuration. */
export function providersFromConfig(settings: Config): ChannelProviders {
  return {
    EMAIL: createEmailProvider({
      smtpUrl: settings.SMTP_URL,
      from: settings.EMAIL_FROM,
      timeoutMs: settings.PROVIDER_TIMEOUT_MS,
    }),
    WHATSAPP: createWhatsAppProvider({
      apiUrl: settings.WHATSAPP_API_URL,
      phoneNumberId: settings.WHATSAPP_PHONE_NUMBER_ID,
      token: settings.WHATSAPP_TOKEN,
      timeoutMs: settings.PROVIDER_TIMEOUT_MS,
    }),
    WEBHOOK: createWebhookProvider({
      signingSecret: settings.WEBHOOK_SIGNING_SECRET,
      timeoutMs: settings.PROVIDER_TIMEOUT_MS,
    }),
  };
}

export type { ChannelProviders, Provider, SendResult } from "./provider.js";
