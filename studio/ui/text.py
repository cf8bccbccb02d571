"""Text from a run folder (names, warnings, errors, log lines, config values) shown as text, never as markdown.

A run folder may come from someone else: its strings are data. Streamlit renders st.markdown / caption / info /
warning / error / success / toast and every `help=` as markdown, where `![](http://...)` makes the browser fetch
a URL (a tracking pixel, or a GET to a service of this machine) and `[x](http://...)` is a clickable link.
`plain()` escapes every markdown character of such a string, so it shows exactly as written.
"""

from __future__ import annotations

import re

# What starts an image, link, HTML, emphasis, code, table, Streamlit's :icon: / :red[...] directives or $math$,
# anywhere in a line, gets a backslash; '_' only where it can be emphasis (not inside a word: tau_mem_ms stays)
_MARKDOWN = re.compile(r"[\\`*\[\]()<>#!|~:$&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])", re.MULTILINE)  # a list, rule or heading underline: only there


# Streamlit's markdown (remark-gfm) turns http://..., www.x and x@y into links by searching the text after
# parsing, so escapes do not stop it: an invisible word joiner inside each keeps the text and breaks the link.
_AUTOLINK = re.compile(r"(https?(?=:)|www(?=\.)|(?=@))", re.IGNORECASE)
JOINER = "\u2060"


def plain(value: object) -> str:
    """`value` as markdown that shows its text: no image, link, HTML, emphasis, math or directive (a bare URL
    or address shows with an invisible word joiner in it, so that it is no link)."""
    text = _MARKDOWN.sub(lambda m: "\\" + m.group(0), _AUTOLINK.sub(lambda m: m.group(1) + JOINER, str(value)))
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def one_line(error: BaseException | str) -> str:
    """The first line of an error's message (its type if it has none), at most 300 characters."""
    message = str(error).strip()
    if not message and isinstance(error, BaseException):
        message = type(error).__name__
    return (message.splitlines() or [""])[0][:300]
