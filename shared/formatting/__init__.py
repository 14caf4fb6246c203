"""PO text to Telegram HTML, safely, split to Telegram's limit. Pure: no I/O.

``cleaning`` (``clean``, ``escape``) makes text what Telegram will show;
``markdown`` (``render``) turns PO Markdown into HTML that always parses;
``html`` reads that HTML as atoms and visible text; ``splitting``
(``render_parts``, ``plain_parts``, ``split``, ``Part``) cuts it into messages.
"""
