"""The Ray engine (``score --engine ray``) on a Ray runtime this module starts on loopback:
records equal the local engine's, every input once, a killed actor costs a retry, a crashing
input becomes a record, a rerun skips everything; without Ray, one line and exit 1."""

from __future__ import annotations

from collections import Counter
import json
import logging
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

from batch_helpers import fake_ffmpeg, make_bad_inputs, score_args
import pytest

from syncnet_eval.engines.ray import LOOPBACK_ENV, QUIET_ENV, RayConfig
from syncnet_eval.errors import ConfigError
from syncnet_eval.io import read_jsonl
from syncnet_eval.parquet import iter_parquet_records, write_parquet

from conftest import assert_same_records, invoke_cli, many_clips, signal_a_run

ROOT = Path(__file__).resolve().parents[1]
# Every Ray runtime of this test process listens on loopback only: the switch is read when Ray
# is imported, which nothing does before this module is collected (the fixture checks it).
os.environ.update(LOOPBACK_ENV)
BAD = ("bad_zero_bytes.mp4", "bad_truncated.mp4", "bad_no_audio.mp4", "bad_directory.mp4")


@pytest.fixture(scope="module")
def ray_runtime() -> Any:
    """A Ray runtime of 2 CPUs on loopback whose workers import this checkout."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        # As a runtime the executor starts itself: its actors' Ray core logs errors only.
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), **QUIET_ENV}},
    )
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def eight_inputs(tmp_path_factory: pytest.TempPathFactory, batch_clips: list[Path]) -> Path:
    """Four good 1 s clips and four bad inputs."""
    directory = tmp_path_factory.mktemp("ray_inputs")
    for clip in batch_clips:
        shutil.copy2(clip, directory / clip.name)
    scratch = tmp_path_factory.mktemp("ray_bad")
    make_bad_inputs(scratch, batch_clips[0])
    for name in BAD:
        shutil.move(scratch / name, directory / name)
    return directory


@pytest.fixture(scope="module")
def local_doc(
    eight_inputs: Path, syncnet_parity_weights: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ray_local") / "local.json"
    result = invoke_cli(score_args(syncnet_parity_weights, str(eight_inputs), "-q", "-o", str(out)))
    assert result.exit_code == 1, result.output
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["results"]) == 8
    return doc


def _ray_args(weights: Path, inputs: Path, *extra: str) -> list[str]:
    return score_args(weights, str(inputs), "--engine", "ray", "--actors", "2", *extra)


def _assert_once_and_equal(records: list[dict[str, Any]], local: dict[str, Any]) -> None:
    counts = Counter(r["id"] for r in records)
    assert sorted(counts) == sorted(r["id"] for r in local["results"])
    assert set(counts.values()) == {1}, counts
    by_id = {r["id"]: r for r in local["results"]}
    for rec in records:
        assert rec["config_hash"] == by_id[rec["id"]]["config_hash"]
        assert_same_records(rec, by_id[rec["id"]], ignore=("timings_s", "from_log"))


@pytest.fixture(scope="module")
def ray_run(
    ray_runtime: Any,
    eight_inputs: Path,
    syncnet_parity_weights: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ray_run")
    args = _ray_args(
        syncnet_parity_weights,
        eight_inputs,
        "-o",
        str(out / "ray.parquet"),
        "-o",
        str(out / "ray.jsonl"),
        "-o",
        str(out / "ray.json"),
    )
    result = invoke_cli(args)
    return {"result": result, "out": out, "args": args}


@pytest.mark.slow  # a Ray runtime and real scoring
def test_ray_records_equal_the_local_engine_once_each_in_every_output(
    ray_run: dict[str, Any], local_doc: dict[str, Any]
) -> None:
    result, out = ray_run["result"], ray_run["out"]
    assert result.exit_code == 1, result.output  # four inputs were not scored
    assert result.stderr.count("Error: ") == len(BAD)
    assert "\x1b[" not in result.output
    assert "summary: 8 inputs, 4 ok, 4 not scored" in result.stdout
    doc = json.loads((out / "ray.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in doc["results"]] == [r["id"] for r in local_doc["results"]]
    assert_same_records(doc, local_doc)  # same records, same order, same summary
    _assert_once_and_equal(read_jsonl(out / "ray.jsonl"), local_doc)
    _assert_once_and_equal(list(iter_parquet_records(out / "ray.parquet")), local_doc)
    assert not (out / ".ray.parquet.jsonl").exists()  # a user log was given: no side log


@pytest.mark.slow  # a Ray runtime and real scoring
def test_check_and_compare_read_the_parquet_output(
    ray_run: dict[str, Any], local_doc: dict[str, Any], tmp_path: Path
) -> None:
    parquet = ray_run["out"] / "ray.parquet"
    check = invoke_cli(["check", str(parquet), "--min-ok-fraction", "0.5", "--include-flagged"])
    assert check.exit_code == 0, check.output
    assert "4 of 8" in check.output
    local = tmp_path / "local.json"
    local.write_text(json.dumps(local_doc), encoding="utf-8")
    compare = invoke_cli(["compare", str(local), str(parquet)])
    assert compare.exit_code == 0, compare.output
    assert "different configurations" not in compare.output


@pytest.mark.slow  # a Ray runtime and real scoring
def test_a_rerun_with_the_same_outputs_skips_everything(ray_run: dict[str, Any]) -> None:
    out = ray_run["out"]
    before = read_jsonl(out / "ray.jsonl")
    rerun = invoke_cli([*ray_run["args"], "--allow-failures"])
    assert rerun.exit_code == 0, rerun.output
    assert "scoring 8 inputs (8 already in the log)" in rerun.stderr
    assert read_jsonl(out / "ray.jsonl") == before  # nothing scored, nothing appended
    rows = list(iter_parquet_records(out / "ray.parquet"))
    assert len(rows) == 8 and all(r["from_log"] for r in rows)
    doc = json.loads((out / "ray.json").read_text(encoding="utf-8"))
    assert all(r["from_log"] for r in doc["results"])


@pytest.mark.slow  # a Ray runtime and real scoring
def test_resume_from_the_parquet_file_alone_scores_only_what_is_missing(
    ray_runtime: Any,
    eight_inputs: Path,
    local_doc: dict[str, Any],
    syncnet_parity_weights: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "only.parquet"
    kept = [r for r in local_doc["results"] if r["id"] != "clip1.mp4"]
    write_parquet(out, kept)  # as if an earlier run had recorded all but one input
    args = _ray_args(syncnet_parity_weights, eight_inputs, "-o", str(out), "--allow-failures")
    result = invoke_cli(args)
    assert result.exit_code == 0, result.output
    assert "scoring 8 inputs (7 already in the log)" in result.stderr
    rows = list(iter_parquet_records(out))
    _assert_once_and_equal(rows, local_doc)
    assert [r["id"] for r in rows if not r["from_log"]] == ["clip1.mp4"]
    assert not (tmp_path / ".only.parquet.jsonl").exists()  # folded into the Parquet file


@pytest.mark.slow  # a Ray runtime and real scoring
def test_a_failed_run_leaves_the_parquet_file_as_it_was(
    ray_runtime: Any,
    eight_inputs: Path,
    local_doc: dict[str, Any],
    syncnet_parity_weights: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "keep.parquet"
    write_parquet(out, local_doc["results"][:2])
    before = out.read_bytes()
    # The loopback runtime has no GPU: not even one actor fits, which stops the run.
    result = invoke_cli(
        _ray_args(syncnet_parity_weights, eight_inputs, "--gpus-per-actor", "1", "-o", str(out))
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: the Ray cluster has 2 CPUs")
    assert out.read_bytes() == before


@pytest.mark.slow  # a Ray runtime and real scoring
def test_an_actor_killed_mid_run_costs_a_retry_not_a_record(
    ray_runtime: Any,
    eight_inputs: Path,
    local_doc: dict[str, Any],
    syncnet_parity_weights: Path,
    tmp_path: Path,
) -> None:
    ray = ray_runtime
    killed: list[Any] = []
    stop = threading.Event()

    def kill_a_busy_actor() -> None:
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            ledgers = [n for n in ray.util.list_named_actors() if "syncnet-eval-ledger" in n]
            if ledgers:
                with_rows = ray.get(ray.get_actor(ledgers[0]).busy_actors.remote())
                if with_rows:
                    ray.kill(with_rows[0], no_restart=False)
                    killed.append(with_rows[0])
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_actor, daemon=True)
    killer.start()
    try:
        # Two inputs at a time per actor (--streams 2): a crash catches both in flight.
        result = invoke_cli(
            _ray_args(
                syncnet_parity_weights,
                eight_inputs,
                "-q",
                "--streams",
                "2",
                "-o",
                str(tmp_path / "k.jsonl"),
            )
        )
    finally:
        stop.set()
        killer.join()
    assert killed, "no actor was busy while the run lasted"
    assert result.exit_code == 1, result.output
    _assert_once_and_equal(read_jsonl(tmp_path / "k.jsonl"), local_doc)


@pytest.mark.slow  # a Ray runtime and real scoring
def test_an_input_that_kills_its_actor_every_time_is_recorded_once(
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A decoder that crashes the process on one file: three actor deaths, then an ``error``
    record (``worker_crashed``); the other input is scored. Runs the CLI in a subprocess that
    starts its own Ray runtime (whose workers inherit the fake ffmpeg)."""
    import subprocess

    pytest.importorskip("ray")
    poison = tmp_path / "poison.mp4"
    shutil.copy2(batch_clips[0], poison)
    fake_ffmpeg(
        tmp_path / "ffmpeg", 'case "$*" in *poison*) kill -9 $PPID; exit 1;; esac\n', monkeypatch
    )
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    log_path = tmp_path / "p.jsonl"
    args = _ray_args(syncnet_parity_weights, tmp_path, "--glob", "*.mp4", "-q", "-o", str(log_path))
    shutil.copy2(batch_clips[1], tmp_path / "good.mp4")
    proc = subprocess.run(
        [sys.executable, "-m", "syncnet_eval", *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1, proc.stderr
    records = {r["id"]: r for r in read_jsonl(log_path)}
    assert len(read_jsonl(log_path)) == 2
    assert records["good.mp4"]["status"] == "ok"
    crashed = records["poison.mp4"]
    assert (crashed["status"], crashed["reason_code"]) == ("error", "worker_crashed")
    assert "Error: " in proc.stderr and "poison.mp4" in proc.stderr


@pytest.mark.slow  # starts its own Ray runtime in a subprocess, twice
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_a_ray_run_as_it_stops_a_local_one(
    signum: int,
    status: int,
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ray's core installs its own SIGTERM handler (a crash report, exit 134, no Parquet): the
    run must still stop as the local engine's does."""
    pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    folder = many_clips(tmp_path / "in", batch_clips, 16)
    log_path, parquet = tmp_path / "run.jsonl", tmp_path / "run.parquet"
    args = _ray_args(syncnet_parity_weights, folder, "-o", str(log_path), "-o", str(parquet))
    code, stderr = signal_a_run(args, log_path, signum)
    assert code == status, stderr
    kept = read_jsonl(log_path)
    assert 1 <= len(kept) < 16
    assert f"inputs are recorded in {log_path}; run the same command again to resume" in stderr
    assert "received at time" not in stderr and "Traceback" not in stderr  # no crash report
    assert len(list(iter_parquet_records(parquet))) == len(kept)


def test_without_ray_installed_one_line_and_exit_1(
    batch_clips: list[Path], syncnet_parity_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [ray] extra were not installed
    result = invoke_cli(_ray_args(syncnet_parity_weights, batch_clips[0]))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and 'pip install "syncnet-eval[ray]"' in lines[0]


def test_ray_options_need_the_ray_engine_and_workers_need_the_local_one(
    batch_clips: list[Path], syncnet_parity_weights: Path
) -> None:
    clip = str(batch_clips[0])
    result = invoke_cli(score_args(syncnet_parity_weights, clip, "--actors", "2"))
    assert result.exit_code == 2 and "--actors: only with --engine ray" in result.output
    result = invoke_cli(_ray_args(syncnet_parity_weights, batch_clips[0], "--workers", "2"))
    assert result.exit_code == 2 and "--workers: only with --engine local" in result.output


def test_pool_strategy_fits_the_installed_ray_version() -> None:
    from syncnet_eval.engines.ray import pool_strategy

    def fake(version: str) -> Any:
        data = SimpleNamespace(ActorPoolStrategy=lambda size: ("pool", size))
        return SimpleNamespace(__version__=version, data=data)

    assert pool_strategy(fake("2.9.3"), 3) == {"concurrency": 3}
    assert pool_strategy(fake("2.50.1"), 3) == {"concurrency": 3}
    assert pool_strategy(fake("2.51.0"), 3) == {"compute": ("pool", 3)}
    assert pool_strategy(fake("3.0.0rc1"), 2) == {"compute": ("pool", 2)}


def test_pool_size_from_the_cluster_or_the_option() -> None:
    from syncnet_eval.engines.ray import pool_size

    cluster = {"CPU": 16.0, "GPU": 2.0}
    assert pool_size(RayConfig(cpus_per_actor=4), cluster, 100) == 4
    assert pool_size(RayConfig(gpus_per_actor=0.5), cluster, 100) == 4
    assert pool_size(RayConfig(), cluster, 3) == 3  # never more actors than inputs
    assert pool_size(RayConfig(actors=2), cluster, 100) == 2
    with pytest.raises(ConfigError, match="not enough for one actor"):
        pool_size(RayConfig(gpus_per_actor=1), {"CPU": 8.0}, 10)


def test_rows_describe_inputs_and_survive_names_that_are_not_utf8(tmp_path: Path) -> None:
    from syncnet_eval.engines.ray import input_row, row_input
    from syncnet_eval.inputs import BatchInput

    item = BatchInput(
        path=tmp_path / "caf\udce9.mp4", audio_path=tmp_path / "a.wav", id="x", group="g"
    )
    row = input_row(5, item)
    json.dumps(row).encode("ascii")  # plain text: nothing but a description crosses to actors
    assert row["index"] == 5
    assert row_input(row["input"]) == item


def test_an_error_that_stops_the_run_crosses_processes_as_data() -> None:
    from syncnet_eval.engines.scorer import error_from_wire, error_to_wire
    from syncnet_eval.errors import ModelWeightsError, SyncEvalError

    wire = error_to_wire(ConfigError("device 'cuda' requested but CUDA is not available"))
    assert json.loads(json.dumps(wire)) == wire  # plain data, no pickled objects, no parsing
    err = error_from_wire(wire)
    assert type(err) is ConfigError
    assert str(err) == "device 'cuda' requested but CUDA is not available"
    assert type(error_from_wire(error_to_wire(ModelWeightsError("w")))) is ModelWeightsError
    assert type(error_from_wire({"error": "ValueError", "message": "x"})) is SyncEvalError


def test_cuda_without_gpus_per_actor_is_one_line_before_ray_starts(
    batch_clips: list[Path], syncnet_parity_weights: Path
) -> None:
    pytest.importorskip("ray")
    result = invoke_cli(_ray_args(syncnet_parity_weights, batch_clips[0], "--device", "cuda"))
    assert result.exit_code == 2  # contradicting options: bad usage, before Ray starts
    assert "needs --gpus-per-actor" in result.output.strip().splitlines()[-1], result.output


@pytest.mark.slow  # starts its own Ray runtime in a process of its own
def test_a_healthy_run_says_only_the_packages_own_lines(
    batch_clips: list[Path], syncnet_parity_weights: Path
) -> None:
    """What a user sees on stderr: no line of Ray's C++ core (it writes to file descriptor 2
    itself, e.g. core_worker.cc on actors with max_restarts > 0), no colour codes."""
    pytest.importorskip("ray")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update({**LOOPBACK_ENV, "PYTHONPATH": str(ROOT)})
    cmd = [sys.executable, "-m", "syncnet_eval", *_ray_args(syncnet_parity_weights, batch_clips[0])]
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    stderr = done.stderr.decode(errors="replace")
    assert "\x1b[" not in stderr
    assert not re.search(r"\.cc:\d+:", stderr), stderr
    assert "ok" in done.stdout.decode()
