// `npm run sinks`: local stand-ins for the email and WhatsApp providers on the ports the default
// configuration sends to (SMTP_URL, WHATSAPP_API_URL), printing every message Closer sends.
import { config } from "../src/config.js";
import { startHttpSink, startSmtpSink, whatsAppAccepted } from "./sinks.js";

const smtpPort = Number(new URL(config().SMTP_URL).port);
const whatsAppPort = Number(new URL(config().WHATSAPP_API_URL).port);

const smtp = await startSmtpSink(smtpPort);
const http = await startHttpSink(whatsAppPort);
http.reply = (request) => {
  if (request.method === "POST" && request.path.endsWith("/messages")) {
    const { to, text } = JSON.parse(request.body) as { to: string; text?: { body: string } };
    console.log(`WhatsApp to ${to}: ${text?.body ?? request.body}`);
    return whatsAppAccepted(request);
  }
  console.log(`HTTP ${request.method} ${request.path}: ${request.body}`);
  return { status: 200, body: {} };
};

let shown = 0;
setInterval(() => {
  for (const mail of smtp.received.slice(shown)) {
    const subject = /^Subject: (.*)$/m.exec(mail.raw)?.[1] ?? "";
    console.log(`Email to ${mail.to.join(", ")}: ${subject}`);
  }
  shown = smtp.received.length;
}, 200);

console.log(`SMTP sink on ${smtp.url}, WhatsApp Cloud API sink on ${http.url} — Ctrl-C to stop`);
process.once("SIGINT", async () => {
  await Promise.all([smtp.close(), http.close()]);
  process.exit(0);
});
