"""Everything the bot says to people: the typed interface over the catalogues.

The code reads a ``Texts``; its values come from ``shared/locales/<language>/
LC_MESSAGES/bot.po`` (``shared.i18n``): msgid = field name, dict fields as
``field.key``. Russian is the default (the design document's language);
``DEFAULT_LANGUAGE`` may name another catalogue. ``for_language`` picks by a
Telegram ``language_code``; a new language is a new catalogue, no code change.
"""

from __future__ import annotations

from functools import cache
from typing import Final, get_type_hints

import msgspec

from shared import i18n


class Texts(msgspec.Struct, frozen=True, kw_only=True):
    language: str
    """The catalogue's language (``ru``, ``en``): the locale dates are written in."""
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
    duration_seconds: str
    """A provisioning run's length under a minute: ``{seconds}`` with one decimal."""
    duration_minutes_seconds: str
    # --- ingress: quick commands and chat. Fields ending in ``_html`` are HTML
    # templates: whatever fills their placeholders must be escaped first.
    help: str
    """``/help`` for a user: the commands they can use (``/servers`` is not among them)."""
    help_admin: str
    """``/help`` for an admin: ``help`` with ``/servers``."""
    menu: dict[str, str]
    """Command -> its description in Telegram's command menu (``setMyCommands``), one menu
    per language. The menu serves everyone, so it leaves out the admins' ``/servers``."""
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
    server_status: dict[str, str]
    """A server's status as the API writes it -> its wording; an unknown one is shown as is."""
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
    """``{started}``: the moment, as the reader's locale writes it (``i18n.short_datetime``)."""
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
    access_decision_time: str
    """When a request was decided, as its outcome shows it ("✅ Одобрено: Ада, 14:02"), in
    UTC: ``strftime`` codes."""
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


DEFAULT_LANGUAGE: Final = "ru"
_DICT_FIELDS: Final = frozenset(
    name for name, hint in get_type_hints(Texts).items() if hint == dict[str, str]
)


def keys() -> list[str]:
    """Every msgid a complete catalogue has, dict fields by their entries in ``ru``."""
    ru = i18n.catalogue(DEFAULT_LANGUAGE)
    found = []
    for name in Texts.__struct_fields__:
        if name == "language":
            continue
        if name in _DICT_FIELDS:
            found += [key for key in ru if key.startswith(f"{name}.")]
        else:
            found.append(name)
    return found


@cache
def catalogue_texts(language: str) -> Texts:
    """``language``'s catalogue as ``Texts``; ``CatalogueError`` names a missing text."""
    messages = i18n.catalogue(language)
    values: dict[str, object] = {"language": language}
    for name in Texts.__struct_fields__:
        if name == "language":
            continue
        if name in _DICT_FIELDS:
            prefix = f"{name}."
            entries = {k[len(prefix) :]: v for k, v in messages.items() if k.startswith(prefix)}
            if not entries:
                raise i18n.CatalogueError(f"{language}: no {name}.* texts")
            values[name] = entries
        elif name in messages:
            values[name] = messages[name]
        else:
            raise i18n.CatalogueError(f"{language}: no text {name!r}")
    return msgspec.convert(values, Texts)


def for_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> Texts:
    """The texts for a Telegram ``language_code`` (``en``, ``en-GB``); otherwise ``default``'s."""
    return catalogue_texts(i18n.pick(code, i18n.languages(), default))


def every_language() -> list[Texts]:
    """One ``Texts`` per catalogue (the keyboard labels and menus of all of them)."""
    return [catalogue_texts(language) for language in i18n.languages()]


RU: Final = catalogue_texts("ru")
"""The Russian texts: the default, and what the tests compare with."""
