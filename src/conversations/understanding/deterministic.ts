import type { Channel } from "../../generated/prisma/enums.js";
import type { ProfileService } from "../../profiles/profile-content.js";
import {
  intentOnly,
  type ObjectionKind,
  type QuestionTopic,
  type SupportKind,
  strongest,
  type Understanding,
} from "./intent.js";
import type { Understander, UnderstandingRequest } from "./understander.js";

// The understander used without a model: phrase lists in English, Spanish, Portuguese, French,
// German and Hindi written in Latin script (Hinglish), matched on text folded to lower case
// without accents. Each message of a burst is understood apart, and the strongest intent wins.

/** Lower case, accents and curly apostrophes folded, spaces collapsed: "¿Cuánto   cuesta?" -> "¿cuanto cuesta?". */
export function fold(text: string): string {
  return text
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc`´]/g, "'")
    .replace(/\s+/g, " ")
    .trim();
}

const any = (...patterns: string[]) => new RegExp(patterns.join("|"), "u");

/** Opt-outs in plain words. A bare "stop" (or "baja", "parar", "stopp") is one too. */
const OPT_OUT = any(
  // English
  "^(stop|unsubscribe|unsub|opt ?out|cancel|quit|end|remove me|wrong number)[\\s\\p{P}\\p{Extended_Pictographic}\\uFE0F]*$",
  // "stop", "stop please", "STOP!!! 😡", "stop stop stop": nothing but stopping.
  "^(stop[\\s\\p{P}\\p{Extended_Pictographic}\\uFE0F]*)+((please|pls|plz|now|already|it|thanks|thank you|right now)[\\s\\p{P}\\p{Extended_Pictographic}\\uFE0F]*)?$",
  "(?<!(don't|dont|do not|never) )\\b(stop|quit) (messaging|texting|msging|msg|sending|contacting|emailing|writing|spamming|bothering|bugging|the (messages|texts|emails))\\b",
  "\\bstop receiving\\b",
  "\\b(please|pls|plz) stop[\\s\\p{P}\\p{Extended_Pictographic}\\uFE0F]*$",
  "\\b(lose|delete|remove) my (number|email|e-mail|contact)\\b",
  "^(go away|fuck off|piss off)\\b",
  "\\bunsu?bs?c?ribe\\b",
  "\\bleave me alone\\b",
  "\\b(don't|dont|do not|never) (ever )?(message|msg|text|contact|email|e-mail|write to|whatsapp|spam) me\\b(?! back)(?! (before|after|until|till|on|at|during|in the)\\b)",
  "\\b(don't|dont|do not) (send|want) (me )?(any )?more (messages|emails|e-mails|texts|whatsapps?)\\b",
  "\\bremove me( from (your|this|the) (list|mailing list|contacts|database))?[\\s\\p{P}]*$",
  "\\btake me off (your|this|the) (list|mailing list)\\b",
  "\\bopt(ing)?[ -]?out[\\s\\p{P}]*$",
  "\\bopt(ing)?[ -]out of (these|your|all|the) (messages|emails|texts|list|newsletter)\\b",
  "\\bno more (messages|emails|texts|whatsapps?)\\b",
  "^no (more )?(whatsapps?|texts|emails|e-mails|messages)\\b",
  "\\bstop the (texts|emails|e-mails|whatsapps?)\\b",
  "\\bi never (asked for|signed up for|subscribed to) (this|these|them|your|any of this)\\b",
  "\\bwrong number\\b",
  // Spanish
  "\\bno me (escribas|escriban|escriba|envies|envien|envie|mandes|manden|mande|contactes|contacten|contacte|molestes|molesten|moleste) mas\\b",
  "\\bno me (contactes|contacten|contacte|molestes|molesten|moleste)\\b",
  "\\bdej(a|e|en)(me)? en paz\\b",
  "\\bborra(me)? de (la|tu|su) lista\\b",
  "\\bno mas mensajes\\b",
  "\\bno quiero recibir mas\\b",
  "^basta[\\s\\p{P}]*$",
  "\\bdej(a|e|en) de (escribirme|enviarme|mandarme|contactarme|molestarme)\\b",
  "\\bdar(me)? de baja\\b(?! (del|de la|de mi|de el) (curso|programa|suscripcion|plan|sprint))",
  "^baja[\\s\\p{P}]*$",
  "\\bno quiero (recibir )?mas (mensajes|correos|emails)\\b",
  // Portuguese
  "\\bpar(e|em) de (me )?(enviar|mandar|escrever|contatar|incomodar)\\b",
  "\\bnao me (mande|mandem|envie|enviem|escreva|escrevam|contate|contatem|incomode|incomodem) mais\\b",
  "\\bme deix(e|a|em) em paz\\b",
  "\\bdescadastr",
  "(?<!nao quero )\\bsair da lista\\b(?! de espera)",
  "\\bnao quero (receber )?mais (receber )?(mensagens|emails|e-mails)\\b",
  "^(por favor,? )?(pare|parem)\\b[^?]{0,20}$",
  "^para[\\s!.]*$",
  "\\bpare com isso\\b",
  "\\bme tir(a|e|em) d(a|essa|esta) lista\\b",
  "\\bchega de mensagens\\b",
  // French
  "\\barret(ez|e) de m'(envoyer|ecrire|contacter|deranger)\\b",
  "\\bne m'(ecrivez|ecris|envoyez|envoie) plus\\b",
  "\\bne me (contactez|contacte|ecrivez|ecris|envoyez|envoie) plus\\b",
  "\\bne plus m'(ecrire|envoyer)\\b",
  "\\bne plus me (contacter|deranger|relancer)\\b",
  "^arret(e|ez)\\b[^?]{0,20}$",
  "^plus de (messages|mails|e-mails)\\b",
  "\\blaiss(ez|e)[- ]moi tranquille\\b",
  "\\bdesabonn",
  "\\bdesinscri(?!\\w* (du|de la|de mon) (cours|programme|sprint))",
  "\\bje ne (veux|souhaite) plus (recevoir )?(de |vos )?(messages|mails|e-mails|emails)\\b",
  // German
  "\\bhor(en sie|t|e)? auf,? mir zu (schreiben|schicken)\\b",
  "\\bschreib(en sie|t)? mir (bitte )?nicht mehr\\b",
  "^(bitte )?(hor(en sie|t)? auf|aufhoren)\\b",
  "\\bnicht mehr (schreiben|kontaktieren)\\b",
  "\\bkontaktieren sie mich (bitte )?nicht mehr\\b",
  "\\bentfernen sie meine (nummer|e-mail|adresse|daten)\\b",
  "\\bkeine werbung mehr\\b",
  "\\babbestell",
  "\\bschick(en sie|t)? mir (keine|nichts) mehr\\b",
  "\\blass(t|en sie)? mich in ruhe\\b",
  "^(bitte )?abmelden\\b",
  "\\b(newsletter|nachrichten|liste) abmelden\\b",
  "\\bmeld(en sie|e)? mich (bitte )?ab[\\s\\p{P}]*$",
  "\\bmich (vom newsletter|von der liste) ab\\b",
  "\\bkeine (weiteren )?(nachrichten|mails|e-mails|emails) mehr\\b",
  "\\baustragen\\b",
  "^stopp[\\s\\p{P}]*$",
  // Hindi in Latin script
  "\\b(message|msg|messages|msgs|mail|email|whatsapp) (mat|mt|na) (bhejo|bhejiye|bhejna|karo|kariye|karna)\\b",
  "^(mujhe |please |plz )?(ab |aur )?(kuch )?mat bhej(o|iye|na)[\\s\\p{P}]*$",
  "\\b(mujhe )?(pareshan|disturb|tang|contact) (mat|na) kar(o|iye|na)\\b",
  "\\b(message|messages|msg|msgs|whatsapp) (band|bandh) kar(o|iye|do|dijiye)\\b",
  "^(band|bandh) kar(o|iye|do|dijiye)[\\s\\p{P}]*$",
  "\\bbas kar(o|iye)\\b",
  "\\b(message|messages|msg) nahi chahiye\\b",
  "\\b(mera )?number delete kar(o|iye|do)\\b",
  "\\bgalat number\\b",
);

/** A complaint whatever else the message says. */
const COMPLAINT = any(
  "\\bspam(?!-free)",
  "\\bharass",
  "\\bscam\\b",
  "\\bridiculous\\b",
  "\\bdisgust",
  "\\bunacceptable\\b",
  "\\bfed up\\b",
  "\\bhow dare\\b",
  "\\bwtf\\b",
  "\\bcomplain",
  "\\b(second|third|fourth|\\d+(st|nd|rd|th)) (message|email|text) (this|today|in a)\\b",
  "\\bkeep (messaging|texting|emailing|spamming)\\b",
  "\\bso many (messages|emails|texts)\\b",
  "\\bpissed\\b",
  "\\bfurious\\b",
  "\\bestafa\\b",
  "\\bqueja\\b",
  "\\bmolest(o|a|ando)\\b",
  "\\breclama(cao|r)\\b",
  "\\bgolpe\\b",
  "\\barnaque\\b",
  "\\bplainte\\b",
  "\\bbeschwerde\\b",
  "\\bbetrug\\b",
  "\\bfaltu\\b",
  "\\bbakwas\\b",
  "\\bdhokha\\b",
);

/**
 * Words of a complaint that also describe other things ("I'm terrible at interviews", "I was
 * disappointed I missed the cohort"): a complaint only when the message is not a question or a
 * purchase.
 */
const WEAK_COMPLAINT = any(
  "\\bannoy",
  "\\bterrible\\b",
  "\\bawful\\b",
  "\\bworst\\b",
  "\\bangry\\b",
  "\\brude\\b",
  "\\bdisappoint",
);

/** A polite no: nothing to answer, and no pitch. */
const DECLINE = any(
  "\\bno,? thanks?\\b",
  "\\bno thank you\\b",
  "\\bthanks?,? but no\\b",
  "\\bnot interested\\b",
  "\\bno me interesa\\b",
  "\\bnao (tenho interesse|me interessa)\\b",
  "\\bpas interesse\\b",
  "\\bkein interesse\\b",
  "\\binterest nahi\\b",
);

const SUPPORT: [SupportKind, RegExp][] = [
  [
    "refund",
    any(
      "\\brefund",
      "\\bmoney back\\b",
      "\\bchargeback\\b",
      "\\breembols",
      "\\bdevolu(cion|cao)\\b",
      "\\bdevolv(er|a|am) (o|mi|meu) dinero\\b",
      "\\breembolso\\b",
      "\\bremboursement\\b",
      "\\brembourse",
      "\\berstatt",
      "\\bgeld zuruck\\b",
      "\\bpaise? wapas\\b",
      "\\bpaisa wapas\\b",
    ),
  ],
  [
    "invoice",
    any(
      "\\binvoice",
      "\\breceipt\\b",
      "\\bgst bill\\b",
      "\\bfactura\\b",
      "\\bfatura\\b",
      "\\bnota fiscal\\b",
      "\\brecibo\\b",
      "\\bfacture\\b",
      "\\brechnung\\b",
      "\\bquittung\\b",
    ),
  ],
  [
    "billing",
    any(
      "\\bcharged\\b",
      "\\bcharge(d)? twice\\b",
      "\\bdouble charge",
      "\\bbilling\\b",
      "\\bbilled\\b",
      "\\bpayment (failed|didn't|did not|declined|issue|problem)\\b",
      "\\bmy card\\b",
      "\\bsubscription renew",
      "\\bcobr(o|aron|ado|anca|aram)\\b",
      "\\bpagamento\\b",
      "\\bprelevement\\b",
      "\\babbuchung\\b",
      "\\bpaise kat\\b",
    ),
  ],
  [
    "support",
    any(
      "\\b(can't|cant|cannot|unable to|couldn't|can not) (log ?in|login|sign in|access|open|download|find my)\\b",
      "\\bpassword\\b",
      "\\blog ?in (issue|problem)\\b",
      "\\bnot working\\b",
      "\\bdoesn't work\\b",
      "\\bbroken link\\b",
      "\\bmy (account|order|purchase|access)\\b",
      "\\bno (puedo|consigo) (entrar|acceder)\\b",
      "\\bnao consigo (entrar|acessar)\\b",
      "\\bje n'arrive pas a (me connecter|acceder)\\b",
      "\\bkann mich nicht anmelden\\b",
      "\\blogin nahi ho raha\\b",
    ),
  ],
];

const PURCHASE = any(
  "\\bsign (me )?up\\b",
  "\\bsign-?up\\b",
  "\\benrol(l)?\\b",
  "\\benrol(l)?ing\\b",
  "\\bregister\\b",
  "\\b(want|ready|like|love|going) to (buy|join|book|purchase|start|get|enroll|enrol|sign up|register)\\b",
  "\\b(how|where) (do|can) i (buy|join|book|pay|purchase|get it|get started|register|enrol|enroll|sign up)\\b",
  "^(yes|yeah|yep|ok|okay)?[!,. ]*i'?m in[!. ]*$",
  "\\bcount me in\\b",
  "\\btake my money\\b",
  "\\bbook (a|the|my|me|it)( \\w+)? (call|session|spot|seat|slot|place)\\b",
  "\\bbook it\\b",
  "\\blet's do it\\b",
  "\\bi'll take it\\b",
  "\\bsend (me )?the (payment |checkout |sign ?up |booking )?link\\b",
  "\\bpayment link\\b",
  "\\bcheckout\\b",
  "\\b(quiero|quisiera) (comprar|unirme|apuntarme|inscribirme|reservar)\\b",
  "\\bme apunto\\b",
  "\\binscribirme\\b",
  "\\bcomo (me )?(inscribo|apunto|compro|pago)\\b",
  "\\bquero (comprar|entrar|participar|me inscrever|reservar)\\b",
  "\\bme inscrever\\b",
  "\\bcomo (eu )?(me inscrevo|compro|pago)\\b",
  "\\bje (veux|voudrais) (m'inscrire|acheter|reserver|participer)\\b",
  "\\bcomment (m'inscrire|acheter|reserver|payer)\\b",
  "\\bich (mochte|will|wurde gerne) (buchen|kaufen|mitmachen|teilnehmen|mich anmelden)\\b",
  "\\bwie kann ich (buchen|kaufen|mich anmelden|teilnehmen)\\b",
  "\\b(join|buy|book|enroll) karna (hai|h)\\b",
  "\\b(lena|kharidna) (hai|h)\\b",
  "\\bkaise (join|buy|book|enroll|kharid)\\b",
);

const OBJECTIONS: [ObjectionKind, RegExp][] = [
  [
    "price",
    any(
      "\\bexpensive\\b",
      "\\bpricey\\b",
      "\\bcostly\\b",
      "\\btoo much\\b",
      "\\bis a lot\\b",
      "\\b(a lot|lots) of money\\b",
      "\\b(can't|cant|cannot|can not|couldn't) afford\\b",
      "\\bafford",
      "\\b(out of|over) (my|our) budget\\b",
      "\\bbudget\\b",
      "\\bmoney('s| is) tight\\b",
      "\\bcheaper\\b",
      "\\bdiscount\\b",
      "\\bpayment plan\\b",
      "\\binstal(l)?ments?\\b",
      "\\b(muy|demasiado|tan|es|un poco) car(o|a)\\b",
      "\\bno (me )?alcanza\\b",
      "\\bsin dinero\\b",
      "\\bcaro demais\\b",
      "\\bsem dinheiro\\b",
      "\\b(trop|tres|si|c'est) cher\\b",
      "\\bzu teuer\\b",
      "\\bteuer\\b",
      "\\bmehe?nga\\b",
      "\\bmahe?nga\\b",
      "\\bpaise nahi\\b",
    ),
  ],
  [
    "time",
    any(
      "\\b(no|not enough|don't have|dont have|do not have|haven't got|lack of|little) (the )?time\\b",
      "\\btoo busy\\b",
      "\\b(i'm|im|i am|so|really) busy\\b",
      "\\bbusy (right now|at the moment|these days|with)\\b",
      "\\bswamped\\b",
      "\\bschedule is (full|packed)\\b",
      "\\bno tengo tiempo\\b",
      "\\bsin tiempo\\b",
      "\\bocupad(o|a)\\b",
      "\\bsem tempo\\b",
      "\\bnao tenho tempo\\b",
      "\\bpas le temps\\b",
      "\\bpas de temps\\b",
      "\\bkeine zeit\\b",
      "\\b(time|samay) nahi\\b",
    ),
  ],
  [
    "fit",
    any(
      "\\b(is it|is this|would it be|it's not|not sure it's|not sure if it's) (right|for) (for )?me\\b",
      "\\bnot (sure|convinced) (it|this|if)\\b",
      "\\b(a |complete |total )?beginner\\b",
      "\\bnot ready\\b",
      "\\btoo (advanced|basic)\\b",
      "\\bmy level\\b",
      "\\bes para mi\\b",
      "\\be para mim\\b",
      "\\bpour moi\\b",
      "\\bfur mich\\b",
      "\\bmere liye\\b",
    ),
  ],
  [
    "trust",
    any(
      "\\bdoes (it|this) (really )?work\\b",
      "\\bguarantee",
      "\\b(real )?results\\b",
      "\\btestimonials?\\b",
      "\\blegit\\b",
      "\\bproof\\b",
      "\\bfunciona\\b",
      "\\bgarantia\\b",
      "\\bgarantie\\b",
    ),
  ],
  [
    "later",
    any(
      "\\bmaybe later\\b",
      "\\bnot (right )?now\\b",
      "\\bnext (month|year|quarter)\\b",
      "\\bthink about it\\b",
      "\\bget back to you\\b",
      "\\bmas tarde\\b",
      "\\bdepois\\b",
      "\\bplus tard\\b",
      "\\bspater\\b",
      "\\bbaad mein\\b",
    ),
  ],
];

const TOPICS: [QuestionTopic, RegExp][] = [
  [
    "price",
    any(
      "\\bhow much\\b",
      "\\bprice",
      "\\bpricing\\b",
      "\\bcost",
      "\\bfees?\\b",
      "\\bcuanto (cuesta|vale|es)\\b",
      "\\bprecio\\b",
      "\\bquanto (custa|e)\\b",
      "\\bpreco\\b",
      "\\bcombien\\b(?! de temps)",
      "\\bprix\\b",
      "\\bkoste",
      "\\bpreis\\b",
      "\\bkitna\\b",
      "\\bkitne ka\\b",
      "\\bprice kya\\b",
    ),
  ],
  [
    "duration",
    any(
      "\\bhow long\\b",
      "\\bduration\\b",
      "\\bhow many (weeks|hours|minutes|sessions|days|months)\\b",
      "\\blength of\\b",
      "\\bcuanto dura\\b",
      "\\bduracion\\b",
      "\\bquanto tempo\\b",
      "\\bduracao\\b",
      "\\bcombien de temps\\b",
      "\\bduree\\b",
      "\\bwie lange\\b",
      "\\bdauer\\b",
      "\\bkitne (din|hafte|ghante|time)\\b",
    ),
  ],
  [
    "schedule",
    any(
      "\\bwhen\\b",
      "\\bstart",
      "\\bbegin",
      "\\bdates?\\b",
      "\\bschedule\\b",
      "\\bwhat time\\b",
      "\\bnext (cohort|batch|session|round|intake)\\b",
      "\\bcuando\\b",
      "\\bempieza\\b",
      "\\bcomienza\\b",
      "\\bquando\\b",
      "\\bcomeca\\b",
      "\\bquand\\b",
      "\\bcommence\\b",
      "\\bwann\\b",
      "\\bbeginnt\\b",
      "\\bkab\\b",
    ),
  ],
  [
    "included",
    any(
      "\\binclud",
      "\\bwhat (do|will) (i|we) get\\b",
      "\\bwhat('s| is) in\\b",
      "\\bcovers?\\b",
      "\\bcurriculum\\b",
      "\\bmodules?\\b",
      "\\bsyllabus\\b",
      "\\bwhat (is|'s) it about\\b",
      "\\bincluye\\b",
      "\\binclui\\b",
      "\\binclus\\b",
      "\\benthalten\\b",
      "\\bkya milega\\b",
    ),
  ],
  [
    "general",
    any("\\btell me more\\b", "\\bmore (info|information|details)\\b", "^(i'?m )?interested[!.]*$", "\\bdetails\\b"),
  ],
  ["link", any("\\blink\\b", "\\bwebsite\\b", "\\burl\\b", "\\bwhere can i (find|see|read)\\b", "\\benlace\\b")],
];

const QUESTION = any(
  "\\?",
  "^(what|when|where|how|which|who|why|does|do|is|are|can|could|will|would|should)\\b",
  "^(que|cual|cuando|donde|como|cuanto|quanto|quando|onde|quel|quelle|comment|combien|quand|was|wann|wie|wo|welche|kya|kab|kaise|kitna)\\b",
);

const THANKS = any(
  "\\bthank",
  "\\bthx\\b",
  "\\bty\\b",
  "\\bcheers\\b",
  "\\bappreciate",
  "\\bgracias\\b",
  "\\bobrigad",
  "\\bmerci\\b",
  "\\bdanke\\b",
  "\\bshukriya\\b",
  "\\bdhanyava?d\\b",
);

/** Whole messages that are greetings or acknowledgements, nothing more. */
const SMALL_TALK = new RegExp(
  `^(?:(?:${[
    "hi",
    "hey",
    "hello",
    "hiya",
    "yo",
    "ok",
    "okay",
    "k",
    "cool",
    "nice",
    "great",
    "awesome",
    "sounds good",
    "good morning",
    "good evening",
    "good afternoon",
    "hola",
    "buenas",
    "buenos dias",
    "ola",
    "oi",
    "bom dia",
    "bonjour",
    "salut",
    "hallo",
    "guten tag",
    "moin",
    "namaste",
    "namaskar",
    "haan",
    "ji",
    "acha",
    "accha",
    "theek hai",
    "haha",
    "hahaha",
    "lol",
    "got it",
    "perfect",
    "noted",
    "sure",
    "alright",
    "understood",
  ].join(
    "|",
  )})[\\s!.,]*([a-z]+)?|[\\p{Extended_Pictographic}\\p{Emoji_Modifier}\\u200d\\uFE0F\\s]+)[\\s!.,\\p{Extended_Pictographic}\\p{Emoji_Modifier}\\u200d\\uFE0F]*$`,
  "u",
);

/** Words too common in service names to identify one ("the 1:1 call" still finds the call). */
const NAME_NOISE = new Set(["the", "and", "for", "with", "your", "my", "program", "programme", "a", "an", "of", "to"]);

function nameWords(name: string): string[] {
  return fold(name)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length >= 3 && !NAME_NOISE.has(w));
}

/** What people call a kind of offer ("the cohort", "the call"): found in a service's name or description. */
const FORMAT_NOUNS = [
  "cohort",
  "course",
  "call",
  "session",
  "workshop",
  "pack",
  "bundle",
  "bootcamp",
  "masterclass",
  "membership",
  "community",
  "coaching",
  "mentoring",
  "template",
  "guide",
  "ebook",
  "review",
  "program",
];

/**
 * The profile service a message names: the one with the most words of its name in the text
 * (plural or singular); failing that, the only one whose name or description has a format noun
 * the text uses ("the next cohort"). Null when none is named or two tie.
 */
export function serviceNamedIn(text: string, services: ProfileService[]): ProfileService | null {
  const said = new Set(fold(text).split(/[^\p{L}\p{N}]+/u));
  const has = (w: string) => said.has(w) || said.has(`${w}s`) || (w.endsWith("s") && said.has(w.slice(0, -1)));
  const byNoun = FORMAT_NOUNS.filter(has).flatMap((noun) => {
    const matching = services.filter((s) => new RegExp(`\\b${noun}`).test(fold(`${s.name} ${s.description}`)));
    return matching.length === 1 ? matching : [];
  });
  let best: { service: ProfileService; score: number } | null = null;
  let tie = false;
  for (const service of services) {
    const score = nameWords(service.name).filter(has).length + (byNoun.includes(service) ? 0.5 : 0);
    if (score === 0) continue;
    if (!best || score > best.score) {
      best = { service, score };
      tie = false;
    } else if (score === best.score) tie = true;
  }
  return best && !tie ? best.service : null;
}

/** The kind of objection a text (a message, or a profile's objection) is about, if any. */
export function objectionKindOf(text: string): ObjectionKind | null {
  const folded = fold(text);
  const named = /^(price|time|fit|trust|later)$/.exec(folded);
  if (named) return named[1] as ObjectionKind;
  return OBJECTIONS.find(([, pattern]) => pattern.test(folded))?.[0] ?? null;
}

/**
 * What the consumer wrote themselves: an email reply without the message it quotes (from the first
 * "> " line, or the client's "On ... wrote:" / "-----Original Message-----" header in the six
 * languages), so our own footer ("unsubscribe") is never read as their words.
 */
export function ownWords(text: string): string {
  const quoteStart = text.search(
    /^(>|_{5,}|from:\s.+|de:\s.+|von:\s.+|begin forwarded message|-{2,}\s*forwarded message|-{2,}\s*original message|-{2,}\s*mensaje original|-{2,}\s*mensagem original|-{2,}\s*message d'origine|-{2,}\s*urspr[üu]ngliche nachricht|on .{1,200} wrote:|el .{1,200} escribi[óo]:|em .{1,200} escreveu:|le .{1,200} a [ée]crit\s?:|am .{1,200} schrieb .{0,200}:)/imu,
  );
  if (quoteStart < 0) return text;
  if (text.slice(0, quoteStart).trim()) return text.slice(0, quoteStart);
  // Written below the quote: their lines are the ones not quoted.
  return text
    .split("\n")
    .filter((line) => !line.startsWith(">"))
    .join("\n")
    .replace(/^.*(wrote|escribi[óo]|escreveu|a [ée]crit|schrieb).*:\s*$/imu, "");
}

/** Whether a message is an opt-out in plain words (OPT_OUT's phrasings), in the consumer's own words. */
export function isOptOut(text: string): boolean {
  return OPT_OUT.test(fold(ownWords(text)));
}

const CHANNEL_WORDS: [Channel, RegExp][] = [
  ["EMAIL", /\b(e-?mail(s|ing)?|mail(s|ing)?|correos?|courriels?|newsletter)\b/],
  ["WHATSAPP", /\b(whatsapp(s|ing)?|wa|texts?|texting|sms)\b/],
];
/** Words of a preference for a channel ("WhatsApp is fine", "email me instead"): not the one opted out of. */
const PREFERRED = /\b(instead|prefer\w*|better|fine|only|ok|okay|mejor|melhor|mieux|besser|si|sim|oui|ja|theek)\b/;

/** An opt-out's verb, then a channel within three words: "stop sending me whatsapps", "don't email me". */
const OPT_OUT_VERB = String.raw`\b(?:don't|dont|do not|never|stop|quit|no more|no|unsubscribe from)\b(?:\s+[\w']+){0,3}?\s+`;

/**
 * The one channel an opt-out is about ("don't email me, WhatsApp is better" -> EMAIL): the one
 * after its verb, else the only one named; null for none or both (every channel).
 */
export function channelNamedIn(text: string): Channel | null {
  const folded = fold(ownWords(text));
  const named = CHANNEL_WORDS.filter(([, pattern]) => pattern.test(folded)).map(([channel]) => channel);
  if (named.length === 1) return named[0];
  if (named.length === 0) return null;
  // Both named: one channel only when the other is the one they prefer ("stop emailing me, WhatsApp is fine").
  const afterVerb = CHANNEL_WORDS.filter(([, pattern]) =>
    new RegExp(OPT_OUT_VERB + pattern.source.replace(/^\\b/, ""), "u").test(folded),
  ).map(([channel]) => channel);
  return afterVerb.length === 1 && PREFERRED.test(folded) ? afterVerb[0] : null;
}

/** One message understood alone. */
export function understandMessage(text: string, services: ProfileService[]): Understanding {
  text = ownWords(text);
  const folded = fold(text);
  const service = serviceNamedIn(text, services)?.name ?? null;
  // A message without text (a voice note, a picture) is for a person to look at.
  if (!folded) return intentOnly("unknown");
  if (OPT_OUT.test(folded)) return intentOnly("opt_out");
  if (COMPLAINT.test(folded)) return intentOnly("complaint");
  const support = SUPPORT.find(([, pattern]) => pattern.test(folded))?.[0];
  if (support) return intentOnly("support", { support, service });
  if (PURCHASE.test(folded)) return intentOnly("purchase", { service });
  const objection = objectionKindOf(folded);
  if (objection) return intentOnly("objection", { objection, service });
  const [topic, ...moreTopics] = TOPICS.filter(([, pattern]) => pattern.test(folded)).map(([t]) => t);
  if (topic || QUESTION.test(folded)) {
    // A question names what it is about, or it is too vague to answer from the profile.
    return topic || service
      ? intentOnly("question", { topic: topic ?? "general", moreTopics, service })
      : intentOnly("unknown");
  }
  if (WEAK_COMPLAINT.test(folded)) return intentOnly("complaint");
  if (DECLINE.test(folded)) return intentOnly("small_talk");
  if (THANKS.test(folded)) return intentOnly("thanks");
  if (SMALL_TALK.test(folded)) return intentOnly("small_talk");
  return intentOnly("unknown");
}

/** The deterministic understander: each message of the burst alone, the strongest intent wins. */
export const deterministicUnderstander: Understander = {
  name: "deterministic",
  async understand(request: UnderstandingRequest) {
    const each = request.messages.map((m) => understandMessage(m, request.profile.services));
    return { understanding: strongest(each), notes: [] };
  },
};
