// `npm run sinks`: local stand-ins for the email and WhatsApp providers on the ports the default
// configuration sends to (SMTP_URL, WHATSAPP_API_URL), printing every message Closer sends.
import { describeSunkMessage, startProviderSinks } from "./sinks.js";

const sinks = await startProviderSinks((message) => console.log(describeSunkMessage(message)), console.log);

console.log(`SMTP sink on ${sinks.smtp.url}, WhatsApp Cloud API sink on ${sinks.http.url} — Ctrl-C to stop`);
process.once("SIGINT", async () => {
  await sinks.close();
  process.exit(0);
});
