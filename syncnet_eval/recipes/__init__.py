"""Recipes: the stages wired into one scoring procedure each.

- :func:`~syncnet_eval.recipes.whole_frame.score_whole_frames`: ``direct`` and ``wav2lip-lrs``,
  the whole frame as the lip stream's input;
- :func:`~syncnet_eval.recipes.face_tracks.score_face_tracks`: ``syncnet-pipeline``, scenes,
  face detection, tracking and crops first, then every track.

Each takes typed collaborators (the embedder, the detector, their configs, a timer) and returns
a :class:`~syncnet_eval.types.VideoResult`, raising :class:`~syncnet_eval.errors.InputError`
subclasses for inputs it cannot score. Both share :func:`~syncnet_eval.recipes.steps.score_track`.
"""

from __future__ import annotations

from .face_tracks import score_face_tracks
from .steps import score_track
from .whole_frame import WHOLE_FRAME_RECIPES, score_whole_frames

__all__ = ["WHOLE_FRAME_RECIPES", "score_face_tracks", "score_track", "score_whole_frames"]
