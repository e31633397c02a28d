"""The per-input function every executor runs, and everything said about one input.

- :func:`prepare_run`: the weights found (or downloaded) once by the driver, their notice,
  the configuration hash (:func:`configuration_hash`, the one function that builds it).
- :class:`Scorer`: one ``SyncPipeline`` (models loaded once) scoring ``BatchInput``s; it never
  raises for a bad input.
- :func:`precheck` and the failure records the engines write themselves (``timed_out``,
  ``worker_died``, ``crashed_repeatedly``, ``unexpected``, ``lost``): each is one
  ``VideoResult.failure`` with a typed reason code (``records.ReasonCode``).
- :func:`setup_worker_logging`: how a worker process or an actor logs, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
import logging
import os
from pathlib import Path, PurePosixPath
import stat
import sys
from typing import Any

import numpy as np

from ..config import config_hash
from ..embed import BatchedEmbedder, SyncNetEmbedder
from ..embedders import get_embedder
from ..errors import ConfigError, SyncEvalError
from ..inputs import BatchInput
from ..io import load_detections, sha256_or_none
from ..logs import OneLineFormatter, first_time
from ..models import weights as wm
from ..models.active_speaker import get_active_speaker_model
from ..pipeline import LandmarkPipeline, SyncPipeline
from ..row import RowParts, features_key
from ..timing import StageHook
from ..types import VideoResult
from ..vad import require_silero
from .plan import BatchConfig, ResolvedRun
from .records import ReasonCode

__all__ = [
    "Scorer",
    "configuration_hash",
    "crashed_repeatedly",
    "crops_names",
    "error_from_wire",
    "error_to_wire",
    "lost",
    "precheck",
    "prepare_run",
    "setup_worker_logging",
    "timed_out",
    "unexpected",
    "unofficial_weights_notice",
    "worker_died",
]

log = logging.getLogger(__name__)


# -- weights and the configuration hash -------------------------------------------------------


@dataclass(frozen=True)
class _RunKey:
    """The part of the configuration hash that is not a config dataclass."""

    recipe: str
    syncnet_weights_sha256: str
    s3fd_weights_sha256: str | None
    detections_sha256: str | None


@dataclass(frozen=True)
class _AsdKey:
    """Hashed only when the active-speaker model runs, so other runs keep their hash."""

    asd_weights_sha256: str


@dataclass(frozen=True)
class _ExpertKey:
    """Hashed only with ``--expert``: the expert weights' content, not only their path."""

    expert_weights_sha256: str | None


def unofficial_weights_notice(kind: str, path: Path, sha256: str) -> None:
    """Warn, once per command and file, that ``path`` is not the official ``kind`` file (every
    command that scores says it this way, whatever runs it)."""
    if wm.official_name(sha256) == kind or not first_time(f"unofficial-weights:{sha256}"):
        return
    specs = {**wm.REGISTRY, **wm.OPTIONAL}
    official = specs[kind].filename if kind in specs else kind
    log.warning(
        "%s is not the official %s (sha256 %s...): the numbers are comparable only with runs "
        "that use the same file (recorded in each record's provenance)",
        path,
        official,
        sha256[:12],
    )


def configuration_hash(
    config: BatchConfig,
    syncnet_sha256: str | None,
    s3fd_sha256: str | None = None,
    asd_sha256: str | None = None,
) -> str:
    """The configuration hash every record carries: the one place it is built.

    Args:
        config: how each input is scored (its configs, recipe, embedder, detections file; the
            landmark backend and least coverage of a recipe with a ground truth, ``lmd``).
        syncnet_sha256: the SyncNet weights' sha256 (``None`` when the embedder is not SyncNet:
            it is hashed by its registered name instead; a recipe without SyncNet hashes
            neither).
        s3fd_sha256: the S3FD weights' sha256 when the run detects faces with S3FD.
        asd_sha256: the active-speaker checkpoint's sha256 when the ASD model runs (hashed
            only then, so other runs keep their hash).

    With ``--expert``, the expert weights' sha256 is hashed too.
    """
    spec = config.recipe_spec
    if not spec.needs_syncnet:
        model = "no syncnet"
    elif syncnet_sha256 is not None:
        model = syncnet_sha256
    else:
        model = f"embedder {config.embedder}"
    detections_sha = sha256_or_none(config.detections) if config.detections is not None else None
    key = _RunKey(config.recipe, model, s3fd_sha256, detections_sha)
    extra: list[Any] = [] if asd_sha256 is None else [_AsdKey(asd_sha256)]
    expert_weights = config.score_config.expert_weights
    if expert_weights:  # hashed only then, so other runs keep their hash
        extra.append(_ExpertKey(sha256_or_none(expert_weights)))
    if config.needs_reference:  # hashed only then, so other runs keep their hash
        extra.append(config.lmd_config)
    if config.row_config is not None:
        extra.append(config.row_config)
    return config_hash(config.score_config, config.pipeline_config, key, *extra)


def prepare_run(config: BatchConfig, progress: bool = True) -> ResolvedRun:
    """Find (or download) the weights once and hash the configuration, before any scoring.

    Raises:
        ModelWeightsError: weights missing, not the official file (lookup), or unloadable.
        DependencyError: ``--silence-detector silero`` without silero-vad installed.
    """
    if config.score_config.silence_detector == "silero":
        require_silero()
    embedder = get_embedder(config.embedder)
    syncnet = None
    syncnet_sha = None
    if not config.recipe_spec.needs_syncnet:  # lmd: its landmark model loads in each scorer
        return ResolvedRun(None, None, configuration_hash(config, None))
    if embedder.needs_syncnet_weights:
        syncnet = wm.resolve_weights(
            "syncnet", config.syncnet_weights, offline=config.offline, progress=progress
        )
        syncnet_sha = wm.weights_sha256(syncnet)
        unofficial_weights_notice("syncnet", syncnet, syncnet_sha)
    s3fd = None
    s3fd_sha = None
    detects = config.recipe_spec.needs_tracks and config.detections is None
    if detects and config.pipeline_config.detector == "s3fd":
        # Found (or downloaded) once here rather than by every worker.
        s3fd = wm.resolve_weights(
            "s3fd", config.s3fd_weights, offline=config.offline, progress=progress
        )
        s3fd_sha = wm.weights_sha256(s3fd)
        unofficial_weights_notice("s3fd", s3fd, s3fd_sha)
    elif config.s3fd_weights is not None:
        s3fd = config.s3fd_weights
    asd = None
    asd_sha = None
    if config.pipeline_config.asd is not None:
        model = get_active_speaker_model(config.pipeline_config.asd)
        checkpoint = model.weights_name(config.pipeline_config.asd_model)
        asd = wm.resolve_weights(
            checkpoint, config.asd_weights, offline=config.offline, progress=progress
        )
        asd_sha = wm.weights_sha256(asd)
    digest = configuration_hash(config, syncnet_sha, s3fd_sha, asd_sha)
    return ResolvedRun(
        syncnet,
        s3fd,
        digest,
        asd,
        syncnet_sha,
        s3fd_sha,
        embedder=None if embedder.needs_syncnet_weights else embedder,
    )


# -- the per-input function -------------------------------------------------------------------


class Scorer:
    """One pipeline (models loaded once) scoring ``BatchInput``s: the per-input function every
    executor runs (in this process, in worker processes, in cluster actors). :meth:`score`
    never raises for a bad input; it returns its record's result.

    With ``streams > 1`` the pipeline's embedder is a ``BatchedEmbedder`` and
    :meth:`score_many` scores that many inputs at once, sharing forward passes; call
    :meth:`close` when done.
    """

    def __init__(self, config: BatchConfig, resolved: ResolvedRun, streams: int = 1) -> None:
        self.config = config
        self.streams = streams
        self.shared: BatchedEmbedder | None = None
        self.detections: list[np.ndarray] | None = None
        self.landmarks: LandmarkPipeline | None = None
        if not config.recipe_spec.needs_syncnet:
            if streams > 1:
                raise ConfigError("streams > 1 batches SyncNet's forward passes: it needs SyncNet")
            self.landmarks = LandmarkPipeline(config.lmd_config, config.score_config.device)
            return
        self.pipe = SyncPipeline(
            config.score_config,
            config.pipeline_config,
            syncnet_weights=resolved.syncnet_weights,
            s3fd_weights=resolved.s3fd_weights,
            offline=config.offline,
            progress=False,
            embedder=None if resolved.embedder is None else resolved.embedder.build(),
            asd_weights=resolved.asd_weights,
            syncnet_sha256=resolved.syncnet_sha256,
        )
        if streams > 1:
            plain = self.pipe.embedder
            if not isinstance(plain, SyncNetEmbedder):
                raise ConfigError("streams > 1 batches SyncNet's forward passes: it needs SyncNet")
            self.shared = BatchedEmbedder(
                plain.model, plain.device, plain.batch_size, plain.precision
            )
            self.pipe.embedder = self.shared
        if config.detections is not None:
            self.detections = load_detections(config.detections)
        self.row: RowParts | None = None
        if config.row_config is not None:
            features = config.features_dir or Path("row-features")
            device = str(self.pipe.device)
            self.row = RowParts(
                config.row_config, config.lmd_config, device, features, offline=config.offline
            )

    def score_many(
        self, jobs: Iterable[tuple[int, BatchInput]]
    ) -> Generator[tuple[int, VideoResult], None, None]:
        """``(index, result)`` of every job, in completion order, ``streams`` at a time
        (each in a thread of its own, registered with the shared embedder)."""
        if self.shared is None:
            for index, item in jobs:
                yield index, self.score(item)
            return
        shared = self.shared
        todo = iter(jobs)
        running: dict[Future[VideoResult], int] = {}

        def scored(item: BatchInput) -> VideoResult:
            with shared.stream():
                return self.score(item)

        with ThreadPoolExecutor(self.streams, "syncnet-eval-stream") as pool:
            try:
                while True:
                    for index, item in todo:
                        running[pool.submit(scored, item)] = index
                        if len(running) >= self.streams:
                            break
                    if not running:
                        return
                    done, _ = wait_futures(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield running.pop(future), future.result()
            finally:
                for future in running:
                    future.cancel()

    def close(self) -> None:
        """Stop the shared embedder's thread (``streams > 1``); the scorer is done."""
        if self.shared is not None:
            self.shared.close()

    def score(self, item: BatchInput, stage_hook: StageHook | None = None) -> VideoResult:
        if self.landmarks is not None:
            return self.landmarks.evaluate(
                item.path,
                self.config.recipe_spec,
                reference_path=item.reference_path,
                raise_unexpected=self.config.raise_unexpected,
                stage_hook=stage_hook,
            )
        kwargs: dict[str, Any] = {
            "raise_unexpected": self.config.raise_unexpected,
            "stage_hook": stage_hook,
        }
        if item.audio_path is not None:
            kwargs["audio_path"] = item.audio_path
        if self.detections is not None:
            kwargs["detections"] = self.detections
        if self.config.save_detections is not None:
            kwargs["save_detections"] = self.config.save_detections
        if self.config.save_crops is not None:
            kwargs["save_crops"] = self.config.save_crops
            kwargs["crops_name"] = item.crops_name
        result = self.pipe.evaluate(item.path, self.config.recipe_spec, **kwargs)
        if self.row is None:
            return result
        key = features_key(item.path, item.reference_path, item.id)
        return self.row.complete(result, item.reference_path, key, stage_hook)


def crops_names(inputs: Sequence[BatchInput]) -> list[str]:
    """Where each input's crop videos (or ``fix``'s copies) go: the file's stem, or, when two
    inputs share a stem, the input's (unique) id without its suffix, as a relative path (so
    two inputs named alike never overwrite each other's files)."""
    stems = Counter(item.path.stem for item in inputs)
    names = []
    for item in inputs:
        if stems[item.path.stem] == 1 or not item.id:
            names.append(item.path.stem)
            continue
        parts = PurePosixPath(item.id).with_suffix("").parts
        names.append("/".join(p for p in parts if p not in ("", "/", ".", "..")))
    return names


# -- failure records --------------------------------------------------------------------------


def _failure(
    item: BatchInput, recipe: str, message: str, code: ReasonCode, **extra: Any
) -> VideoResult:
    return VideoResult.failure(str(item.path), recipe, "error", message, reason_code=code, **extra)


def precheck(item: BatchInput, recipe: str, *, reference: bool = False) -> VideoResult | None:
    """The record of an input that cannot be tried, else ``None``: discovery errors, missing
    files (said before any weights are looked for, so a typo is never reported as a download
    failure), and FIFOs, sockets and devices (opening one can block forever). ``reference``:
    the recipe compares with a ground truth (``RecipeSpec.needs_reference``), whose file is
    checked too."""
    if item.error is not None:
        return _failure(item, recipe, item.error, "not_listed")
    if item.duplicate_of is not None:
        return _failure(
            item,
            recipe,
            f"{item.path}: the same file as {item.duplicate_of} (another name for it), which "
            "this run scores once; not scored again",
            "duplicate",
        )
    truth = item.reference_path if reference else None
    for p, what in ((item.path, "video"), (item.audio_path, "audio"), (truth, "reference")):
        if p is None:
            continue
        name = {"audio": "audio file", "reference": "reference file"}.get(what, "file")
        try:
            mode = os.stat(p).st_mode
        except FileNotFoundError:
            if os.path.islink(p):
                why = "a symbolic link that leads nowhere (broken, or a loop)"
                return _failure(item, recipe, f"{p}: {why}", "not_found")
            return _failure(item, recipe, f"{p}: {name} not found", "not_found")
        except OSError:
            continue  # a loop or no permission: the decoder words it
        if stat.S_ISDIR(mode):
            return _failure(item, recipe, f"{p}: is a directory, not a media file", "not_regular")
        if not stat.S_ISREG(mode):
            return _failure(
                item,
                recipe,
                f"{p}: not a regular file (a pipe, socket or device cannot be scored as {what})",
                "not_regular",
            )
    return None


def timed_out(item: BatchInput, recipe: str, timeout_s: float) -> VideoResult:
    return _failure(
        item,
        recipe,
        f"{item.path}: timed out after {timeout_s:g} s (a hung decode or a very long input; "
        "raise --timeout: a rerun with a larger limit scores it again)",
        "timeout",
        provenance={"timeout_s": timeout_s},
    )


def worker_died(item: BatchInput, recipe: str, code: int | None) -> VideoResult:
    return _failure(
        item,
        recipe,
        f"{item.path}: the worker process died while scoring it (exit code {code}; a crash in "
        "a decoder, or out of memory)",
        "worker_crashed",
    )


def crashed_repeatedly(item: BatchInput, recipe: str, attempts: int) -> VideoResult:
    return _failure(
        item,
        recipe,
        f"{item.path}: its scorer died {attempts} times while scoring it (a crash in a "
        "decoder, or out of memory); not tried again",
        "worker_crashed",
    )


def unexpected(item: BatchInput, recipe: str, exc: BaseException) -> VideoResult:
    return _failure(
        item, recipe, f"{item.path}: unexpected {type(exc).__name__}: {exc}", "unexpected"
    )


def lost(item: BatchInput, recipe: str) -> VideoResult:
    return _failure(item, recipe, f"{item.path}: the executor returned no record for it", "lost")


# -- errors across processes ------------------------------------------------------------------


def error_to_wire(exc: SyncEvalError) -> dict[str, str]:
    """A run-stopping error as data another process can send back (class name, message)."""
    return {"error": type(exc).__name__, "message": str(exc)}


def error_from_wire(wire: dict[str, str]) -> SyncEvalError:
    """The error :func:`error_to_wire` described, as the package's own class."""
    from .. import errors

    cls = getattr(errors, wire.get("error", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, SyncEvalError)):
        cls = SyncEvalError
    return cls(wire.get("message", "a worker failed"))


def setup_worker_logging(level: int | None) -> None:
    """The package's log lines in a worker process or actor: one line each, on stderr, at the
    driver's level (``None``: leave logging as it is)."""
    if level is None:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    pkg = logging.getLogger("syncnet_eval")
    pkg.handlers[:] = [handler]
    pkg.setLevel(level)
    pkg.propagate = False
