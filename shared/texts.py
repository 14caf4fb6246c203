"""Everything the bot says to people, in one place.

Russian is the default (the design document's language). Another language
is one more ``Texts`` instance; ``for_language`` picks one, falling back to
Russian.
"""

from __future__ import annotations

import msgspec


class Texts(msgspec.Struct, frozen=True, kw_only=True):
    access_denied: str
    access_denied_id: str
    service_unavailable: str
    po_failed: str
    po_start_slow: str
    po_no_answer: str
    """The PO is not up within the relay's ``PO_START_TIMEOUT_S``; the message waits for it."""
    po_result_generic: str
    """A PO result with no text to show (``worker-streams``: a structured result
    without ``summary``/``message``/``text``, or agent output that is only JSON)."""
    reply_failed: str
    """A PO reply Telegram kept failing on was given up (``REPLY_MAX_ATTEMPTS``/``_AGE_S``)."""
    provision_success: str
    provision_failure: str
    provision_status: dict[str, str]
    provision_errors_more: str
    duration_unknown: str
    # --- conversation control (/stop, /new, /status)
    stopped: str
    nothing_to_stop: str
    new_confirm: str
    new_yes: str
    new_no: str
    new_declined: str
    restarted: str
    """A confirmed ``/new``; ``{cancelled}`` is ``restart_cancelled`` or empty."""
    restart_cancelled: str
    restarted_service: str
    """``po-service``'s ``restarted``: there is no assistant of the user's own to replace."""
    working_note: str
    """Shown while the PO works long (``WORKING_NOTE_AFTER_S``), with ``{minutes}``."""
    working_note_stop: str
    status_none: str
    status_starting: str
    status_working: str
    """``{duration}``: how long the PO has been on the current message."""
    status_idle: str
    status_failed: str
    status_waiting: str
    status_worker: str
    duration_minutes: str
    duration_hours: str
    duration_under_minute: str
    # --- ingress: quick commands and chat. Fields ending in ``_html`` are HTML
    # templates: whatever fills their placeholders must be escaped first.
    help: str
    """``/help`` for a user: the commands they can use (``/servers`` is not among them)."""
    help_admin: str
    """``/help`` for an admin: ``help`` with ``/servers``."""
    menu: dict[str, str]
    """Command -> its description in Telegram's command menu (``setMyCommands``). One menu
    serves everyone, so it leaves out the admins' ``/servers``."""
    buttons: dict[str, str]
    """Quick action (``projects``, ``servers``, ``tasks``, ``help``) -> its reply-keyboard label.
    A message whose text is exactly a label is that action; labels must differ from each
    other and must not start with ``/``."""
    keyboard_placeholder: str
    """Shown in the empty input field while the quick-action keyboard is up (1-64 characters)."""
    keyboard_note: str
    """Sent with the keyboard after the first chat message of a keyboard session."""
    button_expired: str
    """A callback answer (at most 200 characters): the button's data is stale or not ours."""
    po_button_expired: str
    """A callback answer: a button the assistant offered was pressed already, expired, or is
    not the presser's."""
    po_button_chosen: str
    """Appended to the assistant's question once one of its buttons was pressed, ``{label}``."""
    page_back: str
    page_forward: str
    list_page: str
    """``{page}`` of ``{pages}``, after a paginated list's heading."""
    project_button: str
    """An inline button under ``/projects`` that opens one project, with ``{name}``."""
    unknown_command: str
    private_only: str
    only_text: str
    caption_forwarded: str
    edit_not_forwarded: str
    admins_only: str
    """A 403 on an admin-only list (``/servers``)."""
    list_forbidden: str
    """A 403 on any other list: the API says this account may not see it.
    Also a callback answer, so at most 200 characters."""
    list_empty: dict[str, str]
    """``projects``/``servers``/``tasks`` -> the line shown for an empty list."""
    list_title_html: dict[str, str]
    """``projects``/``servers``/``tasks`` -> the heading of a list, with ``{count}``."""
    project_html: str
    project_repository_html: str
    project_card_html: str
    """A project's details: ``{name}`` and ``{status}``; the lines below follow when known."""
    project_description_html: str
    project_deployed_html: str
    project_status: dict[str, str]
    server_html: str
    server_usage: str
    server_usage_unknown: str
    size_mb: str
    size_gb: str
    task_html: str
    task_project_html: str
    """A task's project by its id, when the person's projects do not name it."""
    task_project_name_html: str
    """A task's project by its ``{name}``."""
    task_started_html: str
    task_status: dict[str, str]
    # --- notifier, ``po-service``: PO-initiated messages given up (plain text)
    proactive_alert: str
    """To each admin: ``{chat}``, ``{event}`` (``proactive_alert_event`` or empty), the
    start of the message's ``{text}`` and the ``{reason}`` it was given up."""
    proactive_alert_event: str
    proactive_alert_reason: dict[str, str]
    """Dead-letter reason -> its wording, with ``{deliveries}`` and ``{error}``; an unknown
    reason is shown as written."""
    # --- ingress: files from users (issue 16; with ``FILES_SIGNING_KEY`` set)
    file_too_large: str
    """A file over the Bot API's download limit, said before its message goes on without
    it: ``{name}`` (``file_named``, or the kind's ``attachment_names``) and ``{limit}`` (MB)."""
    file_named: str
    """A file by its ``{file_name}``, as ``file_too_large``'s ``{name}``."""
    attachment_names: dict[str, str]
    """Attachment kind -> how ``file_too_large`` names a file of it that has no name."""
    not_passed_on: dict[str, str]
    """What cannot go to the assistant (``sticker``, ``location``, ``contact``, ``poll``,
    ``dice``, ``other``) -> the answer, which says what can."""
    attachment_failed: str
    """A PO's file that could not be fetched or that Telegram refused (``{name}``)."""
    attachment_failed_unnamed: str
    """The same for a file with no name: ``{number}``, its place in the reply (from 1)."""
    attachment_buttons: str
    """Carries the PO's buttons when a reply ends with an album (an album cannot)."""
    # --- notifier: access requests (issue 17). Plain text: names and the stranger's
    # words are shown exactly as written.
    access_card: str
    """An admin's card: ``{name}``, ``{username}``, ``{telegram_id}``, ``{language}``,
    ``{requested}`` (``access_card_time``) and the stranger's ``{first_message}``."""
    access_card_none: str
    """An empty field of the card (no username, no language, no first message)."""
    access_card_time: str
    """A moment as the card shows it, in UTC: ``strftime`` codes."""
    access_card_approve: str
    access_card_deny: str
    access_card_approved: str
    """Added to the card once decided: ``{name}`` of the admin, ``{time}``."""
    access_card_denied: str
    access_card_expired: str
    access_granted_notice: str
    """To the stranger, with the quick-action keyboard, once approved."""
    access_denied_notice: str
    """To the stranger, once, when an admin denied the request."""
    access_expired_notice: str
    """To the stranger, once, when nobody decided within ``ACCESS_REQUEST_TTL_S``."""

    # --- access requests (issue 17; ingress): plain text, no formatting
    access_request_button: str
    """The stranger's inline button under the rejection (private chats only)."""
    access_request_sent: str
    access_request_pending: str
    """The reminder while a request waits (at most once an hour); also a repeated press's answer."""
    access_request_cooldown: str
    """A press while a denial's cooldown runs (a callback answer: at most 200 characters)."""
    access_request_known: str
    """The request button pressed by someone who has access already."""
    access_decision_approved: str
    access_decision_denied: str
    """Callback answers to the admin who decided."""
    access_decided: str
    """A press on a request decided already: ``{outcome}`` (``access_outcome``)."""
    access_outcome: dict[str, str]
    """``approved``/``denied``/``expired`` -> who and when: ``{name}``, ``{time}`` (HH:MM UTC)."""
    access_in_progress: str
    """Another admin's approval of this request is under way: ``{name}``."""
    access_not_admin: str
    access_unknown_request: str
    access_approve_failed: str
    """The API did not create the user: the request is pending again."""


_HELP_INTRO = (
    "Я — вход на платформу. Напишите обычным текстом, и сообщение уйдёт "
    "вашему ассистенту (Product Owner); его ответ придёт сюда.\n"
    "\n"
    "Быстрые команды (они же кнопки под полем ввода) отвечают сразу, "
    "без ассистента:\n"
)


def _help(*commands: str) -> str:
    """The help text: the same introduction, then the commands this reader is offered."""
    return _HELP_INTRO + "\n".join(commands)


def _not_passed_on(what: str) -> str:
    """Why a message stays here, then what the assistant can be sent."""
    return (
        what + "\nАссистенту можно отправить текст, фото, документы, голосовые, аудио, "
        "видео, видеосообщения и GIF."
    )


RU = Texts(
    access_denied="Доступ запрещён. Обратитесь к администратору.",
    access_denied_id="Ваш Telegram ID: {telegram_id}",
    service_unavailable="Сервис временно недоступен. Попробуйте ещё раз через минуту.",
    po_failed=(
        "Не удалось запустить вашего ассистента. Ваше сообщение сохранено, "
        "попробуйте написать ещё раз чуть позже."
    ),
    po_start_slow=(
        "Ваш ассистент запускается дольше обычного. Сообщение сохранено: "
        "он ответит, как только запустится."
    ),
    po_no_answer=(
        "Ассистент не ответил вовремя. Сообщение сохранено: ответ придёт, если он появится."
    ),
    po_result_generic="Ассистент выполнил запрос, но не прислал текстового ответа.",
    reply_failed="Не удалось доставить ответ. Попробуйте повторить запрос.",
    provision_success=(
        "✅ Сервер {handle} настроен\n"
        "IP: {ip}\n"
        "Перезапущено сервисов: {redeployed}\n"
        "Длительность: {duration}"
    ),
    provision_failure="❌ Настройка сервера {handle}: {status}\n{details}",
    provision_status={
        "failed": "ошибка",
        "error": "сбой",
        "timeout": "превышено время ожидания",
    },
    stopped="⏹ Остановлено",
    nothing_to_stop="Сейчас нечего останавливать: ассистент ничем не занят.",
    new_confirm=(
        "Начать заново? Ассистент забудет текущий разговор, "
        "а сообщения, на которые он ещё не ответил, будут отменены."
    ),
    new_yes="Да, начать заново",
    new_no="Отмена",
    new_declined="Хорошо, продолжаем текущий разговор.",
    restarted="🆕 Начинаем заново: следующее сообщение получит новый ассистент.{cancelled}",
    restart_cancelled="\nОтменено сообщений без ответа: {count}.",
    restarted_service=(
        "🆕 Начинаем заново: ответы на прежние сообщения больше не придут.{cancelled}"
    ),
    working_note="⏳ Ассистент работает… {minutes} мин",
    working_note_stop="⏹ Стоп",
    status_none="Ассистент ещё не запущен: он появится, когда вы напишете сообщение.",
    status_starting="Ассистент запускается.",
    status_working="Ассистент работает над вашим сообщением: {duration}.",
    status_idle="Ассистент свободен и ждёт ваших сообщений.",
    status_failed=(
        "Ассистент остановлен или завершился с ошибкой: следующее сообщение запустит нового."
    ),
    status_waiting="Ждут своей очереди: {count}.",
    status_worker="Ассистент: {worker_id}",
    duration_minutes="{minutes} мин",
    duration_hours="{hours} ч {minutes} мин",
    duration_under_minute="меньше минуты",
    provision_errors_more="…и ещё {count}",
    duration_unknown="неизвестно",
    help=_help(
        "/projects — ваши проекты",
        "/tasks — активные задачи",
        "/status — что сейчас делает ассистент",
        "/stop — остановить ответ ассистента",
        "/new — начать разговор заново",
        "/help — эта справка",
    ),
    help_admin=_help(
        "/projects — ваши проекты",
        "/servers — серверы (для администраторов)",
        "/tasks — активные задачи",
        "/status — что сейчас делает ассистент",
        "/stop — остановить ответ ассистента",
        "/new — начать разговор заново",
        "/help — эта справка",
    ),
    menu={
        "projects": "Ваши проекты",
        "tasks": "Активные задачи",
        "status": "Что делает ассистент",
        "stop": "Остановить ответ",
        "new": "Начать заново",
        "help": "Справка",
    },
    buttons={
        "projects": "📁 Проекты",
        "servers": "🖥 Серверы",
        "tasks": "📋 Задачи",
        "help": "❓ Помощь",
    },
    keyboard_placeholder="Сообщение ассистенту",
    keyboard_note=(
        "Передаю ассистенту. Кнопки под полем ввода — быстрые действия: "
        "они отвечают сразу, без ассистента."
    ),
    button_expired="Эта кнопка устарела. Запросите список ещё раз.",
    po_button_expired="Эта кнопка уже не действует.",
    po_button_chosen="→ {label}",
    page_back="◀",
    page_forward="▶",
    list_page="стр. {page} из {pages}",
    project_button="ℹ️ {name}",
    unknown_command="Команды {command} нет, ассистенту она не передана.",
    private_only="Я работаю только в личных сообщениях: напишите мне напрямую.",
    only_text=(
        "Пока я понимаю только текст: фото, файлы, голосовые и стикеры не передаются. "
        "Напишите, пожалуйста, словами."
    ),
    caption_forwarded="Подпись передана ассистенту, а сам файл — нет: пока я передаю только текст.",
    edit_not_forwarded=(
        "Исправления не передаются: ассистент видит первый вариант. "
        "Если нужно, отправьте исправленный текст новым сообщением."
    ),
    admins_only="Эта команда доступна только администраторам.",
    list_forbidden=(
        "Вашей учётной записи это недоступно. Если это ошибка, обратитесь к администратору."
    ),
    list_empty={
        "projects": "У вас пока нет проектов.",
        "servers": "Серверов пока нет.",
        "tasks": "Сейчас нет активных задач.",
    },
    list_title_html={
        "projects": "<b>Ваши проекты</b> ({count})",
        "servers": "<b>Серверы</b> ({count})",
        "tasks": "<b>Активные задачи</b> ({count})",
    },
    project_html="<b>{name}</b> — {status}",
    project_repository_html="Репозиторий: {url}",
    project_card_html="<b>{name}</b>\nСтатус: {status}",
    project_description_html="Описание: {description}",
    project_deployed_html="Развёрнут: {url}",
    project_status={
        "draft": "черновик",
        "scaffolding": "создаётся каркас",
        "scaffolded": "каркас готов",
        "developing": "в разработке",
        "testing": "тестируется",
        "deploying": "развёртывается",
        "active": "работает",
        "failed": "ошибка",
        "archived": "в архиве",
    },
    server_html="<b>{handle}</b> — {status}\nRAM: {ram} · диск: {disk}",
    server_usage="{used} из {total} ({percent}%)",
    server_usage_unknown="нет данных",
    size_mb="{value} МБ",
    size_gb="{value} ГБ",
    task_html="<b>{type}</b> — {status} · <code>{id}</code>",
    task_project_html="проект <code>{project}</code>",
    task_project_name_html="проект «{name}»",
    task_started_html="запущена {started}",
    task_status={
        "queued": "в очереди",
        "running": "выполняется",
        "completed": "завершена",
        "failed": "ошибка",
        "cancelled": "отменена",
    },
    proactive_alert=(
        "⚠️ Сообщение ассистента пользователю не доставлено\n"
        "Чат: {chat}\n"
        "{event}"
        "Текст: {text}\n"
        "Причина: {reason}"
    ),
    proactive_alert_event="Событие: {event}\n",
    proactive_alert_reason={
        "max_deliveries": "доставить не удалось (попыток: {deliveries}; {error})",
        "malformed": "запись в po:proactive некорректна ({error})",
        "trimmed": "запись удалена из po:proactive до доставки",
    },
    file_too_large=(
        "Не могу передать ассистенту {name}: Telegram отдаёт ботам файлы только до {limit} МБ. "
        "Ассистент получит сообщение без самого файла."
    ),
    file_named="файл «{file_name}»",
    attachment_names={
        "photo": "фото",
        "document": "файл",
        "voice": "голосовое сообщение",
        "audio": "аудио",
        "video": "видео",
        "video_note": "видеосообщение",
        "animation": "анимацию",
    },
    not_passed_on={
        "sticker": _not_passed_on("Стикеры ассистенту не передаю."),
        "location": _not_passed_on(
            "Геопозицию ассистенту не передаю: напишите адрес или место словами."
        ),
        "contact": _not_passed_on("Контакты ассистенту не передаю: напишите нужное текстом."),
        "poll": _not_passed_on("Опросы ассистенту не передаю: напишите вопрос и варианты текстом."),
        "dice": _not_passed_on("Кубики и другие игровые эмодзи ассистенту не передаю."),
        "other": _not_passed_on("Такие сообщения ассистенту не передаю."),
    },
    attachment_failed="файл {name} не удалось отправить",
    attachment_failed_unnamed="вложение {number} не удалось отправить",
    attachment_buttons="⬆️",
    access_request_button="🙋 Запросить доступ",
    access_request_sent="Запрос отправлен администраторам. Я напишу, когда его рассмотрят.",
    access_request_pending="Ваш запрос ещё рассматривается",
    access_request_cooldown="Ваш запрос был отклонён. Повторить его пока нельзя.",
    access_request_known="Доступ у вас уже есть.",
    access_decision_approved="✅ Одобрено",
    access_decision_denied="❌ Отклонено",
    access_decided="Уже решено: {outcome}",
    access_outcome={
        "approved": "✅ {name}, {time}",
        "denied": "❌ {name}, {time}",
        "expired": "истёк",
    },
    access_in_progress="Запрос уже одобряет {name}",
    access_not_admin="Решать запросы доступа могут только администраторы.",
    access_unknown_request="Такого запроса нет.",
    access_approve_failed=(
        "Не удалось создать пользователя: API не ответил. Запрос ждёт, попробуйте ещё раз."
    ),
    access_card=(
        "🙋 Запрос доступа\n"
        "Имя: {name}\n"
        "Username: {username}\n"
        "Telegram ID: {telegram_id}\n"
        "Язык: {language}\n"
        "Запрошено: {requested}\n"
        "Первое сообщение:\n"
        "{first_message}"
    ),
    access_card_none="—",
    access_card_time="%d.%m.%Y %H:%M UTC",
    access_card_approve="✅ Одобрить",
    access_card_deny="❌ Отклонить",
    access_card_approved="✅ Одобрено: {name}, {time}",
    access_card_denied="❌ Отклонено: {name}, {time}",
    access_card_expired="⌛ Запрос истёк",
    access_granted_notice=(
        "Доступ открыт. Теперь ваши сообщения уходят ассистенту; то, что вы писали "
        "до одобрения, не передано — напишите ещё раз. Кнопки под полем ввода — "
        "быстрые действия."
    ),
    access_denied_notice=(
        "К сожалению, администратор отклонил ваш запрос доступа. Спасибо за понимание."
    ),
    access_expired_notice=(
        "Ваш запрос доступа истёк: администраторы не успели его рассмотреть. "
        "Если доступ всё ещё нужен, напишите мне, и я предложу отправить запрос снова."
    ),
)

_LANGUAGES = {"ru": RU}


def for_language(code: str | None) -> Texts:
    return _LANGUAGES.get((code or "ru").split("-")[0].lower(), RU)
