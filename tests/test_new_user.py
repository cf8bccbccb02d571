"""What a new user tripped over (issue 26): run names that say what a run is, a Continue note that counts epochs
like the run bar, a CLI command that reproduces a run, honest small numbers and words."""

from __future__ import annotations

import pytest

from core.launcher import continue_note

pytestmark = pytest.mark.unit


def test_continue_note_counts_epochs_from_one_like_the_run_bar() -> None:
    # 38 steps an epoch, stopped at step 277: the last checkpoint (stored epoch 6, 0-based) ends the 7th epoch.
    text = continue_note({"epoch": 6, "step": 266}, 277)
    assert "end of epoch 7 (step 266)" in text
    assert "steps 267–277 are trained again" in text
    assert "epoch 6" not in text
