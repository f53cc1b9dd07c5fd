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
    const { to, text, template } = JSON.parse(request.body) as {
      to: string;
      text?: { body: string };
      template?: { name: string; language: { code: string }; components?: { parameters: { text?: string }[] }[] };
    };
    const parameters = template?.components?.flatMap((c) => c.parameters.map((p) => p.text)) ?? [];
    const shown = template
      ? `template "${template.name}" (${template.language.code}) with ${JSON.stringify(parameters)}`
      : (text?.body ?? request.body);
    const answer = whatsAppAccepted(request);
    console.log(
      `WhatsApp to ${to}: ${shown}${answer.status === 200 ? "" : ` (refused: ${JSON.stringify(answer.body)})`}`,
    );
    return answer;
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
