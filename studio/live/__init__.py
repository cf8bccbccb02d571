"""The live room: one process-wide cache of run data and built figures (runs), the HTTP routes the browser polls
(routes) and every URL of those routes (urls), which figure each panel draws (figures) and the browser-side
components (livechart). Pages use runs' public functions (snapshot, panel_figure, raster_figure, probe_arrays,
token_for), never a LiveRun's lock or fields."""
