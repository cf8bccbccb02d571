"""The attention-vs-event correlation: coverage of timesteps by an event, and the correlation's sign."""

from __future__ import annotations

import numpy as np

from core.attention_events import correlations, coverage


def test_coverage_is_the_event_share_of_each_step() -> None:
    assert coverage(16, 32, 64, 4).tolist() == [0.0, 1.0, 0.0, 0.0]
    assert coverage(8, 24, 64, 4).tolist() == [0.5, 0.5, 0.0, 0.0]
    assert coverage(3, 5, 16, 8).tolist() == [0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_attention_on_the_event_correlates_and_elsewhere_does_not() -> None:
    frames = {"audio": 64, "visual": 16}
    events = np.array([[0, 16, 12, 16], [48, 64, 0, 4]])
    on = np.zeros((2, 3, 4))
    on[0, 0, 0], on[0, 1, 3], on[1, 0, 3], on[1, 1, 0] = 1, 1, 1, 1  # each on its own event
    c = correlations(on, events, frames)
    assert np.allclose(c["audio"], 1) and np.allclose(c["visual"], 1)
    off = on[:, :, ::-1]  # the same attention, mirrored in time: away from the events
    c = correlations(off, events, frames)
    assert (c["audio"] < 0).all() and (c["visual"] < 0).all()
    flat = np.full((2, 3, 4), 0.25)  # uniform attention: no correlation to speak of
    assert np.isnan(correlations(flat, events, frames)["audio"]).all()
