// The sandbox's chat page: a tiny Telegram client for the fake Telegram's control API.
// It writes as the person picked, long-polls for changes and draws that person's chat.
"use strict";

const DRAFT_SHOWN_S = 30;   // Telegram shows a draft about this long
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];  // sent as photos, as a client does
const ALBUM_MAX = 10;       // Telegram's album limit
// Fields of a message that carry a file other than a photo (named in i18n.js "files").
const FILE_KINDS = ["document", "audio", "voice", "video", "video_note", "animation", "sticker"];
const TEXT_LIMIT = 4096;    // Telegram's, in UTF-16 units: what JavaScript's length counts
const DAY_MS = 24 * 60 * 60 * 1000;
// Emoji fonts after the text fonts: a machine without colour emoji in its text font still
// draws them (Makefile's browser target installs Noto Color Emoji where CI runs).

const state = {
  people: [],
  person: null,
  following: null,   // AbortController of the current chat's long poll
  redrawTimer: null,
  replyKeyboard: null,      // the reply keyboard drawn (ReplyKeyboardMarkup), or null
  replyKeyboardJson: "",    // the same as JSON, to redraw it only when the bot changes it
  replyKeyboardOpen: true,  // a keyboard that may be hidden is shown (Telegram's ⌨ icon)
  placeholder: "",          // the input's own placeholder, when no keyboard sets one
  language: UI_DEFAULT_LANGUAGE,  // the page's, the person's Telegram language_code
  menu: [],                 // the bot's "/" menu for this person: [{command, description}]
  menuJson: "",
};

const say = (key, values) => t(state.language, key, values);

const $ = (selector) => document.querySelector(selector);

async function json(url, options = {}) {
  const response = await fetch(url, options);
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}

function post(url, body) {
  return json(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function showError(error) {
  const box = $("#error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

// --- people --------------------------------------------------------------

function drawPeople() {
  const list = $("#people");
  list.replaceChildren();
  for (const person of state.people) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "person";
    button.id = `person-${person.key}`;
    button.setAttribute("aria-pressed", String(person === state.person));
    const name = document.createElement("strong");
    const role = words(state.language, "roles")[person.role] || person.role;
    name.textContent = `${person.first_name} · ${role}`;
    const about = document.createElement("small");
    const line = UI[state.language].about[person.key] || person.about;
    about.textContent = `${line} (id ${person.telegram_id}, ${person.language_code})`;
    button.append(name, about);
    button.addEventListener("click", () => choose(person));
    const item = document.createElement("li");
    item.append(button);
    list.append(item);
  }
}

function choose(person) {
  state.person = person;
  state.language = uiLanguage(person.language_code);
  translatePage(state.language);
  state.placeholder = $("#message-input").placeholder;
  history.replaceState(null, "", `#${person.key}`);
  drawPeople();
  $("#chat").dataset.person = person.key;
  $("#chat").dataset.language = state.language;
  const role = words(state.language, "roles")[person.role] || person.role;
  $("#chat-title").textContent = say("you_are", { name: `${person.first_name} (${role})` });
  $("#messages").replaceChildren();
  $("#start-panel").hidden = true;
  state.menuJson = null;
  drawMenu([]);
  state.replyKeyboardJson = null;  // redrawn in this language
  drawReplyKeyboard(null);
  showError(null);
  watchStatusOnce();
  follow(person);
}

// --- the chat: fetch, draw, wait for the next change, again -----------------

async function follow(person) {
  if (state.following) state.following.abort();
  const controller = new AbortController();
  state.following = controller;
  const { signal } = controller;
  while (!signal.aborted) {
    try {
      const chat = await json(`/_sandbox/chats/${person.telegram_id}`, { signal });
      drawChat(chat);
      showError(null);
      await json(`/_fake/wait?after=${chat.version}&timeout=20`, { signal });
    } catch (error) {
      if (signal.aborted) return;
      showError(say("lost", { error: error.message }));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function drawChat(chat) {
  const list = $("#messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  drawBot(chat.bot);
  const messages = [...chat.messages].sort((a, b) => a.message_id - b.message_id);
  let day = null;
  for (const message of messages) {
    const date = new Date(message.date * 1000);
    if (day === null || !sameDay(day, date)) list.append(daySeparator(date));
    day = date;
    list.append(drawMessage(message));
  }
  // An empty chat shows what the bot is and its START button, as Telegram does.
  $("#start-panel").hidden = messages.length > 0;
  drawMenu(chat.menu || []);
  const drafts = chat.drafts.filter((d) => chat.now - d.time < DRAFT_SHOWN_S);
  for (const draft of drafts) {
    const item = bubble("bot draft");
    item.append(renderText(draft.text, draft.entities));
    list.append(item);
  }
  // The sandbox works out "typing…" (5 s per action, ended by a message); it
  // also ends by itself, so hide it then in case nothing else changes.
  $("#typing").hidden = !(chat.typing_s > 0 && drafts.length === 0);
  const action = words(state.language, "actions");
  $("#typing").textContent = say("typing", { action: action[chat.action] || action.typing });
  clearTimeout(state.redrawTimer);
  if (chat.typing_s > 0) {
    state.redrawTimer = setTimeout(() => { $("#typing").hidden = true; }, chat.typing_s * 1000);
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
  drawReplyKeyboard(chat.keyboard || null);
}

function bubble(kind) {
  const item = document.createElement("li");
  item.className = `message ${kind}`;
  return item;
}

function drawMessage(message) {
  const fromBot = Boolean(message.from && message.from.is_bot);
  const item = bubble(fromBot ? "bot" : "user");
  item.dataset.messageId = message.message_id;
  const media = drawMedia(message);
  if (media) {
    item.classList.add("media");
    item.append(media);
    if (message.caption) {
      const caption = document.createElement("div");
      caption.className = "caption";
      caption.append(renderText(message.caption, message.caption_entities || []));
      item.append(caption);
    }
  } else {
    item.append(renderText(message.text || message.caption || "", message.entities || []));
  }
  item.append(meta(message));
  const keyboard = message.reply_markup && message.reply_markup.inline_keyboard;
  if (keyboard) item.append(drawKeyboard(keyboard, message.message_id));
  return item;
}

function fileUrl(fileId) {
  return `/_fake/files/${encodeURIComponent(fileId)}`;
}

// A photo inline (its largest size), any other file as a bubble with its name and size.
function drawMedia(message) {
  if (Array.isArray(message.photo) && message.photo.length) {
    const largest = message.photo[message.photo.length - 1];
    const link = document.createElement("a");
    link.href = fileUrl(largest.file_id);
    link.target = "_blank";
    link.rel = "noopener";
    const image = document.createElement("img");
    image.className = "photo";
    image.src = fileUrl(largest.file_id);
    image.alt = "photo";
    if (largest.width && largest.height) {
      // Its place is kept while it loads (it is redrawn with the chat): no jumping scroll.
      image.style.aspectRatio = `${largest.width} / ${largest.height}`;
    }
    image.addEventListener("load", () => {  // the picture's own shape, once it is known
      image.style.aspectRatio = `${image.naturalWidth} / ${image.naturalHeight}`;
    });
    link.append(image);
    return link;
  }
  const kind = FILE_KINDS.find((field) => message[field]);
  if (!kind) return null;
  const file = message[kind];
  const link = document.createElement("a");
  link.className = "file";
  link.dataset.kind = kind;
  link.href = fileUrl(file.file_id);
  link.download = file.file_name || "";
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.textContent = kind === "document" ? "📄" : kind === "audio" || kind === "voice" ? "🎵" : "🎞";
  const about = document.createElement("span");
  const name = document.createElement("strong");
  name.textContent = file.file_name || words(state.language, "files")[kind];
  const size = document.createElement("small");
  const details = [formatSize(file.file_size)];
  if (file.duration) details.push(`${file.duration} s`);
  size.textContent = details.filter(Boolean).join(" · ");
  about.append(name, size);
  link.append(icon, about);
  return link;
}

function formatSize(bytes) {
  if (typeof bytes !== "number") return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function drawKeyboard(rows, messageId) {
  const keyboard = document.createElement("div");
  keyboard.className = "keyboard";
  for (const row of rows) {
    const line = document.createElement("div");
    line.className = "row";
    for (const key of row) {
      let element;
      if (key.url && /^(https?|tg):/i.test(key.url)) {
        element = document.createElement("a");
        element.href = key.url;
        element.target = "_blank";
        element.rel = "noopener";
      } else {
        element = document.createElement("button");
        element.type = "button";
        element.addEventListener("click", () => press(key.callback_data, messageId));
      }
      element.textContent = key.text;
      line.append(element);
    }
    keyboard.append(line);
  }
  return keyboard;
}

// --- the "/" menu and the command chips -----------------------------------------
// The menu is the one the bot set with setMyCommands that this person's Telegram client
// would show (the sandbox picks it by scope and language). The chips under the chat are
// the commands the bot offers this person: the menu's, and /servers for an admin (their
// /help and keyboard offer it; the menu is everyone's). A stranger is offered nothing.

function drawMenu(menu) {
  const json = JSON.stringify(menu);
  if (json === state.menuJson) return;
  state.menuJson = json;
  state.menu = menu;
  $("#menu-button").hidden = menu.length === 0;
  drawChips();
  if (!$("#command-menu").hidden) openMenu(true, "");
}

function offeredCommands() {
  if (!state.person || state.person.role === "stranger") return [];
  const commands = state.menu.map((entry) => entry.command).filter((c) => c !== "start");
  if (state.person.role === "admin" && commands.length && !commands.includes("servers")) {
    commands.splice(Math.min(1, commands.length), 0, "servers");
  }
  return commands;
}

function drawChips() {
  const box = $("#quick");
  box.replaceChildren();
  const commands = offeredCommands();
  for (const command of commands) {
    const entry = state.menu.find((e) => e.command === command);
    box.append(chip(`/${command}`, `/${command}`, entry ? entry.description : ""));
  }
  if (commands.length) box.append(chip("demo file", say("demo_file"), say("demo_file_title")));
}

function chip(command, label, title) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "quick";
  button.dataset.command = command;
  button.textContent = label;
  if (title) button.title = title;
  button.addEventListener("click", () => send(command));
  return button;
}

// Shown above the input: every command, or those starting with what was typed after "/".
function openMenu(open, prefix = "") {
  const list = $("#command-menu");
  const shown = open ? state.menu.filter((e) => e.command.startsWith(prefix.toLowerCase())) : [];
  list.replaceChildren();
  for (const entry of shown) {
    const item = document.createElement("li");
    item.setAttribute("role", "option");
    item.dataset.command = entry.command;
    const name = document.createElement("strong");
    name.textContent = `/${entry.command}`;
    const about = document.createElement("span");
    about.textContent = entry.description;
    item.append(name, about);
    item.addEventListener("click", () => {
      $("#message-input").value = "";
      openMenu(false);
      send(`/${entry.command}`);
    });
    list.append(item);
  }
  list.hidden = shown.length === 0;
  $("#menu-button").setAttribute("aria-expanded", String(!list.hidden));
}

// --- the reply keyboard ------------------------------------------------------
// Unlike an inline keyboard it belongs to the chat, not to a message: the last
// ReplyKeyboardMarkup the bot sent stays under the input until a
// ReplyKeyboardRemove. A press sends the button's text as an ordinary message.

// Buttons that would share something other than text; the sandbox cannot.
const SPECIAL_BUTTONS = [
  "request_contact", "request_location", "request_poll", "request_users", "request_chat",
  "web_app",
];

function drawReplyKeyboard(markup) {
  const json = markup ? JSON.stringify(markup) : "";
  if (json !== state.replyKeyboardJson) {
    // Redrawn only when it changes: the chat is redrawn on every change, and a
    // button replaced under the pointer would lose the click.
    state.replyKeyboard = markup;
    state.replyKeyboardJson = json;
    state.replyKeyboardOpen = true;  // a new keyboard from the bot comes up
    const box = $("#reply-keyboard");
    box.replaceChildren();
    for (const row of markup ? markup.keyboard : []) {
      const line = document.createElement("div");
      line.className = "row";
      for (const key of row) line.append(replyButton(key));
      box.append(line);
    }
    $("#message-input").placeholder = (markup && markup.input_field_placeholder) ||
      state.placeholder;
  }
  showReplyKeyboard();
}

function replyButton(key) {
  // A button is {"text": ...} or, in older Bot API style, the bare text.
  const text = typeof key === "string" ? key : key.text;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  const special = typeof key === "object" && SPECIAL_BUTTONS.find((kind) => key[kind]);
  if (special) {
    button.disabled = true;
    button.title = say("only_text", { kind: special });
  } else {
    button.addEventListener("click", () => pressReplyButton(text));
  }
  return button;
}

function pressReplyButton(text) {
  // One-time keyboards hide after a press; the ⌨ button brings them back.
  if (state.replyKeyboard && state.replyKeyboard.one_time_keyboard) {
    state.replyKeyboardOpen = false;
    showReplyKeyboard();
  }
  send(text);
}

function showReplyKeyboard() {
  const markup = state.replyKeyboard;
  // A persistent keyboard is always shown; any other can be hidden and shown again.
  const hideable = Boolean(markup) && !markup.is_persistent;
  const open = Boolean(markup) && (state.replyKeyboardOpen || !hideable);
  $("#reply-keyboard").hidden = !open;
  const toggle = $("#keyboard-toggle");
  toggle.hidden = !hideable;
  toggle.setAttribute("aria-expanded", String(open));
}

// --- what the person does -------------------------------------------------

async function send(text) {
  if (!state.person || !text.trim()) return;
  const id = state.person.telegram_id;
  try {
    // As Telegram's clients do, a text past the limit goes as several messages.
    for (const part of splitMessage(text)) {
      await post(`/_fake/chats/${id}/messages`, { text: part, user_id: id });
    }
  } catch (error) {
    showError(error);
  }
}

// Parts of at most TEXT_LIMIT UTF-16 units, cut at a line break or a space in the last
// quarter of a part when there is one, never inside a surrogate pair; nothing is lost
// but the one line break or space each cut replaces.
function splitMessage(text, limit = TEXT_LIMIT) {
  const parts = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = limit;
    const newline = rest.lastIndexOf("\n", limit);
    const space = rest.lastIndexOf(" ", limit);
    const breakAt = newline >= limit * 0.75 ? newline : space >= limit * 0.75 ? space : -1;
    if (breakAt > 0) {
      parts.push(rest.slice(0, breakAt));
      rest = rest.slice(breakAt + 1);
      continue;
    }
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut -= 1;  // a pair's first half stays with it
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.trim()) parts.push(rest);
  return parts;
}

// Files go as a Telegram client sends them: images as photos, the rest as documents; several
// of one sort as an album (up to 10), the caption (the text box) on the first.
async function sendFiles(fileList) {
  const files = [...fileList];
  if (!state.person || !files.length) return;
  const id = state.person.telegram_id;
  const input = $("#message-input");
  let caption = input.value.trim();
  input.value = "";
  const isPhoto = (file) => PHOTO_TYPES.includes(file.type);
  const groups = [files.filter(isPhoto), files.filter((file) => !isPhoto(file))];
  try {
    for (const group of groups) {
      for (let start = 0; start < group.length; start += ALBUM_MAX) {
        const album = group.slice(start, start + ALBUM_MAX);
        const albumId = album.length > 1 ? `album-${Date.now()}-${start}` : "";
        for (const file of album) {
          const form = new FormData();
          form.append("file", file, file.name);
          form.append("user_id", String(id));
          if (caption) form.append("caption", caption);
          if (albumId) form.append("media_group_id", albumId);
          const size = isPhoto(file) ? await imageSize(file) : null;
          if (size) {
            form.append("width", String(size.width));
            form.append("height", String(size.height));
          }
          caption = "";
          await json(`/_fake/chats/${id}/media`, { method: "POST", body: form });
        }
      }
    }
  } catch (error) {
    showError(error);
  }
}

// A photo's size, as a Telegram client tells it; null if the browser cannot decode it.
async function imageSize(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const size = { width: bitmap.width, height: bitmap.height };
    bitmap.close();
    return size;
  } catch (error) {
    return null;
  }
}

function watchDrops() {
  const chat = $("#chat");
  let depth = 0;  // dragenter/dragleave fire for every child crossed
  const show = (on) => {
    chat.classList.toggle("dropping", on);
    $("#drop-hint").hidden = !on;
  };
  const carriesFiles = (event) => [...event.dataTransfer.types].includes("Files");
  chat.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    depth += 1;
    show(true);
  });
  chat.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) show(false);
  });
  chat.addEventListener("dragover", (event) => {
    if (carriesFiles(event)) event.preventDefault();  // allows the drop
  });
  chat.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    show(false);
    sendFiles(event.dataTransfer.files);
  });
  // A file dropped beside the chat must not replace the page with itself.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

async function press(data, messageId) {
  if (!state.person || data === undefined) return;
  try {
    await post(`/_fake/chats/${state.person.telegram_id}/callbacks`, {
      data, message_id: messageId,
    });
  } catch (error) {
    showError(error);
  }
}

async function publish(button) {
  button.disabled = true;
  try {
    const result = await post("/_sandbox/provisioning", { outcome: button.dataset.outcome });
    const item = document.createElement("li");
    const admin = state.person && state.person.role === "admin";
    item.textContent = say("published", { handle: result.server_handle, status: result.status }) +
      (admin ? "" : say("published_not_admin"));
    $("#published").prepend(item);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

// --- the processes' status ------------------------------------------------

async function watchStatus() {
  for (;;) {
    const ready = await watchStatusOnce();
    await new Promise((resolve) => setTimeout(resolve, ready ? 3000 : 500));
  }
}

async function watchStatusOnce() {
  try {
    const status = await json("/_sandbox/status");
    drawStatus(status);
    return status.ready;
  } catch (error) {
    $("#status").textContent = say("no_answer");
    $("#status").dataset.ready = "false";
    return false;
  }
}

function drawStatus(status) {
  const line = $("#status");
  line.dataset.ready = String(status.ready);
  line.textContent = say(
    status.ready ? "ready" : status.ingress_polling ? "starting" : "starting_no_polling"
  );
  const list = $("#processes");
  list.replaceChildren();
  for (const [name, processState] of Object.entries(status.processes)) {
    const item = document.createElement("li");
    item.dataset.state = processState;
    item.textContent = `${name} ${processState.toLowerCase()}`;
    list.append(item);
  }
}

// --- start ----------------------------------------------------------------

async function start() {
  translatePage(state.language);
  state.placeholder = $("#message-input").placeholder;
  $("#start").addEventListener("click", () => send("/start"));
  $("#menu-button").addEventListener("click", () => openMenu($("#command-menu").hidden, ""));
  $("#message-input").addEventListener("input", (event) => {
    const typed = event.target.value;
    // Typing "/" at the start offers the menu's commands that begin so, as Telegram does.
    openMenu(/^\/\w*$/.test(typed), typed.slice(1));
  });
  $("#message-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") openMenu(false);
  });
  $("#keyboard-toggle").addEventListener("click", () => {
    state.replyKeyboardOpen = !state.replyKeyboardOpen;
    showReplyKeyboard();
  });
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#message-input");
    send(input.value);
    input.value = "";
    openMenu(false);
    input.focus();
  });
  $("#attach").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", async (event) => {
    await sendFiles(event.target.files);
    event.target.value = "";  // the same file can be picked again
  });
  watchDrops();
  for (const button of document.querySelectorAll("#provisioner-panel button")) {
    button.addEventListener("click", () => publish(button));
  }
  watchStatus();
  try {
    state.people = await json("/_sandbox/people");
  } catch (error) {
    showError(error);
    return;
  }
  const wanted = location.hash.slice(1);
  choose(state.people.find((p) => p.key === wanted) || state.people.find((p) => p.key === "user"));
}

start();
