"""The Streamlit side shared by the pages: the run list (runlist), session state (session), small widgets
(widgets), the sidebar's new-run settings (sidebar), the watched run's buttons (run_controls), the page CSS
(look) and every panel of the Train page (panels)."""
