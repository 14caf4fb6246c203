"""PO text to Telegram HTML, safely, split to Telegram's limit. Pure: no I/O.

``cleaning`` (``clean``, ``escape``) makes text what Telegram will show;
``markdown`` (``blocks``, ``render``) turns PO Markdown into HTML that always
parses, ``tables`` laying tables out as monospace blocks; ``html`` reads that
HTML as atoms and visible text; ``splitting`` (``render_parts``,
``plain_parts``, ``split``, ``Part``) cuts it into messages; ``rich``
(``rich_message``) builds the Bot API 10.1 rich form of the same blocks.
"""
