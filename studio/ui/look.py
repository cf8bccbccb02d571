"""Page-wide CSS for what Streamlit's own chrome gets wrong for this studio (studio/home.py applies it
on every full run, so every page has it; fragment reruns keep it).

- Streamlit's status widget (top right) shows its own "Stop" while a script or fragment runs for more
  than half a second. It stops the page's script, not the training run, and users took it for the
  studio's Stop. Only that button is hidden: the running indicator and the connection status stay.
  (`client.toolbarMode` does not govern the widget; the hidden `ui.hideTopBar` option would also hide
  the connection status.)
- A selectbox keeps a focus border in the theme's primary colour (red) after a choice, which reads as
  an error: focus is drawn in a calm blue instead, still visible for keyboard users. (1.67's selectbox
  is a react-aria ComboBox; its first child draws the border.)
"""

from __future__ import annotations

FOCUS_BLUE = "#0068c9"  # the studio template's first colour (studio/charts/figbuild.py)

CSS = f"""<style>
[data-testid="stStatusWidget"]:has([data-testid="stStatusWidgetRunningIcon"]) button {{ display: none !important; }}
[data-testid="stSelectbox"] .react-aria-ComboBox > div:focus-within,
[data-testid="stMultiSelect"] .react-aria-ComboBox > div:focus-within {{ border-color: {FOCUS_BLUE} !important; }}
</style>"""


def apply() -> None:
    """Inject the CSS. Through st.markdown: a style-only st.html goes to Streamlit's event container,
    which 1.67's browser side never puts in the page (checked in Chromium: no such <style> in the DOM)."""
    import streamlit as st

    st.sidebar.markdown(CSS, unsafe_allow_html=True)
