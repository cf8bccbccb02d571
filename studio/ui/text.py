"""Text from a run folder (names, warnings, errors, log lines, config values) shown as text, never as markdown.

A run folder may come from someone else: its strings are data. Streamlit renders st.markdown / caption / info /
warning / error / success / toast and every `help=` as markdown, where `![](http://...)` makes the browser fetch
a URL (a tracking pixel, or a GET to a service of this machine) and `[x](http://...)` is a clickable link.
`plain()` escapes every markdown character of such a string, so it shows exactly as written.
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=\"'/@%^])")  # every ASCII punctuation that markdown or
# Streamlit's extensions read (:icon:, :red[...], $math$, autolinks www.x / http://x / x@y) gets a backslash


def plain(value: object) -> str:
    """`value` as markdown that shows exactly its text: no image, link, HTML, emphasis, math or directive."""
    return _MARKDOWN.sub(r"\\\1", str(value))


def one_line(error: BaseException | str) -> str:
    """The first line of an error's message (its type if it has none), at most 300 characters."""
    message = str(error).strip()
    if not message and isinstance(error, BaseException):
        message = type(error).__name__
    return (message.splitlines() or [""])[0][:300]
