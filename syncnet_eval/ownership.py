"""Whose lips own the audio: per segment of a video with several face tracks, which track's
SyncNet window confidence is highest, by how much, and "undecided" when by too little.

The ``owner`` measure (``measures/owner.py``) reads what every track already has: its
per-window confidence (``TrackResult.framewise_conf``: the reference's ``conf``, the curve's
median minus the window's distance at the track's best offset, 9-tap median-filtered) at the
windows' start frames. No second embedding pass.

- The grid is the drift segments' (:data:`~syncnet_eval.constants.SEGMENT_S` long, every
  :data:`~syncnet_eval.constants.SEGMENT_HOP_S`), laid on the *video's* frames from frame 0 so
  that every track is cut at the same times (a drift segment starts at its track's first
  frame). A video shorter than one segment is one segment.
- A track takes part in a segment when at least half of the segment's windows are its own; its
  confidence there is the mean of its window confidences in the segment.
- With two or more tracks taking part, the segment's owner is the most confident track when
  its margin over the runner-up is at least :data:`OWNER_MIN_MARGIN`; otherwise the segment is
  ``undecided``. With one, the segment is ``alone`` (nobody to tell apart: not judged).
- A switch is a pair of consecutive decided segments with different owners; its time is the
  midpoint of their centres (the hop, 1 s, bounds its error when no segment between them is
  undecided).

Ownership is judged only by SyncNet weights that are the official file, or by an injected
embedder (a test's, whose sync is known by construction): the untrained parity-test weights'
distance curve does not depend on the audio, so a margin from them means nothing
(:func:`judgement`).

Pure numpy: no torch here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import numpy as np

from .constants import FPS, SEGMENT_HOP_S, SEGMENT_S, WINDOW_FRAMES
from .measures import VideoInputs

__all__ = [
    "JUDGED",
    "OWNER_MIN_MARGIN",
    "judgement",
    "owner_line",
    "owner_matrix",
    "owner_measure",
    "owner_rttm_text",
    "owner_runs",
    "owner_segments",
    "owner_switches",
    "owner_values",
]

# The least margin (SyncNet confidence units, as LSE-C) by which the most confident track must
# lead the runner-up for the segment to be its own: a third of the bar the project already uses
# for "clearly in sync" (a speaking window, speaking.py; a clear drift segment, scoring.py: 3).
# Official SyncNet gives an in-sync talking face window confidences of about 5-9 and a face not
# saying these words about 0-2, so a real owner leads by 3 or more; below 1 the two tracks are
# as close as two faces that both move with the audio. docs/owner.md says what it was checked
# on (the signal oracle) and what not (official weights are not available here).
OWNER_MIN_MARGIN = 1.0
# A track takes part in a segment when it has at least this share of the segment's windows.
OWNER_MIN_COVERAGE = 0.5
JUDGED = "judged"


def owner_segments(
    tracks: Sequence[Any],
    *,
    fps: float = FPS,
    segment_s: float = SEGMENT_S,
    hop_s: float = SEGMENT_HOP_S,
    min_margin: float = OWNER_MIN_MARGIN,
) -> list[dict[str, Any]]:
    """Every segment of the video's grid that a track takes part in, with its owner.

    Args:
        tracks: objects with ``index``, ``first_frame`` (frame of the video where the track's
            window 0 starts) and ``framewise_conf`` (N window confidences).
        fps: rate of the frames the windows were cut from.
        segment_s: segment length, seconds (whole windows).
        hop_s: time between segment starts, seconds (whole windows, at least 1).
        min_margin: the least lead an owner needs (:data:`OWNER_MIN_MARGIN`).

    Returns:
        One dict per segment, in time order: ``start_s``/``end_s`` (the frames its windows
        cover) and ``time_s`` (its centre), ``confidence`` (``{track index: mean window
        confidence}`` of the tracks taking part), ``leader`` (the most confident; ties to the
        lower index), ``margin`` (its lead; ``None`` alone), ``owner`` (the leader when
        decided, else ``None``) and ``decision`` (``owner``, ``undecided`` or ``alone``).
    """
    series = [
        (int(t.index), int(t.first_frame), np.asarray(t.framewise_conf, dtype=np.float64))
        for t in tracks
        if len(t.framewise_conf)
    ]
    if not series:
        return []
    begin = min(first for _, first, _ in series)
    end = max(first + conf.size for _, first, conf in series)  # one past the last window start
    seg = max(1, min(round(segment_s * fps), end - begin))
    hop = max(1, round(hop_s * fps))
    # The grid starts at frame 0 of the video (a multiple of the hop before the first track).
    first_start = (begin // hop) * hop
    segments = []
    for start in range(first_start, max(first_start, end - seg) + 1, hop):
        confidence = {}
        for index, first, conf in series:
            lo, hi = max(start, first) - first, min(start + seg, first + conf.size) - first
            if hi - lo >= OWNER_MIN_COVERAGE * seg:
                confidence[index] = float(conf[lo:hi].mean())
        if confidence:
            segments.append(_decide(start, seg, fps, confidence, min_margin))
    return segments


def _decide(
    start: int, seg: int, fps: float, confidence: dict[int, float], min_margin: float
) -> dict[str, Any]:
    ranked = sorted(confidence.items(), key=lambda kv: (-kv[1], kv[0]))
    leader = ranked[0][0]
    margin = ranked[0][1] - ranked[1][1] if len(ranked) > 1 else None
    decision = "alone" if margin is None else ("owner" if margin >= min_margin else "undecided")
    return {
        # Windows start..start+seg-1 cover frames start..start+seg+3.
        "start_s": round(start / fps, 4),
        "end_s": round((start + seg + WINDOW_FRAMES - 1) / fps, 4),
        "time_s": round((start + (seg + WINDOW_FRAMES - 1) / 2.0) / fps, 4),
        "confidence": {str(k): round(v, 4) for k, v in sorted(confidence.items())},
        "leader": leader,
        "margin": None if margin is None else round(margin, 4),
        "owner": leader if decision == "owner" else None,
        "decision": decision,
    }


def owner_switches(segments: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Where the owner changes: ``{"time_s", "from", "to"}`` for each pair of consecutive
    decided segments (undecided ones between them skipped) with different owners, at the
    midpoint of their centres."""
    decided = [s for s in segments if s.get("decision") == "owner"]
    return [
        {"time_s": round((a["time_s"] + b["time_s"]) / 2, 4), "from": a["owner"], "to": b["owner"]}
        for a, b in zip(decided, decided[1:], strict=False)
        if a["owner"] != b["owner"]
    ]


def owner_runs(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The owner timeline as runs: ``{"track", "start_s", "end_s"}`` per maximal stretch of one
    owner, bounded by the switches (the first starts at the first decided segment's start, the
    last ends at the last decided segment's end). Empty when nothing is decided or ownership
    was not judged."""
    if values.get("owner_judgement") != JUDGED:
        return []
    decided = [s for s in values.get("owner_segments") or [] if s.get("decision") == "owner"]
    if not decided:
        return []
    runs = [{"track": decided[0]["owner"], "start_s": decided[0]["start_s"]}]
    for switch in values.get("owner_switches") or []:
        runs[-1]["end_s"] = switch["time_s"]
        runs.append({"track": switch["to"], "start_s": switch["time_s"]})
    runs[-1]["end_s"] = decided[-1]["end_s"]
    return runs


def judgement(provenance: Mapping[str, Any]) -> str:
    """:data:`JUDGED`, or why ownership cannot be judged from a record's provenance: SyncNet
    weights that are not the official file (the untrained parity-test weights' curve is a V at
    offset 0 whatever the audio). An injected embedder (no weights file) is judged: its sync is
    its own (the tests' signal embedder is known by construction)."""
    sha = provenance.get("syncnet_weights_sha256")
    if sha is not None and provenance.get("syncnet_weights_official") is False:
        name = PurePath(str(provenance.get("syncnet_weights") or "")).name
        return (
            f"not judged: the SyncNet weights {name} (sha256 {str(sha)[:12]}...) are not the "
            "official syncnet_v2.model, so their window confidence says nothing about whose "
            "lips follow the audio"
        )
    return JUDGED


def owner_measure(inputs: VideoInputs) -> dict[str, Any]:
    """The ``owner`` measure's values of a video with two or more scored tracks (``{}``
    otherwise: one face owns nothing against nobody)."""
    tracks = list(inputs.tracks)
    if len(tracks) < 2:
        return {}
    return {
        **owner_values(owner_segments(tracks)),
        "owner_judgement": judgement(inputs.options.get("provenance") or {}),
    }


def owner_values(segments: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The measure's fields from the segments (:func:`owner_segments`): the segments, the
    switches, the track owning the most decided segments (ties to the lower index), its share
    of the judged segments (those with two or more tracks), the undecided share, and the median
    margin of the decided ones."""
    judged = [s for s in segments if s["decision"] != "alone"]
    decided = [s for s in judged if s["decision"] == "owner"]
    owners = Counter(s["owner"] for s in decided)
    top = min(owners, key=lambda k: (-owners[k], k)) if owners else None
    margins = [s["margin"] for s in decided]
    return {
        "owner_segments": list(segments),
        "owner_switches": owner_switches(segments),
        "owner_track": top,
        "owner_share": round(owners[top] / len(judged), 4) if top is not None else None,
        "owner_undecided_share": (
            round((len(judged) - len(decided)) / len(judged), 4) if judged else None
        ),
        "owner_margin": round(float(np.median(margins)), 4) if margins else None,
    }


def owner_line(values: Mapping[str, Any]) -> str | None:
    """The report's one-line reading."""
    verdict = values.get("owner_judgement")
    if verdict is None:
        return None
    if verdict != JUDGED:
        return f"owner: ownership cannot be judged ({verdict.removeprefix('not judged: ')})"
    segments = values.get("owner_segments") or []
    judged = [s for s in segments if s.get("decision") != "alone"]
    if not judged:
        return "owner: no segment with two faces to tell apart"
    top, share = values.get("owner_track"), values.get("owner_share")
    undecided = values.get("owner_undecided_share") or 0.0
    head = (
        "owner: no segment decided"
        if top is None
        else f"owner: track {top} owns {100 * (share or 0):.0f}% of {len(judged)} segments"
    )
    switches = values.get("owner_switches") or []
    moved = ", ".join(f"{s['from']}→{s['to']} at {s['time_s']:.1f} s" for s in switches[:4])
    tail = f"; switches {moved}" if switches else "; no switch"
    expected = values.get("owner_expected")
    wanted = "" if expected is None else f"; the manifest names track {expected}"
    return f"{head}, {100 * undecided:.0f}% undecided (margin < {OWNER_MIN_MARGIN:g}){tail}{wanted}"


def owner_rttm_text(name: str, values: Mapping[str, Any]) -> str:
    """The owner timeline in NIST RTTM: one ``SPEAKER`` line per run of one owner
    (:func:`owner_runs`), speaker ``track<N>``, file id ``name`` (as ``speakers`` writes it)."""
    lines = [
        f"SPEAKER {name} 1 {r['start_s']:.3f} {r['end_s'] - r['start_s']:.3f} <NA> <NA> "
        f"track{r['track']} <NA> <NA>"
        for r in owner_runs(values)
    ]
    return "".join(line + "\n" for line in lines)


def owner_matrix(runs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """The faces x audio files matrix of one video scored once per audio file.

    Args:
        runs: ``(audio name, VideoResult)`` per audio file, in order (the same video, so the
            same face tracks: detection and tracking never look at the audio).

    Returns:
        ``{"audio": [names], "tracks": [indices], "lse_c": [[per audio] per track],
        "owner": [owner_track per audio], "judgement": [owner_judgement per audio],
        "follows": [per track: the audio index with its highest LSE-C, or None]}``; a cell is
        ``None`` where the track was not scored against that audio.
    """
    names = [name for name, _ in runs]
    indices = sorted({t.index for _, r in runs for t in r.tracks})
    cells = [
        [next((t.lse_c for t in r.tracks if t.index == i), None) for _, r in runs] for i in indices
    ]
    follows = []
    for row in cells:
        scored = [(c, j) for j, c in enumerate(row) if c is not None]
        follows.append(max(scored)[1] if scored else None)
    return {
        "audio": names,
        "tracks": indices,
        "lse_c": [[None if c is None else round(float(c), 4) for c in row] for row in cells],
        "owner": [r.measures.get("owner_track") for _, r in runs],
        "judgement": [r.measures.get("owner_judgement") for _, r in runs],
        "follows": follows,
    }
