"""The run driver and the local executor (``engines/run.py``, ``engines/local.py``), through
``score`` batches: bad inputs, workers, resume after SIGKILL, time limits, locks, stops."""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from batch_helpers import (
    fake_ffmpeg,
    make_bad_inputs,
    make_bad_inputs_expectations,
    run_ffmpeg,
    score_args,
)
import numpy as np
import pytest

from syncnet_eval import ScoreConfig
from syncnet_eval.engines import create_executor
from syncnet_eval.engines.plan import BatchConfig, LocalOptions, RunHooks, RunOutputs
from syncnet_eval.engines.records import BatchEvent
from syncnet_eval.engines.run import run_inputs
from syncnet_eval.errors import OutputError
from syncnet_eval.inputs import BatchInput
from syncnet_eval.io import JsonlLog, LogLock, read_jsonl
from syncnet_eval.stats import summarize
from syncnet_eval.types import STATUSES, VideoResult

from conftest import MEDIA_DIR, assert_same_records, invoke_cli, many_clips, signal_a_run

MEDIA = MEDIA_DIR
REAL_CLIPS = (
    "hallo_gufeng1_libai_224.mp4",
    "syncnet_example.avi",
    "hallo_gufeng1_libai_25step_224.mp4",
)


# -- helpers ----------------------------------------------------------------------------------


def _manifest_pointing_nowhere(directory: Path) -> Path:
    manifest = directory / "manifest.csv"
    manifest.write_text("path,id\nno/such/video.mp4,missing-row\n", encoding="utf-8")
    return manifest


def _without_timings(rec: dict[str, Any], *other: str) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("timings_s", *other)}


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(r["path"]).name: r for r in doc["results"]}


# -- the log ----------------------------------------------------------------------------------


def test_jsonl_partial_last_line_is_ignored_and_repaired(tmp_path: Path) -> None:
    log_path = tmp_path / "run.jsonl"
    with JsonlLog(log_path) as log:
        log.append({"a": 1})
        log.append({"b": 2})
    with open(log_path, "ab") as fh:
        fh.write(b'{"c": 3, "trunc')  # what a SIGKILL in the middle of a write leaves
    assert read_jsonl(log_path) == [{"a": 1}, {"b": 2}]
    assert log_path.read_bytes().endswith(b"trunc")  # not repaired unless asked
    assert read_jsonl(log_path, repair=True) == [{"a": 1}, {"b": 2}]
    assert log_path.read_bytes().endswith(b"}\n")
    with JsonlLog(log_path) as log:
        log.append({"d": 4})
    assert read_jsonl(log_path) == [{"a": 1}, {"b": 2}, {"d": 4}]


# -- bad inputs, workers, resume (synthetic clips: fast) --------------------------------------


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory, batch_clips: list[Path]) -> Path:
    """Three good synthetic clips and one of each bad input."""
    directory = tmp_path_factory.mktemp("mixed")
    for clip in batch_clips[:3]:
        shutil.copy2(clip, directory / clip.name)
    make_bad_inputs(directory, batch_clips[0])
    return directory


@pytest.fixture(scope="module")
def serial_run(
    mixed_dir: Path, syncnet_parity_weights: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """An uninterrupted ``--workers 1`` run over ``mixed_dir`` plus a manifest row to nowhere."""
    out = tmp_path_factory.mktemp("serial")
    manifest = _manifest_pointing_nowhere(out)
    result = invoke_cli(
        score_args(
            syncnet_parity_weights,
            str(mixed_dir),
            "--manifest",
            str(manifest),
            "-o",
            str(out / "run.jsonl"),
            "-o",
            str(out / "run.json"),
            "-o",
            str(out / "run.csv"),
        )
    )
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {"result": result, "out": out, "doc": doc, "manifest": manifest}


def test_bad_inputs_get_one_record_each_and_exit_1(
    serial_run: dict[str, Any], mixed_dir: Path, batch_clips: list[Path]
) -> None:
    expected = make_bad_inputs_expectations(mixed_dir)
    result, doc = serial_run["result"], serial_run["doc"]
    assert result.exit_code == 1, result.output
    records = doc["results"]
    assert len(records) == 3 + len(expected) + 1
    by_name = _by_name(doc)
    for clip in batch_clips[:3]:
        assert by_name[clip.name]["status"] == "ok", by_name[clip.name]
    for name, statuses in expected.items():
        rec = by_name[name]
        assert rec["status"] in statuses, rec
        assert rec["reason"] and name in rec["reason"]
        assert rec["lse_c"] is None and rec["lse_d"] is None
    missing = by_name["video.mp4"]
    assert (missing["status"], missing["id"]) == ("error", "missing-row")
    assert "not found" in missing["reason"]
    # Every record is in all three outputs, JSON round-trips, the summary counts the failures.
    assert len(read_jsonl(serial_run["out"] / "run.jsonl")) == len(records)
    csv_lines = (serial_run["out"] / "run.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == len(records) + 1
    assert [VideoResult.from_dict(r).to_dict() for r in records] == [
        _without_extras(r) for r in records
    ]
    summary = doc["summary"]
    assert summary["num_ok"] == 3 and summary["num_not_scored"] == len(records) - 3
    # The 1 s clips have 20 windows: scored, flagged few_windows and left out of the means.
    assert (summary["num_flagged"], summary["flag_counts"]["few_windows"]) == (3, 3)
    assert summary["num_scored"] == 0 and summary["lse_c"]["n"] == 0
    assert result.stderr.count("Error: ") == len(records) - 3


def _without_extras(rec: dict[str, Any]) -> dict[str, Any]:
    extras = ("input_identity", "config_hash", "from_log")
    return {k: v for k, v in rec.items() if k not in extras}


def test_two_workers_give_identical_records_and_allow_failures_exits_0(
    serial_run: dict[str, Any], mixed_dir: Path, syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    result = invoke_cli(
        score_args(
            syncnet_parity_weights,
            str(mixed_dir),
            "--manifest",
            str(serial_run["manifest"]),
            "--workers",
            "2",
            "--allow-failures",
            "-o",
            str(tmp_path / "par.jsonl"),
            "-o",
            str(tmp_path / "par.json"),
        )
    )
    assert result.exit_code == 0, result.output

    # Workers run torch with one thread each, the serial run with all cores: same records,
    # floats to rounding. The log is in completion order (documented); outputs in input order.
    def by_input(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(records, key=lambda r: (str(r["id"]), r["path"]))

    assert_same_records(
        by_input(read_jsonl(tmp_path / "par.jsonl")),
        by_input(read_jsonl(serial_run["out"] / "run.jsonl")),
    )
    par = json.loads((tmp_path / "par.json").read_text(encoding="utf-8"))
    assert_same_records(par, serial_run["doc"])


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_keeping_records_outputs_and_the_resume_line(
    signum: int,
    status: int,
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
) -> None:
    folder = many_clips(tmp_path / "in", batch_clips, 12)
    log_path, parquet = tmp_path / "run.jsonl", tmp_path / "run.parquet"
    args = score_args(syncnet_parity_weights, str(folder), "-o", str(log_path), "-o", str(parquet))
    code, stderr = signal_a_run(args, log_path, signum)
    assert code == status, stderr  # 128 + the signal, as a shell reports a process it killed
    kept = read_jsonl(log_path)
    assert 1 <= len(kept) < 12
    assert f"inputs are recorded in {log_path}; run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    pytest.importorskip("pyarrow")
    from syncnet_eval.parquet import iter_parquet_records

    assert len(list(iter_parquet_records(parquet))) == len(kept)  # written after the stop
    again = invoke_cli(args)
    assert again.exit_code == 0, again.output
    assert sorted(r["id"] for r in read_jsonl(log_path)) == [f"clip{k:02d}.mp4" for k in range(12)]


def test_sigkill_then_resume_records_each_input_exactly_once(
    serial_run: dict[str, Any], mixed_dir: Path, syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    log_path, json_path = tmp_path / "run.jsonl", tmp_path / "run.json"
    args = score_args(
        syncnet_parity_weights,
        str(mixed_dir),
        "--manifest",
        str(serial_run["manifest"]),
        "-o",
        str(log_path),
        "-o",
        str(json_path),
        "-q",
    )
    cmd = [sys.executable, "-m", "syncnet_eval", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if log_path.exists() and log_path.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    total = len(serial_run["doc"]["results"])
    written = len(read_jsonl(log_path))
    assert 1 <= written < total
    assert not json_path.exists()  # the final outputs are only written at the end
    with open(log_path, "ab") as fh:
        fh.write(b'{"path": "half a rec')  # as if the kill had landed in the middle of a write

    rerun = invoke_cli([*args[:-1], "--resume"])
    assert rerun.exit_code == 1
    records = read_jsonl(log_path)
    assert len(records) == total
    assert sorted(r["path"] for r in records) == sorted(
        r["path"] for r in serial_run["doc"]["results"]
    )
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    assert any(r["from_log"] for r in doc["results"])  # the killed run's records, reused
    assert_same_records(doc, serial_run["doc"], ignore=("timings_s", "from_log"))
    # A third run finds everything in the log: nothing is scored or appended again.
    again = invoke_cli([*args[:-1]])
    assert again.exit_code == 1
    assert len(read_jsonl(log_path)) == total


def test_resume_rescores_changed_files_and_other_configs(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    clip = tmp_path / "v.mp4"
    shutil.copy2(batch_clips[1], clip)
    log_path = tmp_path / "run.jsonl"
    base = score_args(syncnet_parity_weights, str(clip), "-o", str(log_path), "-q")
    assert invoke_cli(base).exit_code == 0
    assert invoke_cli(base).exit_code == 0
    assert len(read_jsonl(log_path)) == 1  # resumed: not scored again
    assert invoke_cli([*base, "--vshift", "10"]).exit_code == 0
    assert len(read_jsonl(log_path)) == 2  # another configuration hash
    os.utime(clip, ns=(1, clip.stat().st_mtime_ns + 10**9))
    assert invoke_cli(base).exit_code == 0
    records = read_jsonl(log_path)
    assert len(records) == 3  # the file changed (mtime)
    assert len({r["config_hash"] for r in records}) == 2
    assert invoke_cli([*base, "--no-resume"]).exit_code == 0
    assert len(read_jsonl(log_path)) == 1  # started afresh


def test_retry_failed_scores_transient_failures_again_and_keeps_other_records(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = tmp_path / "ffmpeg_is_broken"
    fake_ffmpeg(
        tmp_path / "ffmpeg_flaky.sh",
        f'if [ -e "{broken}" ]; then case "$*" in\n'
        f'  *-i*) echo "simulated failure" >&2; exit 1 ;;\nesac; fi\n',
        monkeypatch,
    )
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy2(batch_clips[2], clips / "a_flaky.mp4")
    run_ffmpeg("-i", str(batch_clips[2]), "-an", "-c", "copy", str(clips / "b_no_audio.mp4"))
    log_path = tmp_path / "run.jsonl"
    base = score_args(
        syncnet_parity_weights, str(clips), "-o", str(log_path), "-q", "--allow-failures"
    )

    def statuses() -> list[str]:
        return [r["status"] for r in read_jsonl(log_path)]

    broken.touch()
    assert invoke_cli(base).exit_code == 0
    assert statuses() == ["decode_error", "no_audio"]
    broken.unlink()
    assert invoke_cli(base).exit_code == 0
    assert statuses() == ["decode_error", "no_audio"]  # plain resume keeps failures
    assert invoke_cli([*base, "--retry-failed"]).exit_code == 0
    assert statuses() == ["no_audio", "ok"]  # retried once, no stale record left
    assert invoke_cli([*base, "--retry-failed"]).exit_code == 0
    assert statuses() == ["no_audio", "ok"]  # nothing left to retry
    bad = invoke_cli([*base, "--retry-failed", "--no-resume"])
    assert bad.exit_code == 2 and "--retry-failed" in bad.output


def test_timeout_kills_a_hung_decode(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sleep's length marks this run's stalled ffmpeg: other runs on a shared machine (one
    # process table) have their own.
    marker = f"597.{os.getpid()}"
    fake_ffmpeg(
        tmp_path / "ffmpeg_stalls.sh",
        f'case "$*" in\n  *zz_stall_marker*) exec sleep {marker} ;;\nesac\n',
        monkeypatch,
    )
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy2(batch_clips[2], clips / "a_fine.mp4")
    shutil.copy2(batch_clips[2], clips / "zz_stall_marker.mp4")
    result = invoke_cli(
        score_args(
            syncnet_parity_weights, str(clips), "--timeout", "30", "-o", str(tmp_path / "r.json")
        )
    )
    assert result.exit_code == 1, result.output
    doc = _by_name(json.loads((tmp_path / "r.json").read_text(encoding="utf-8")))
    assert doc["a_fine.mp4"]["status"] == "ok"
    stalled = doc["zz_stall_marker.mp4"]
    assert (stalled["status"], stalled["reason_code"]) == ("error", "timeout")
    assert "timed out after 30 s" in stalled["reason"]
    assert stalled["provenance"]["timeout_s"] == 30

    def leftovers() -> list[Path]:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker.encode() in cmdline.read_bytes():
                    found.append(cmdline)
            except OSError:
                continue
        return found

    # The run ended (its records are written) well before the stalled ffmpeg's 597 s sleep
    # could: it was killed with its worker, not waited for. A killed process may take a moment
    # to leave /proc on a loaded machine, so look again until it has (the sleep never ends
    # by itself before 597 s).
    deadline = time.monotonic() + 60
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftovers(), "the hung ffmpeg was not killed with its worker"


def test_non_regular_file_is_refused_without_blocking(
    syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    result = invoke_cli(
        score_args(syncnet_parity_weights, str(fifo), "-o", str(tmp_path / "r.json"))
    )
    assert result.exit_code == 1
    rec = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["results"][0]
    assert rec["status"] == "error" and "not a regular file" in rec["reason"]


def _damaged_corpus(source: Path, corpus: Path, tmp_path: Path) -> list[str]:
    """Damaged copies of ``source`` in two MP4 layouts, and awkward names and entries."""
    fast = tmp_path / "faststart.mp4"
    run_ffmpeg("-i", str(source), "-c", "copy", "-movflags", "+faststart", str(fast))
    rng = np.random.default_rng(1234)
    for layout, clip in (("moov_last", source), ("moov_first", fast)):
        data = clip.read_bytes()
        n = len(data)
        stem = layout
        for k in range(10):
            cut = int(rng.integers(1, n))
            (corpus / f"{stem}_trunc{k:02d}.mp4").write_bytes(data[:cut])
        for k in range(10):
            damaged = bytearray(data)
            for _ in range(int(rng.integers(1, 64))):
                damaged[int(rng.integers(0, n))] = int(rng.integers(0, 256))
            (corpus / f"{stem}_flip{k:02d}.mp4").write_bytes(bytes(damaged))
        for k in range(6):
            damaged = bytearray(data)
            start, length = int(rng.integers(0, 64)), int(rng.integers(4, 64))
            damaged[start : start + length] = rng.bytes(length) if k % 2 else bytes(length)
            (corpus / f"{stem}_header{k:02d}.mp4").write_bytes(bytes(damaged))
        # New kinds: a cut whose index survives, zeroed tails, swapped blocks, media-only flips.
        (corpus / f"{stem}_cut25.mp4").write_bytes(data[: n // 4])
        (corpus / f"{stem}_zerotail.mp4").write_bytes(data[: n * 7 // 10] + bytes(n - n * 7 // 10))
        swapped = bytearray(data)
        a, b, size = n // 3, 2 * n // 3, min(512, n // 8)
        swapped[a : a + size], swapped[b : b + size] = data[b : b + size], data[a : a + size]
        (corpus / f"{stem}_swapped.mp4").write_bytes(bytes(swapped))
        _bit_flipped(clip, corpus / f"{stem}_mediaflip.mp4", seed=len(layout))
    # Awkward names and entries around a good copy.
    for name in ("pipe:0.mp4", "concat:x|y.mp4", "new\nline.mp4", os.fsdecode(b"lat\xe9.mp4")):
        shutil.copy2(source, corpus / name)
    (corpus / "loop.mp4").symlink_to("loop.mp4")
    os.mkfifo(corpus / "fifo.mp4")
    return sorted(p.name for p in corpus.iterdir())


@pytest.mark.slow
def test_corrupted_corpus_never_tracebacks_hangs_or_changes_between_serial_and_workers(
    batch_short_clip: Path, syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    """~65 damaged or awkward copies of a clip: truncations, byte flips, header damage, cuts
    whose index survives, zeroed tails, swapped blocks, protocol-like and non-UTF-8 names, a
    symlink loop and a FIFO. Scored serially and with two workers: one record each, no
    traceback, no hang, and the same records."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # 0.48 s: the variants that still decode are scored quickly.
    names = _damaged_corpus(batch_short_clip, corpus, tmp_path)
    assert len(names) >= 60
    runs = []
    for extra in (["--workers", "2", "--timeout", "60"], []):
        out = tmp_path / f"corpus{len(runs)}.json"
        cmd = [
            sys.executable,
            "-m",
            "syncnet_eval",
            *score_args(syncnet_parity_weights, str(corpus), "-o", str(out), *extra),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
        assert "Traceback" not in proc.stdout + proc.stderr
        # Every stderr line is a whole message (a newline in a name must not split one).
        starts = ("Error: ", "WARNING: ", "Warning: ", "[", "scoring ")
        assert all(ln.startswith(starts) for ln in proc.stderr.splitlines()), proc.stderr
        records = json.loads(out.read_text(encoding="utf-8"))["results"]
        assert sorted(os.fsdecode(os.fsencode(Path(r["path"]).name)) for r in records) == names
        for rec in records:
            assert rec["status"] in STATUSES
            assert (rec["status"] == "ok") == (rec["reason"] is None)
        runs.append(records)
    assert_same_records(runs[1], runs[0])


# -- the acceptance run on real clips -------------------------------------------------


@pytest.fixture(scope="module")
def real_media_dir(tmp_path_factory: pytest.TempPathFactory, batch_clips: list[Path]) -> Path:
    missing = [name for name in REAL_CLIPS if not (MEDIA / name).is_file()]
    if missing:
        pytest.skip(f"shared media not found: {missing}")
    directory = tmp_path_factory.mktemp("real_batch")
    for name in REAL_CLIPS:
        (directory / name).symlink_to(MEDIA / name)
    make_bad_inputs(directory, batch_clips[0])
    return directory


@pytest.mark.slow
def test_real_clips_and_bad_inputs_batch(
    real_media_dir: Path, syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    manifest = _manifest_pointing_nowhere(tmp_path)
    log_path = tmp_path / "real.jsonl"
    args = score_args(
        syncnet_parity_weights,
        str(real_media_dir),
        "--manifest",
        str(manifest),
        "--workers",
        "2",
        "-o",
        str(log_path),
        "-o",
        str(tmp_path / "real.json"),
    )
    result = invoke_cli(args)
    assert result.exit_code == 1, result.output
    doc = json.loads((tmp_path / "real.json").read_text(encoding="utf-8"))
    expected = make_bad_inputs_expectations(real_media_dir)
    assert len(doc["results"]) == len(REAL_CLIPS) + len(expected) + 1
    by_name = _by_name(doc)
    for name in REAL_CLIPS:
        assert by_name[name]["status"] == "ok", by_name[name]
        assert by_name[name]["lse_c"] is not None
    for name, statuses in expected.items():
        assert by_name[name]["status"] in statuses, by_name[name]
    assert by_name["video.mp4"]["status"] == "error"
    assert doc["summary"]["num_ok"] == len(REAL_CLIPS)
    results = [VideoResult.from_dict(r) for r in doc["results"]]
    assert doc["summary"] == summarize(results).to_dict()

    # The same batch with --allow-failures exits 0 (every record comes from the log: no rescoring).
    allowed = invoke_cli([*args, "--allow-failures", "-q"])
    assert allowed.exit_code == 0, allowed.output
    assert len(read_jsonl(log_path)) == len(doc["results"])
    again = json.loads((tmp_path / "real.json").read_text(encoding="utf-8"))
    assert all(r["from_log"] for r in again["results"])
    assert not any(r["from_log"] for r in doc["results"])
    assert [_without_timings(r, "from_log") for r in again["results"]] == [
        _without_timings(r, "from_log") for r in doc["results"]
    ]


# -- robustness: discovery, ids, names, locks, workers (numbers a user can trust) -------------


def test_a_folder_with_a_symlink_loop_a_fifo_and_two_good_clips(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for clip in batch_clips[:2]:
        shutil.copy2(clip, folder / clip.name)
    (folder / "loop.mp4").symlink_to("loop.mp4")  # points at itself
    os.mkfifo(folder / "pipe.mp4")
    out = tmp_path / "r.json"
    result = invoke_cli(score_args(syncnet_parity_weights, str(folder), "-o", str(out)))
    assert result.exit_code == 1
    by_name = _by_name(json.loads(out.read_text(encoding="utf-8")))
    assert sorted(by_name) == sorted([c.name for c in batch_clips[:2]] + ["loop.mp4", "pipe.mp4"])
    assert [by_name[c.name]["status"] for c in batch_clips[:2]] == ["ok", "ok"]
    assert by_name["loop.mp4"]["status"] == "error"
    assert "symbolic link that leads nowhere" in by_name["loop.mp4"]["reason"]
    assert "not a regular file" in by_name["pipe.mp4"]["reason"]


@pytest.mark.parametrize("name", ["pipe:0.mp4", "concat:x|y.mp4", "subfile:a.mp4"])
def test_names_that_look_like_ffmpeg_protocols_are_files(
    name: str,
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copy2(batch_clips[1], tmp_path / name)
    monkeypatch.chdir(tmp_path)  # relative names: the ones ffmpeg would read as protocols
    result = invoke_cli(score_args(syncnet_parity_weights, name, "-o", "r.json"))
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(Path("r.json").read_text(encoding="utf-8"))["results"]
    assert rec["status"] == "ok"


def _bit_flipped(src: Path, dst: Path, seed: int) -> Path:
    """Flip bytes in the second half of the file (the media data of a moov-last mp4), so the
    video still opens and the decoder conceals the damage."""
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    for pos in rng.integers(len(data) // 2, len(data) - 2048, 24):
        data[int(pos)] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_damaged_clip_scores_the_same_serial_with_workers_and_again(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    for k in range(2):
        _bit_flipped(batch_clips[k], folder / f"flipped{k}.mp4", seed=k)
    runs = []
    for extra in ([], ["--workers", "2"], []):
        out = tmp_path / f"run{len(runs)}.json"
        result = invoke_cli(
            score_args(
                syncnet_parity_weights,
                str(folder),
                "-o",
                str(out),
                "-q",
                "--allow-failures",
                *extra,
            )
        )
        assert result.exit_code == 0, result.output
        runs.append(json.loads(out.read_text(encoding="utf-8"))["results"])
    assert_same_records(runs[1], runs[0])
    assert_same_records(runs[2], runs[0])


def test_a_second_run_on_a_locked_log_is_refused(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "r.jsonl"
    with LogLock(log_path):
        result = invoke_cli(
            score_args(syncnet_parity_weights, str(batch_clips[0]), "-o", str(log_path))
        )
    assert result.exit_code == 2  # an unusable output, as documented
    assert "another syncnet-eval run is writing this log" in result.output
    assert not log_path.exists() or log_path.read_text(encoding="utf-8") == ""
    again = invoke_cli(score_args(syncnet_parity_weights, str(batch_clips[0]), "-o", str(log_path)))
    assert again.exit_code == 0  # the lock went with its holder


@pytest.mark.parametrize("first", ["target", "link"])
def test_a_log_is_locked_whatever_name_reaches_it(tmp_path: Path, first: str) -> None:
    real = tmp_path / "real" / "r.jsonl"
    real.parent.mkdir()
    real.write_text("", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    names = {"target": real, "link": link}
    second = link if first == "target" else real
    with LogLock(names[first]), pytest.raises(OutputError, match="another syncnet-eval run"):
        LogLock(second).__enter__()
    with LogLock(second):  # released with its holder
        pass


@pytest.mark.slow  # waits for real timeouts
def test_a_timeout_is_scored_again_when_the_limit_rises_and_resumed_records_say_so(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stalled decode waits until the test releases it: a 20 s limit kills it while it is
    # held (a fine clip scores well within 20 s even on a loaded machine), and once released a
    # larger limit lets it finish. No outcome depends on how fast the machine is.
    release = tmp_path / "release"
    fake_ffmpeg(
        tmp_path / "ffmpeg_slow.sh",
        'case "$*" in\n  *zz_slow_marker*) while [ ! -e "' + str(release) + '" ]; do sleep 0.1; '
        "done ;;\nesac\n",
        monkeypatch,
    )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy2(batch_clips[2], clips / "a_fine.mp4")
    shutil.copy2(batch_clips[2], clips / "zz_slow_marker.mp4")
    log_path = tmp_path / "r.jsonl"

    def run(limit: str) -> dict[str, dict[str, Any]]:
        out = tmp_path / f"r{limit}.json"
        result = invoke_cli(
            score_args(
                syncnet_parity_weights,
                str(clips),
                "--timeout",
                limit,
                "-o",
                str(log_path),
                "-o",
                str(out),
                "-q",
            )
        )
        assert result.exit_code in (0, 1), result.output
        return _by_name(json.loads(out.read_text(encoding="utf-8")))

    first = run("20")
    assert first["zz_slow_marker.mp4"]["reason_code"] == "timeout"
    assert first["a_fine.mp4"]["status"] == "ok"
    assert not any(p.name.startswith("syncnet-eval-worker-") for p in (tmp_path / "tmp").iterdir())
    same = run("20")
    assert same["zz_slow_marker.mp4"]["from_log"] and same["a_fine.mp4"]["from_log"]
    release.touch()
    raised = run("600")
    assert raised["zz_slow_marker.mp4"]["status"] == "ok"
    assert not raised["zz_slow_marker.mp4"]["from_log"] and raised["a_fine.mp4"]["from_log"]


def test_workers_and_their_ffmpeg_die_with_a_killed_parent(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    marker = f"77.{os.getpid()}"  # this run's hanging ffmpeg, not another run's on the machine
    script = tmp_path / "ffmpeg_hangs.sh"
    real = shutil.which("ffmpeg")
    script.write_text(
        f'#!/bin/sh\ncase "$*" in\n  *zz_hang*) exec sleep {marker} ;;\nesac\nexec "{real}" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy2(batch_clips[0], clips / "zz_hang.mp4")
    env = {**os.environ, "SYNCNET_EVAL_FFMPEG": str(script)}
    cmd = [
        sys.executable,
        "-m",
        "syncnet_eval",
        *score_args(syncnet_parity_weights, str(clips), "--workers", "2", "-q"),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def hanging() -> list[Path]:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker.encode() in cmdline.read_bytes():
                    found.append(cmdline)
            except OSError:
                continue
        return found

    try:
        deadline = time.monotonic() + 60
        while not hanging() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hanging(), "the worker never started its (hanging) ffmpeg"
    finally:
        proc.kill()  # SIGKILL: the parent cannot clean up; the workers must notice
        proc.wait()
    deadline = time.monotonic() + 60  # a loaded machine: the watchers poll every 0.5 s
    while hanging() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not hanging(), "a worker's ffmpeg outlived the killed parent"


def test_records_finished_out_of_order_are_kept_when_a_batch_is_interrupted(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_ffmpeg(
        tmp_path / "ffmpeg_slow.sh", 'case "$*" in\n  *a_slow*) sleep 30 ;;\nesac\n', monkeypatch
    )
    items = [BatchInput(tmp_path / "a_slow.mp4", id="a_slow.mp4")]
    shutil.copy2(batch_clips[0], items[0].path)
    for k in (1, 2):
        path = tmp_path / f"b{k}.mp4"
        shutil.copy2(batch_clips[k], path)
        items.append(BatchInput(path, id=path.name))
    log_path = tmp_path / "r.jsonl"

    def stop_after_first(event: BatchEvent) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the first input is still running

    config = BatchConfig(
        recipe="direct",
        score_config=ScoreConfig(device="cpu"),
        syncnet_weights=syncnet_parity_weights,
        offline=True,
    )
    with pytest.raises(KeyboardInterrupt):
        run_inputs(
            items,
            config,
            executor=create_executor("local", LocalOptions(workers=2)),
            outputs=RunOutputs(log_path),
            hooks=RunHooks(on_record=stop_after_first, download_progress=False),
        )
    logged = [r["id"] for r in read_jsonl(log_path)]
    assert len(logged) == 1 and logged[0] != "a_slow.mp4"  # finished after an unfinished one


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_names_the_log() -> None:
    with JsonlLog(Path("/dev/full")) as full, pytest.raises(OutputError, match="/dev/full"):
        full.append({"a": 1})


def test_a_wrong_typed_record_in_the_log_is_scored_again_with_a_warning(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "r.jsonl"
    args = score_args(syncnet_parity_weights, str(batch_clips[0]), "-o", str(log_path))
    assert invoke_cli(args).exit_code == 0
    rec = json.loads(log_path.read_text(encoding="utf-8"))
    for field, value in (("av_offset", "0"), ("lse_c", "high"), ("input_identity", "x")):
        log_path.write_text(json.dumps({**rec, field: value}) + "\n", encoding="utf-8")
        again = invoke_cli(args)
        assert again.exit_code == 0, again.output
        assert f"{log_path}:1: " in again.output and "not a record" in again.output
        last = read_jsonl(log_path)[-1]
        assert last["lse_c"] == rec["lse_c"] and last["from_log"] is False  # scored again


def test_a_link_to_another_input_gets_a_duplicate_record_naming_its_file(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(batch_clips[0], folder / "b.mp4")
    (folder / "a.mp4").symlink_to("b.mp4")
    out = tmp_path / "r.json"
    result = invoke_cli(score_args(syncnet_parity_weights, str(folder), "-q", "-o", str(out)))
    assert result.exit_code == 1, result.output  # an input that was not scored, as documented
    records = _by_name(json.loads(out.read_text(encoding="utf-8")))
    assert set(records) == {"a.mp4", "b.mp4"}  # every input accounted for
    assert records["b.mp4"]["status"] == "ok"
    dup = records["a.mp4"]
    assert dup["status"] == "error" and dup["reason_code"] == "duplicate"
    assert dup["lse_c"] is None and dup["tracks"] == []  # not scored twice
    assert str(folder / "b.mp4") in dup["reason"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "a.mp4" in errors[0] and "b.mp4" in errors[0]
