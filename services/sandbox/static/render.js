// What the chat page draws as Telegram's clients draw it: the bot's avatar, times and day
// separators, and formatted text from Telegram's entities (links included). Loaded before
// chat.js, whose state and say() these use when called.
"use strict";

// --- the bot, times and days ------------------------------------------------------

// The bot's avatar, drawn here: its initials on a colour picked from its name (as
// Telegram does for a bot without a photo). No image from anywhere.
const AVATAR_COLOURS = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];

function avatar(name, size) {
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("");
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 40 40");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("class", "avatar");
  const circle = document.createElementNS(svg.namespaceURI, "circle");
  circle.setAttribute("cx", "20");
  circle.setAttribute("cy", "20");
  circle.setAttribute("r", "20");
  circle.setAttribute("fill", AVATAR_COLOURS[hash % AVATAR_COLOURS.length]);
  const text = document.createElementNS(svg.namespaceURI, "text");
  text.setAttribute("x", "20");
  text.setAttribute("y", "21");
  text.setAttribute("text-anchor", "middle");
  text.setAttribute("dominant-baseline", "middle");
  text.setAttribute("fill", "#fff");
  text.setAttribute("font-size", "16");
  text.textContent = initials.toUpperCase();
  svg.append(circle, text);
  return svg;
}

function drawBot(bot) {
  if (!bot) return;
  const name = bot.first_name;
  const header = $("#bot-name");
  if (header.dataset.name === name && header.dataset.language === state.language) return;
  header.dataset.name = name;
  header.dataset.language = state.language;
  header.textContent = name;
  const tag = document.createElement("span");
  tag.className = "dim";
  tag.textContent = ` · ${say("bot")} @${bot.username}`;
  header.append(tag);
  $("#bot-avatar").replaceChildren(avatar(name, 40));
  $("#start-panel .avatar-large").replaceChildren(avatar(name, 72));
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate();
}

// "Today", "Yesterday", else the date (with the year when not this year), as Telegram.
function dayName(date) {
  const now = new Date();
  if (sameDay(date, now)) return say("today");
  if (sameDay(date, new Date(now.getTime() - DAY_MS))) return say("yesterday");
  const options = { day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat(state.language, options).format(date);
}

function daySeparator(date) {
  const item = document.createElement("li");
  item.className = "day";
  const label = document.createElement("span");
  label.textContent = dayName(date);
  item.append(label);
  return item;
}

function clock(date) {
  return new Intl.DateTimeFormat(state.language, { hour: "2-digit", minute: "2-digit", hour12: false })
    .format(date);
}

// The time at the bubble's corner, "edited" before it when the bot changed the message.
function meta(message) {
  const box = document.createElement("span");
  box.className = "meta";
  if (message.edit_date) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = say("edited");
    box.append(edited);
  }
  const time = document.createElement("time");
  const date = new Date(message.date * 1000);
  time.dateTime = date.toISOString();
  time.textContent = clock(date);
  time.title = date.toLocaleString(state.language);
  box.append(time);
  return box;
}

// --- text -----------------------------------------------------------------------

// Telegram's entities, drawn as nested elements. Offsets count UTF-16 code
// units, which is exactly what JavaScript string indices count.
function renderText(text, entities) {
  const root = document.createDocumentFragment();
  const sorted = [...entities].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const stack = [{ node: root, end: text.length }];
  let position = 0;
  let next = 0;
  for (;;) {
    const top = stack[stack.length - 1];
    const nextStart = next < sorted.length ? sorted[next].offset : Infinity;
    const until = Math.min(top.end, nextStart, text.length);
    if (until > position) {
      top.node.append(text.slice(position, until));
      position = until;
    }
    if (stack.length > 1 && position >= top.end) {
      stack.pop();
    } else if (next < sorted.length && sorted[next].offset <= position) {
      const entity = sorted[next++];
      const element = entityElement(entity, text);
      top.node.append(element);
      // An entity crossing its parent's end is cut there (Telegram nests them properly).
      stack.push({ node: element, end: Math.min(entity.offset + entity.length, top.end) });
    } else if (position >= text.length) {
      return root;
    }
  }
}

const SIMPLE_TAGS = {
  bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code",
  pre: "pre", blockquote: "blockquote", expandable_blockquote: "blockquote",
};

// Where a link entity points: a text link's url; a url's own text (https:// when it
// names no scheme); an email's address; a @mention's t.me page. Only safe schemes.
function linkTarget(entity, text) {
  const shown = text.slice(entity.offset, entity.offset + entity.length);
  let href = null;
  if (entity.type === "text_link") href = entity.url || "";
  if (entity.type === "url") href = /^[a-z][a-z0-9+.-]*:\/\//i.test(shown) ? shown : `https://${shown}`;
  if (entity.type === "email") href = `mailto:${shown}`;
  if (entity.type === "mention") href = `https://t.me/${shown.slice(1)}`;
  return href !== null && /^(https?|tg|mailto|ftp):/i.test(href) ? href : null;
}

function entityElement(entity, text) {
  if (SIMPLE_TAGS[entity.type]) {
    const element = document.createElement(SIMPLE_TAGS[entity.type]);
    if (entity.type === "pre" && entity.language) element.dataset.language = entity.language;
    return element;
  }
  const span = document.createElement("span");
  const href = linkTarget(entity, text);
  if (href) {
    const link = document.createElement("a");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
    link.className = entity.type;
    return link;
  }
  if (entity.type === "spoiler") span.className = "spoiler";
  if (entity.type === "bot_command") {
    // As in Telegram, a command in the bot's text can be tapped to send it.
    span.className = "command";
    const command = text.slice(entity.offset, entity.offset + entity.length);
    span.addEventListener("click", () => send(command));
  }
  return span;
}
