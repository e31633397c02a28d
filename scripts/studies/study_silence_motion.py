"""Mouth motion in silence on the shared media: real speakers against generated clips.

Usage:
    python scripts/studies/study_silence_motion.py [FILES ...] [--recipe syncnet-pipeline]

Scores each file (HOG faces for the pipeline recipe; the parity-test SyncNet weights, which the
silence measure does not use) and prints, per track, the counted silent frames, the share that
move (``silent_motion_fraction``) and, from the same rule (``syncnet_eval.silence``), the
speaker's median motion while speaking and the median motion over the silent frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

import numpy as np

from syncnet_eval import PipelineConfig, ScoreConfig, SyncPipeline, silence
from syncnet_eval.recipes import steps

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MEDIA = SHARED / "media"
PARITY_SYNCNET = SHARED / "weights" / "test" / "syncnet_parity_test.model"
REAL = (
    "syncnet_example.avi",
    "lrs3_C8zY0oAdQrs_00018_uncropped.mp4",
    "hdtf_WDA_KatieHill_000.mp4",
    "hdtf_WDA_AlexandriaOcasioCortez_000.mp4",
    "hdtf_WDA_BobMenendez_000.mp4",
    "hdtf_RD_Radio2_000.mp4",
    "retalking_face_2.mp4",
    "retalking_face_5.mp4",
    "interview_two_faces_test_video_crop.mp4",
    "film_phonecall_input3.mp4",
)
GENERATED = (
    "sadtalker_art_2__RD_Radio31_000.mp4",
    "hallo_gufeng1_libai_224.mp4",
    "hallo_gufeng1_libai_224_plus_wav2lip.mp4",
    "aniportrait_guangfan.avi",
    "dinet_test19.mp4",
)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--recipe", default="syncnet-pipeline")
    args = parser.parse_args(argv)
    seen: list[tuple[float | None, float | None]] = []  # per scored track, in order

    def measure(
        audio: np.ndarray, motion: np.ndarray, level: float | None
    ) -> silence.SilenceMotion:
        found = silence.measure_silence_motion(audio, motion, level)
        levels = silence.frame_levels_dbfs(audio)
        ref = silence.speech_level_dbfs(levels) if level is None else level
        _, counted = silence.silent_frames(levels, ref)
        quiet = motion[: counted.size][counted[: motion.size]]
        quiet = quiet[np.isfinite(quiet)]
        seen.append((found.baseline, float(np.median(quiet)) if quiet.size else None))
        return found

    steps.measure_silence_motion = measure  # type: ignore[assignment]
    files = args.files or [MEDIA / n for n in (*REAL, *GENERATED)]
    pipe = SyncPipeline(
        ScoreConfig(device="cpu"),
        PipelineConfig(detector="hog"),
        syncnet_weights=PARITY_SYNCNET,
        offline=True,
        progress=False,
    )
    print(f"rule: {silence.SILENCE_RULE}\n")
    print(
        "| file | kind | track | frames | silent frames | moving share | median motion "
        "speaking | median motion silent |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for path in files:
        kind = "real" if path.name in REAL else "generated" if path.name in GENERATED else "?"
        seen.clear()
        result = pipe.evaluate(path, args.recipe)
        if not result.ok:
            print(f"| {path.name} | {kind} | {result.status}: {result.reason} | | | |")
            continue
        for t, (base, quiet) in zip(result.tracks, seen, strict=False):
            print(
                f"| {path.name} | {kind} | {t.index} | {t.num_frames} | "
                f"{t.value('silent_frames')} | {_num(t.value('silent_motion_fraction'))} | "
                f"{_num(base)} | {_num(quiet)} |"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
