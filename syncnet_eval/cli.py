"""Command line: ``syncnet-eval score|check|compare|weights``; the only module importing click."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .config import AGGREGATES, DETECTORS, PRECISIONS, RECIPES, PipelineConfig, ScoreConfig
from .errors import SyncEvalError
from .types import VideoResult

if TYPE_CHECKING:
    from .batch import BatchEvent

log = logging.getLogger("syncnet_eval")

_NOT_COMPARABLE = (
    "Skip the reference's JPEG round trip of every frame (cleaner pixels; the numbers are then "
    "NOT comparable to papers or to other tools' SyncNet scores)."
)
# Batches up to this many inputs print a per-video table; larger ones only the summary.
_TABLE_MAX_ROWS = 50
# Failed inputs listed as 'Error:' lines at the end of a batch (the rest are in the outputs).
_ERROR_LINES_MAX = 20
_OUTPUT_SUFFIXES = (".json", ".jsonl", ".csv")


class _InputFileError(click.ClickException):
    """An input file of check/compare cannot be read: exit 2, like bad usage."""

    exit_code = 2


def _debug_enabled(ctx: click.Context | None = None) -> bool:
    if os.environ.get("SYNCNET_EVAL_DEBUG", "") not in ("", "0"):
        return True
    root = ctx.find_root() if ctx else None
    return bool(root and root.obj and root.obj.get("debug"))


class _ProgressAwareHandler(logging.Handler):
    """Writes log lines to stderr through tqdm, so an active progress bar is redrawn below."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def _setup_logging(verbose: int, quiet: bool, ctx: click.Context | None = None) -> None:
    """Send the package's log records to stderr at the level of -v/-q.

    With ``ctx`` the previous logger state comes back when the command ends, so running the
    CLI in-process (tests, notebooks) leaves the ``syncnet_eval`` logger as it found it.
    """
    if ctx is not None:
        saved = (log.handlers[:], log.level, log.propagate)

        def restore() -> None:
            log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]

        ctx.call_on_close(restore)
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    handler = _ProgressAwareHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncnet-eval")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also SYNCNET_EVAL_DEBUG=1).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """SyncNet lip-sync scores: AV offset, LSE-D (lower is better), LSE-C (higher is better)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["verbose"] = verbose


def _format_table(results: list[VideoResult]) -> str:
    rows = [("file", "status", "offset", "LSE-D", "LSE-C", "tracks")]
    for r in results:
        if r.ok:
            rows.append(
                (
                    r.path,
                    r.status,
                    f"{r.av_offset:+d}" if isinstance(r.av_offset, int) else f"{r.av_offset:+.2f}",
                    f"{r.lse_d:.3f}",
                    f"{r.lse_c:.3f}",
                    str(len(r.tracks)),
                )  # fmt: skip
            )
        else:
            rows.append((r.path, r.status, "-", "-", "-", str(len(r.tracks))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    for r in results:
        if r.ok and len(r.tracks) > 1:
            for t in r.tracks:
                lines.append(
                    f"  track {t.index} frames {t.first_frame}-{t.last_frame}: offset "
                    f"{t.av_offset:+d}  LSE-D {t.lse_d:.3f}  LSE-C {t.lse_c:.3f}"
                )
    return "\n".join(lines)


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _format_summary(summary: dict[str, Any]) -> str:
    """The batch summary as plain-text tables (stats over ok videos only)."""
    counts = ", ".join(
        f"{k} {v}" for k, v in summary["status_counts"].items() if v and k != "ok"
    )  # fmt: skip
    head = f"summary: {summary['num_inputs']} inputs, {summary['num_ok']} ok"
    if summary["num_not_scored"]:
        head += f", {summary['num_not_scored']} not scored ({counts or 'non-finite scores'})"
    lines = [head]
    if summary["num_ok"]:
        rows: list[tuple[str, ...]] = [("metric", "n", "mean", "std", "95% CI (bootstrap)")]
        for key, label in (("lse_d", "LSE-D"), ("lse_c", "LSE-C")):
            m = summary[key]
            rows.append(
                (
                    label,
                    str(m["n"]),
                    _num(m["mean"]),
                    _num(m["std"]),
                    f"{_num(m['ci95_low'])} to {_num(m['ci95_high'])}",
                )  # fmt: skip
            )
        rows.append(("|offset|", str(summary["num_ok"]), _num(summary["mean_abs_offset"]), "",
                     ""))  # fmt: skip
        lines += _columns(rows)
        lines.append("(means over ok videos only; unscored videos are counted above, not averaged)")
    groups = summary.get("groups")
    if groups:
        rows = [("group", "inputs", "ok", "LSE-D mean", "LSE-C mean", "|offset| mean")]
        for name, g in groups.items():
            rows.append(
                (
                    name,
                    str(g["num_inputs"]),
                    str(g["num_ok"]),
                    _num(g["lse_d"]["mean"]),
                    _num(g["lse_c"]["mean"]),
                    _num(g["mean_abs_offset"]),
                )  # fmt: skip
            )
        lines.append("")
        lines += _columns(rows)
    return "\n".join(lines)


def _split_outputs(outputs: tuple[str, ...], resume: bool | None) -> dict[str, list[Any]]:
    """Sort ``-o`` values by kind; bad suffixes and contradictions are usage errors (exit 2)."""
    kinds: dict[str, list[Any]] = {"stdout": [], "json": [], "jsonl": [], "csv": []}
    for out in outputs:
        if out == "-":
            kinds["stdout"].append(out)
            continue
        suffix = Path(out).suffix.lower()
        if suffix not in _OUTPUT_SUFFIXES:
            raise click.BadParameter(
                f"{out!r}: the file name must end in .json, .jsonl or .csv (or be '-' for JSON "
                "on stdout)",
                param_hint="'-o' / '--output'",
            )
        kinds[suffix[1:]].append(Path(out))
    if len(kinds["stdout"]) > 1 or len(kinds["jsonl"]) > 1:
        raise click.BadParameter(
            "give '-' and the .jsonl log at most once each", param_hint="'-o' / '--output'"
        )
    if resume and not kinds["jsonl"]:
        raise click.UsageError("--resume needs a log to resume from: add -o FILE.jsonl")
    return kinds


class _Progress:
    """Progress on stderr: a tqdm bar on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.t0 = time.monotonic()
        self.resumed = 0
        self.failed = 0

    def start(self, total: int, resumed: int) -> None:
        self.t0 = time.monotonic()
        self.resumed = resumed
        if not self.enabled or total <= 1:
            self.enabled = False
            return
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=resumed, unit="video", desc="scoring", file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1,
            )  # fmt: skip
        else:
            extra = f" ({resumed} already in the log)" if resumed else ""
            click.echo(f"scoring {total} inputs{extra}", err=True)

    def record(self, event: BatchEvent) -> None:
        if not self.enabled:
            return
        r = event.record.result
        if not r.ok:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=self.failed, refresh=False)
            return
        elapsed = time.monotonic() - self.t0
        new_done = event.done - self.resumed
        left = event.total - event.done
        eta = elapsed / new_done * left if new_done else 0.0
        what = f"LSE-D {r.lse_d:.3f} LSE-C {r.lse_c:.3f}" if r.ok else "not scored"
        width = len(str(event.total))
        click.echo(
            f"[{event.done:>{width}}/{event.total}] {r.status:<12} {r.path}  {what}  "
            f"({_clock(elapsed)} elapsed, ~{_clock(eta)} left)",
            err=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--recipe", type=click.Choice(RECIPES), default="syncnet-pipeline", show_default=True,
              help="syncnet-pipeline: detect, track and crop faces (run_pipeline.py + "
                   "run_syncnet.py); direct: frames as they are (demo_syncnet.py, pre-cropped "
                   "224x224 faces); wav2lip-lrs: every frame resized to 224x224 (Wav2Lip's LRS "
                   "tables).")  # fmt: skip
@click.option("-o", "--output", "outputs", multiple=True, metavar="FILE",
              help="Write results to FILE.json (records + summary), FILE.csv (one row per "
                   "video) or FILE.jsonl (one record per line, appended as each video finishes; "
                   "the resume log); '-' prints JSON to stdout. Repeatable.")  # fmt: skip
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with a 'path' column and optional 'audio', 'id', 'group' columns; "
                   "relative paths resolve against the manifest's folder.")  # fmt: skip
@click.option(
    "--glob",
    "globs",
    multiple=True,
    metavar="PATTERN",
    help="In directories, score only files whose relative path or name matches "
    "PATTERN (fnmatch, repeatable) instead of the usual video extensions.",
)
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes, each with its own models (torch threads = cores / N). "
                   "Results are identical to a serial run and written in input order.")  # fmt: skip
@click.option("--timeout", "timeout_s", type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="Per-file time limit; a file still running is killed and recorded as "
                   "decode_error (runs in a worker process even with --workers 1).")  # fmt: skip
@click.option("--resume/--no-resume", default=None,
              help="Skip inputs whose record is already in the -o FILE.jsonl log (same file "
                   "identity and configuration). Default: on when the log exists; --no-resume "
                   "starts the log afresh.")  # fmt: skip
@click.option("--retry-failed", is_flag=True,
              help="With resume: score again the inputs the log records as decode_error or "
                   "error (timeouts, crashed workers, unreadable files); their old records are "
                   "removed from the log first.")  # fmt: skip
@click.option("--identity", type=click.Choice(("mtime", "sha256")), default="mtime",
              show_default=True,
              help="How resume recognises an unchanged file: path + size + mtime, or path + "
                   "size + content sha256 (survives copies that reset mtime).")  # fmt: skip
@click.option("--per-track", is_flag=True, help="CSV outputs get one row per face track.")
@click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when some inputs could not be scored (still recorded).",
)
@click.option("--syncnet-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="SyncNet state-dict file (default: the official syncnet_v2.model, found in "
                   "SYNCNET_EVAL_WEIGHTS or the cache, downloaded on first use).")  # fmt: skip
@click.option(
    "--s3fd-weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="S3FD state-dict file (default: the official sfd_face.pth).",
)
@click.option("--offline", is_flag=True, help="Never download weights; fail if they are missing.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option(
    "--vshift",
    type=click.IntRange(1, 100),
    default=15,
    show_default=True,
    help="Largest AV offset searched, in frames.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=ScoreConfig.batch_size,
    show_default=True,
    help="Windows per forward pass (speed/memory only; results move by float rounding at most).",
)
@click.option("--precision", type=click.Choice(PRECISIONS), default=ScoreConfig.precision,
              show_default=True,
              help="SyncNet arithmetic: fp32 gives the reference's numbers; bf16/fp16 are faster "
                   "opt-in modes whose numbers move.")  # fmt: skip
@click.option("--no-jpeg-roundtrip", is_flag=True, help=_NOT_COMPARABLE)
@click.option(
    "--audio",
    "audio_path",
    type=click.Path(path_type=Path),
    help="Score the (single) video against this audio file instead of its own track.",
)
@click.option(
    "--detector",
    type=click.Choice(DETECTORS),
    default="s3fd",
    show_default=True,
    help="Face detector of the pipeline recipe (hog needs dlib: pip install dlib-bin).",
)
@click.option("--detections", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use precomputed boxes (JSON {\"frames\": [[[x1,y1,x2,y2,score],...],...]} "
                   "indexing the 25 fps stream) instead of a detector.")  # fmt: skip
@click.option(
    "--save-detections",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the boxes the detector found (same JSON format).",
)
@click.option(
    "--save-crops",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each track's 224x224 face crop video with its audio to DIR.",
)
@click.option("--aggregate", type=click.Choice(AGGREGATES), default="best", show_default=True,
              help="Video-level numbers: best = track with the highest LSE-C (its own LSE-D "
                   "and offset); mean over tracks; longest track.")  # fmt: skip
@click.option(
    "--min-track",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="A track needs more detections than this (frames).",
)
@click.option(
    "--min-face-size",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Mean face box side must exceed this (pixels).",
)
@click.option(
    "--num-failed-det",
    type=click.IntRange(1),
    default=25,
    show_default=True,
    help="Frames a track may go without a detection.",
)
@click.option(
    "--crop-scale",
    type=click.FloatRange(0, 2),
    default=0.4,
    show_default=True,
    help="Crop margin around the face box.",
)
@click.option("--detect-every", type=click.IntRange(1), default=PipelineConfig.detect_every,
              show_default=True,
              help="Fast mode: run the face detector on every Nth frame and interpolate the "
                   "boxes between (1 = every frame, as the reference).")  # fmt: skip
@click.option(
    "--facedet-scale",
    type=click.FloatRange(0.01, 1),
    default=0.25,
    show_default=True,
    help="S3FD input downscale factor.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no table, no progress.")
@click.pass_context
def score(ctx: click.Context, inputs: tuple[Path, ...], recipe: str, outputs: tuple[str, ...],
          manifest: Path | None, globs: tuple[str, ...], workers: int, timeout_s: float | None,
          resume: bool | None, retry_failed: bool, identity: str, per_track: bool,
          allow_failures: bool,
          syncnet_weights: Path | None, s3fd_weights: Path | None, offline: bool, device: str,
          vshift: int, batch_size: int, precision: str, no_jpeg_roundtrip: bool,
          audio_path: Path | None,
          detector: str, detections: Path | None, save_detections: Path | None,
          save_crops: Path | None, aggregate: str, min_track: int, min_face_size: int,
          num_failed_det: int, crop_scale: float, detect_every: int, facedet_scale: float,
          quiet: bool) -> None:  # fmt: skip
    """Score INPUTS (video files and directories, searched recursively) and --manifest rows.

    Prints the AV offset (frames), LSE-D and LSE-C of each video (up to 50) and a summary over
    the scored ones. An input that cannot be scored gets a record with its status and reason;
    the others go on.

    Exit status: 0 when every input was scored (or --allow-failures), 1 when any was not (one
    'Error:' line each), 2 for bad usage.
    """
    from .batch import BatchConfig, collect_inputs, run_batch
    from .errors import InputError
    from .io import results_document, write_results
    from .stats import summarize

    _setup_logging(ctx.obj.get("verbose", 0), quiet, ctx)
    if not inputs and manifest is None:
        raise click.UsageError("give at least one VIDEO or DIRECTORY, or --manifest FILE")
    kinds = _split_outputs(outputs, resume)
    if retry_failed and (resume is False or not kinds["jsonl"]):
        raise click.UsageError("--retry-failed retries the failures of a resumed -o FILE.jsonl log")
    single = len(inputs) == 1 and manifest is None and not inputs[0].is_dir()
    if audio_path is not None and not single:
        raise click.UsageError("--audio takes exactly one video (use a manifest 'audio' column)")
    if (detections or save_detections) and not single:
        raise click.UsageError("--detections/--save-detections take exactly one video")
    try:
        items = collect_inputs(list(inputs), manifest=manifest, globs=globs)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--manifest'") from exc
    if not items:
        raise click.UsageError(
            f"no video files found in {', '.join(str(p) for p in inputs)} (extensions: .mp4, "
            ".mov, .avi, .mkv, ...; use --glob to choose files)"
        )
    if audio_path is not None:
        from dataclasses import replace

        items = [replace(items[0], audio_path=audio_path)]

    debug = _debug_enabled(ctx)
    score_cfg = ScoreConfig(vshift=vshift, batch_size=batch_size,
                            jpeg_roundtrip=not no_jpeg_roundtrip, device=device,
                            precision=precision)  # fmt: skip
    pipe_cfg = PipelineConfig(min_track=min_track, min_face_size=min_face_size,
                              num_failed_det=num_failed_det, crop_scale=crop_scale,
                              facedet_scale=facedet_scale, detector=detector,
                              aggregate=aggregate, detect_every=detect_every)  # fmt: skip
    config = BatchConfig(recipe=recipe, score_config=score_cfg, pipeline_config=pipe_cfg,
                         syncnet_weights=syncnet_weights, s3fd_weights=s3fd_weights,
                         offline=offline, detections=detections, save_detections=save_detections,
                         save_crops=save_crops, identity=identity,
                         raise_unexpected=debug)  # fmt: skip
    log_path = kinds["jsonl"][0] if kinds["jsonl"] else None
    progress = _Progress(enabled=not quiet)
    try:
        outcome = run_batch(
            items, config, workers=workers, timeout_s=timeout_s, log_path=log_path,
            resume=resume is not False, retry_failed=retry_failed, on_start=progress.start,
            on_record=progress.record, worker_log_level=log.level, download_progress=not quiet,
        )  # fmt: skip
    except SyncEvalError as exc:
        if debug:
            raise
        raise click.ClickException(str(exc)) from exc
    finally:
        progress.close()

    results = outcome.results
    summary = summarize(results)
    extras = [r.extras() for r in outcome.records]
    for path in kinds["json"] + kinds["csv"]:
        write_results(path, results, summary, per_track=per_track, extras=extras)
    if kinds["stdout"]:
        click.echo(json.dumps(results_document(results, summary, extras), indent=2))
    elif not quiet:
        if len(results) <= _TABLE_MAX_ROWS:
            click.echo(_format_table(results))
        if len(results) > 1:
            if len(results) <= _TABLE_MAX_ROWS:
                click.echo("")
            click.echo(_format_summary(summary))
    failed = outcome.failed
    for r in failed[:_ERROR_LINES_MAX]:
        click.echo(f"Error: {r.reason or f'{r.path}: {r.status}'}", err=True)
    if len(failed) > _ERROR_LINES_MAX:
        click.echo(
            f"Error: ... and {len(failed) - _ERROR_LINES_MAX} more inputs not scored (see the "
            "records' 'reason')",
            err=True,
        )
    if failed and not allow_failures:
        ctx.exit(1)


def _load_for_report(path: Path) -> list[VideoResult]:
    from .errors import InputError
    from .report import load_results

    try:
        return load_results(path)
    except InputError as exc:
        raise _InputFileError(str(exc)) from exc


@cli.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Results of the reference run (JSON or JSONL); videos are matched by id, "
                   "else path.")  # fmt: skip
@click.option("--min-lse-c", type=float, metavar="X", help="Fail if mean LSE-C < X.")
@click.option("--max-lse-d", type=float, metavar="X", help="Fail if mean LSE-D > X.")
@click.option("--max-abs-offset", type=click.FloatRange(0), metavar="F",
              help="Fail if mean |AV offset| > F frames.")  # fmt: skip
@click.option(
    "--min-ok-fraction",
    type=click.FloatRange(0, 1),
    metavar="P",
    help="Fail if less than this fraction of inputs were scored (ok).",
)
@click.option("--max-lse-c-drop", type=click.FloatRange(0), metavar="D",
              help="Fail if LSE-C dropped by more than D vs --baseline (paired mean difference; "
                   "only when its whole 95% bootstrap CI lies beyond D).")  # fmt: skip
@click.option("--max-lse-d-rise", type=click.FloatRange(0), metavar="D",
              help="Fail if LSE-D rose by more than D vs --baseline (same rule).")  # fmt: skip
@click.option(
    "--strict",
    is_flag=True,
    help="Judge the baseline rules by the plain mean difference, not the CI.",
)
@click.option("--per-video", is_flag=True,
              help="Apply --min-lse-c/--max-lse-d/--max-abs-offset to every scored video "
                   "instead of the mean.")  # fmt: skip
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the checks as JUnit XML (one test case per check).")  # fmt: skip
def check(results: Path, baseline: Path | None, min_lse_c: float | None,
          max_lse_d: float | None, max_abs_offset: float | None, min_ok_fraction: float | None,
          max_lse_c_drop: float | None, max_lse_d_rise: float | None, strict: bool,
          per_video: bool, junit: Path | None) -> None:  # fmt: skip
    """Gate a CI job on the scores in RESULTS (a .json from 'score -o' or its .jsonl log).

    Prints a Markdown report of each check (pass or fail, and by how much). Metric thresholds
    use the scored (ok) videos; --min-ok-fraction counts the others. With GITHUB_ACTIONS=true,
    failures are also printed as ::error annotations.

    Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or unreadable input.
    """
    from .io import atomic_write_text
    from .report import Thresholds, run_checks

    if (max_lse_c_drop is not None or max_lse_d_rise is not None) and baseline is None:
        raise click.UsageError("--max-lse-c-drop/--max-lse-d-rise need --baseline FILE")
    thresholds = Thresholds(
        min_lse_c=min_lse_c, max_lse_d=max_lse_d, max_abs_offset=max_abs_offset,
        min_ok_fraction=min_ok_fraction, max_lse_c_drop=max_lse_c_drop,
        max_lse_d_rise=max_lse_d_rise, strict=strict, per_video=per_video,
    )  # fmt: skip
    new = _load_for_report(results)
    base = _load_for_report(baseline) if baseline is not None else None
    report = run_checks(
        new, thresholds, baseline=base, results_path=str(results),
        baseline_path=str(baseline) if baseline is not None else None,
    )  # fmt: skip
    click.echo(report.markdown(), nl=False)
    if os.environ.get("GITHUB_ACTIONS", "").lower() == "true":
        for line in report.github_annotations():
            click.echo(line)
    if junit is not None:
        atomic_write_text(junit, report.junit_xml())
    sys.exit(0 if report.passed else 1)


@cli.command()
@click.argument("base", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--per-video", is_flag=True, help="Add one row per matched video.")
def compare(base: Path, new: Path, per_video: bool) -> None:
    """Paired comparison of two results files, A = BASE and B = NEW (differences are B - A).

    Videos are matched by id, else path, and averaged only where both runs scored them. Prints
    a Markdown table; never gates (exit 0, or 2 for unreadable input).
    """
    from .report import comparison_markdown
    from .stats import pair_results, summarize

    a = _load_for_report(base)
    b = _load_for_report(new)
    cmp = pair_results(b, a)
    click.echo(
        comparison_markdown(
            cmp,
            str(base),
            str(new),
            base_summary=summarize(a),
            new_summary=summarize(b),
            per_video=per_video,
        ),  # fmt: skip
        nl=False,
    )


@cli.group()
def weights() -> None:
    """Find, download and verify the official weight files."""


@weights.command("where")
def weights_where() -> None:
    """Print where each weight file is looked for and whether it is there."""
    from .models import weights as wm

    for name, spec in wm.REGISTRY.items():
        found = wm.find_weights(name)
        click.echo(f"{name}: {found if found else 'missing'} ({spec.filename})")
    for d in wm.search_dirs():
        click.echo(f"search dir: {d}")


@weights.command("download")
@click.argument("names", nargs=-1, type=click.Choice(["syncnet", "s3fd"]))
@click.option(
    "--dir",
    "target_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Download into DIR instead of the user cache.",
)
def weights_download(names: tuple[str, ...], target_dir: Path | None) -> None:
    """Download (and verify) the official weights: syncnet, s3fd, or both by default."""
    from .models import weights as wm

    for name in names or tuple(wm.REGISTRY):
        existing = wm.find_weights(name) if target_dir is None else None
        if existing is not None:
            wm.verify_weights(existing, wm.REGISTRY[name])
            click.echo(f"{name}: already present and verified at {existing}")
            continue
        res = wm.download_weights_from(name, target_dir)
        click.echo(f"{name}: downloaded from {res.url} to {res.path}")


@weights.command("verify")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def weights_verify(files: tuple[Path, ...]) -> None:
    """Check size and sha256 of the cached weights (or of FILES against the official ones)."""
    from .models import weights as wm

    bad = 0
    targets: list[tuple[str, Path | None]]
    if files:
        by_name = {s.filename: n for n, s in wm.REGISTRY.items()}
        targets = []
        for f in files:
            name = by_name.get(f.name)
            if name is None:
                size = f.stat().st_size
                name = next((n for n, s in wm.REGISTRY.items() if s.size == size), None)
            if name is None:
                raise click.ClickException(f"{f}: not one of the official weight files")
            targets.append((name, f))
    else:
        targets = [(n, wm.find_weights(n)) for n in wm.REGISTRY]
    for name, path in targets:
        if path is None:
            click.echo(f"{name}: missing (run 'syncnet-eval weights download {name}')")
            bad += 1
            continue
        try:
            wm.verify_weights(path, wm.REGISTRY[name])
            click.echo(f"{name}: OK {path}")
        except SyncEvalError as exc:
            click.echo(f"{name}: BAD {exc}")
            bad += 1
    if bad:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns library errors into one 'Error:' line and exit code 1."""
    from ._malloc import tune_malloc

    tune_malloc()
    try:
        code = cli.main(args=argv, prog_name="syncnet-eval", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SyncEvalError as exc:
        if _debug_enabled(click.get_current_context(silent=True)) or "--debug" in (
            argv if argv is not None else sys.argv
        ):
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        if os.environ.get("SYNCNET_EVAL_DEBUG", "") not in ("", "0") or "--debug" in (
            argv if argv is not None else sys.argv
        ):
            raise
        click.echo(f"Error: {type(exc).__name__}: {exc} (re-run with --debug for details)",
                   err=True)  # fmt: skip
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
