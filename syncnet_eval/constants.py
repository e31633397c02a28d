"""The constants that move SyncNet's numbers, named once and imported everywhere else.

Two kinds live here: the paper's (SyncNet was trained on 25 fps video and 16 kHz audio, on
5-frame windows of 224 px face crops) and the reference implementation's defaults
(joonson/syncnet_python ``run_pipeline.py``/``run_syncnet.py`` argparse, PySceneDetect 0.5.1),
which every published LSE-D/LSE-C number was computed with. Importing this module costs nothing
(no numpy, no torch), so the command line can read defaults without loading a model stack.
"""

from __future__ import annotations

__all__ = [
    "MIN_LANDMARK_COVERAGE",
    "FPS",
    "SAMPLE_RATE_HZ",
    "AUDIO_SAMPLES_PER_FRAME",
    "MFCC_RATE_HZ",
    "MFCC_PER_FRAME",
    "WINDOW_FRAMES",
    "MFCC_PER_WINDOW",
    "DEFAULT_VSHIFT",
    "LIP_SIZE_PX",
    "MIN_TRACK_FRAMES",
    "NUM_FAILED_DET",
    "MIN_FACE_SIZE_PX",
    "CROP_SCALE",
    "FACEDET_SCALE",
    "SCENE_THRESHOLD",
    "SCENE_MIN_LEN",
    "BATCH_WINDOWS",
    "SEGMENT_S",
    "SEGMENT_HOP_S",
]

# -- the paper -------------------------------------------------------------------------------
FPS = 25  # SyncNet's video rate: the direct path assumes it, the pipeline converts to it
SAMPLE_RATE_HZ = 16_000  # SyncNet's audio rate
AUDIO_SAMPLES_PER_FRAME = SAMPLE_RATE_HZ // FPS  # 640 samples of audio per video frame
MFCC_RATE_HZ = 100  # python_speech_features' 10 ms hop
MFCC_PER_FRAME = MFCC_RATE_HZ // FPS  # 4 MFCC columns per video frame
WINDOW_FRAMES = 5  # one lip window: 5 frames = 0.2 s
MFCC_PER_WINDOW = WINDOW_FRAMES * MFCC_PER_FRAME  # 20 MFCC columns per audio window
DEFAULT_VSHIFT = 15  # the reference searches offsets of -15..+15 frames (+-0.6 s)
LIP_SIZE_PX = 224  # face crops the lip stream was trained on (wav2lip-lrs resizes to this)

# -- run_pipeline.py defaults (the in-the-wild recipe) ----------------------------------------
MIN_TRACK_FRAMES = 100  # a track needs more detections than this, and a scene this many frames
NUM_FAILED_DET = 25  # frames a track may go without a detection
MIN_FACE_SIZE_PX = 100  # max(mean width, mean height) of a track's boxes must exceed this
CROP_SCALE = 0.4  # margin around the face box of each crop
FACEDET_SCALE = 0.25  # S3FD sees a quarter-size frame

# -- PySceneDetect 0.5.1 ContentDetector() defaults, pinned by the reference -----------------
SCENE_THRESHOLD = 30.0  # mean HSV difference that makes a cut
SCENE_MIN_LEN = 15  # frames between two cuts

# -- this tool's defaults (speed and memory only; the numbers do not depend on them) ---------
BATCH_WINDOWS = 64  # SyncNet windows per forward pass

# -- lmd: the least share of paired frames with mouth landmarks in both videos ----------------
# Below it a pair fails instead of an LMD over the frames left (a face lost in 41% of the frames
# scored a better LMD than a complete blurred copy of the same video); 0.9 tolerates a few
# detector misses on a talking head.
MIN_LANDMARK_COVERAGE = 0.9

# -- segments of a track over time (offset drift, who owns the audio) ---------------------------
# A segment is long enough for a clear minimum (5 s: 125 windows, about the length of the clips
# SyncNet-filtered datasets are cut into) and short enough to follow a change; a 1 s hop gives
# one value per second. scoring.offset_drift and ownership.owner_segments share this grid.
SEGMENT_S = 5.0
SEGMENT_HOP_S = 1.0
