// The page's own words, in the languages of the people on it. The page speaks the
// language of the person picked (their Telegram language_code), as their Telegram
// client would; Russian when it has no words in that language (the bot's default).
// A new language is one more entry here, with the same keys.
"use strict";

const UI_DEFAULT_LANGUAGE = "ru";

const UI = {
  ru: {
    sandbox: "песочница",
    starting: "запускается…",
    starting_no_polling: "запускается… (ingress ещё не опрашивает Telegram)",
    ready: "бот работает: напишите ему",
    no_answer: "песочница не отвечает (остановлена?)",
    lost: "связь с песочницей потеряна ({error}); пробую снова…",
    who: "Кто вы?",
    hint_people: "У каждого свой личный чат с ботом. API знает всех, кроме незнакомца. " +
      "У PO Грейс и Алана свой характер: PO Грейс думает вслух и присылает ответ " +
      "по частям, PO Алана сам пишет ещё раз через минуту.",
    hint_files: "Прикрепите файл кнопкой 📎 или перетащите его в чат (текст из поля " +
      "станет подписью): PO ответит, что получил. Напишите <code>demo file</code>, " +
      "и PO пришлёт картинку и документ.",
    bot: "бот",
    you_are: "вы — {name}",
    roles: { admin: "админ", user: "пользователь", stranger: "незнакомец" },
    about: {
      admin: "админ: видит серверы, получает итоги подготовки серверов",
      user: "обычный пользователь с проектами и задачами",
      grace: "её PO думает вслух: «печатает…», потом ответ по частям",
      alan: "его PO сам пишет снова через минуту после его сообщения",
      emma: "её Telegram на английском: бот и эта страница тоже",
      margaret: "у неё 25 проектов: /projects показывает их по страницам",
      stranger: "его нет в API: бот ему отказывает",
    },
    what_can: "Что умеет этот бот?",
    bot_intro: "Бот команды разработки: проекты, серверы и задачи, и разговор с PO.",
    start: "СТАРТ",
    today: "Сегодня",
    yesterday: "Вчера",
    edited: "изменено",
    placeholder: "Сообщение…",
    send: "Отправить",
    attach: "прикрепить файлы (или перетащите их в чат)",
    menu: "меню команд",
    keyboard: "клавиатура бота",
    quick: "быстрые команды",
    demo_file: "demo file",
    demo_file_title: "PO ответит картинкой и документом",
    drop: "Отпустите, чтобы отправить: картинки уйдут как фото, остальное — как файлы.",
    only_text: "{kind}: песочница умеет отправлять только текст",
    typing: "бот {action}…",
    actions: {
      typing: "печатает", upload_photo: "отправляет фото", upload_document: "отправляет файл",
      upload_video: "отправляет видео", upload_voice: "отправляет голосовое",
      record_voice: "записывает голосовое", record_video: "записывает видео",
    },
    files: {
      document: "файл", audio: "аудио", voice: "голосовое сообщение", video: "видео",
      video_note: "видеосообщение", animation: "GIF", sticker: "стикер",
    },
    provisioner: "Подготовка серверов",
    provisioner_about: "Когда сервер готов, provisioner публикует итог в " +
      "<code>provisioner:results</code>; notifier сообщает каждому админу.",
    publish_success: "Опубликовать: сервер готов",
    publish_failure: "Опубликовать: ошибка подготовки",
    published: "{handle}: опубликовано «{status}»",
    published_not_admin: " (выберите админа, чтобы увидеть уведомление)",
  },
  en: {
    sandbox: "sandbox",
    starting: "starting…",
    starting_no_polling: "starting… (the ingress is not polling yet)",
    ready: "the bot is up: write to it",
    no_answer: "the sandbox does not answer (stopped?)",
    lost: "lost the sandbox ({error}); retrying…",
    who: "Who are you?",
    hint_people: "Each person has their own private chat with the bot. The API knows " +
      "everyone but the stranger. Grace's and Alan's PO workers have a persona: Grace's " +
      "thinks aloud and streams its reply, Alan's writes again by itself a minute later.",
    hint_files: "Attach a file with 📎 or drop it on the chat (the text in the box " +
      "becomes its caption): the PO answers with what it got. Write " +
      "<code>demo file</code> and the PO sends you an image and a document.",
    bot: "bot",
    you_are: "you are {name}",
    roles: { admin: "admin", user: "user", stranger: "stranger" },
    about: {},  // the people's own lines (world.py) are English
    what_can: "What can this bot do?",
    bot_intro: "The dev team's bot: projects, servers and tasks, and a chat with the PO.",
    start: "START",
    today: "Today",
    yesterday: "Yesterday",
    edited: "edited",
    placeholder: "Write a message…",
    send: "Send",
    attach: "attach files (or drop them on the chat)",
    menu: "command menu",
    keyboard: "the bot's keyboard",
    quick: "quick commands",
    demo_file: "demo file",
    demo_file_title: "the PO answers with an image and a document",
    drop: "Drop to send: images go as photos, anything else as files.",
    only_text: "{kind}: the sandbox can only send text",
    typing: "bot is {action}…",
    actions: {
      typing: "typing", upload_photo: "sending a photo", upload_document: "sending a file",
      upload_video: "sending a video", upload_voice: "sending a voice message",
      record_voice: "recording a voice message", record_video: "recording a video",
    },
    files: {
      document: "file", audio: "audio", voice: "voice message", video: "video",
      video_note: "video message", animation: "GIF", sticker: "sticker",
    },
    provisioner: "Provisioner",
    provisioner_about: "When a server has been set up, the provisioner publishes the " +
      "result on <code>provisioner:results</code>; the notifier tells every admin.",
    publish_success: "Publish: server ready",
    publish_failure: "Publish: setup failed",
    published: "{handle}: {status} published",
    published_not_admin: " (switch to the admin to see the notice)",
  },
};

// The language the page speaks for a Telegram language_code ("en", "en-GB", "ru"...).
function uiLanguage(code) {
  const short = String(code || "").slice(0, 2).toLowerCase();
  return Object.hasOwn(UI, short) ? short : UI_DEFAULT_LANGUAGE;
}

// A string of the current language, with {placeholders} filled in.
function t(language, key, values = {}) {
  const words = UI[language][key] ?? UI[UI_DEFAULT_LANGUAGE][key] ?? key;
  return String(words).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// Every element marked data-i18n (its text), data-i18n-html (its markup, ours only),
// data-i18n-placeholder, data-i18n-title, data-i18n-label (aria-label).
function translatePage(language) {
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(language, element.dataset.i18n);
  }
  for (const element of document.querySelectorAll("[data-i18n-html]")) {
    element.innerHTML = t(language, element.dataset.i18nHtml);
  }
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(language, element.dataset.i18nPlaceholder);
  }
  for (const element of document.querySelectorAll("[data-i18n-title]")) {
    element.title = t(language, element.dataset.i18nTitle);
  }
  for (const element of document.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(language, element.dataset.i18nLabel));
  }
}

// A table of words (roles, actions...) in the current language.
function words(language, key) {
  return { ...UI[UI_DEFAULT_LANGUAGE][key], ...UI[language][key] };
}
