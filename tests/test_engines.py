"""The run driver and its executors: the same records and the same log semantics (resume,
``--retry-failed``, the time-limit rule, latest record counts) whichever executor scores."""

from __future__ import annotations

import json
import logging
from pathlib import Path
import re
import shutil
from typing import Any

import pytest

from syncnet_eval import ScoreConfig
from syncnet_eval.engines import EXECUTORS, create_executor
from syncnet_eval.engines.plan import BatchConfig, LocalOptions, RunConfig, RunHooks, RunOutputs
from syncnet_eval.engines.records import latest_records
from syncnet_eval.engines.run import run_inputs
from syncnet_eval.errors import ConfigError
from syncnet_eval.inputs import BatchInput
from syncnet_eval.io import read_jsonl

from conftest import assert_same_records, invoke_cli

ROOT = Path(__file__).resolve().parents[1]
QUIET = RunHooks(download_progress=False)


@pytest.fixture(scope="module")
def three_inputs(tmp_path_factory: pytest.TempPathFactory, batch_clips: list[Path]) -> list[Path]:
    """Two good clips and an empty file (a decode_error, which --retry-failed retries)."""
    directory = tmp_path_factory.mktemp("engine_inputs")
    good = [
        Path(shutil.copy2(clip, directory / f"good{i}{clip.suffix}"))
        for i, clip in enumerate(batch_clips[:2])
    ]
    empty = directory / "empty.mp4"
    empty.write_bytes(b"")
    return [*good, empty]


def _config(weights: Path) -> BatchConfig:
    return BatchConfig(
        recipe="direct",
        score_config=ScoreConfig(device="cpu"),
        syncnet_weights=weights,
        offline=True,
    )


@pytest.fixture(scope="module")
def reference(three_inputs: list[Path], syncnet_parity_weights: Path) -> list[dict[str, Any]]:
    """The records of a plain in-process run, without any log."""
    items = [BatchInput(p, id=p.name) for p in three_inputs]
    outcome = run_inputs(items, _config(syncnet_parity_weights), hooks=QUIET)
    return [r.to_dict() for r in outcome.records]


@pytest.fixture(scope="module")
def cluster_runtime() -> Any:
    """A 2-CPU runtime on loopback for the cluster executor (started only when it is tested)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            logging_level=logging.ERROR,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
        )
    yield ray
    ray.shutdown()


def _executor(name: str, request: pytest.FixtureRequest) -> Any:
    if name == "local":
        return create_executor(name)
    request.getfixturevalue("cluster_runtime")
    options = EXECUTORS[name].options_class()
    assert options is not None
    return create_executor(name, options(actors=1))


def _by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(r["path"]).name: r for r in records}


@pytest.mark.slow  # real scoring, three runs per executor (a cluster runtime for one)
@pytest.mark.parametrize("name", list(EXECUTORS))
def test_every_executor_gives_the_same_records_and_log_semantics(
    name: str,
    request: pytest.FixtureRequest,
    three_inputs: list[Path],
    reference: list[dict[str, Any]],
    syncnet_parity_weights: Path,
    tmp_path: Path,
) -> None:
    executor = _executor(name, request)
    config = _config(syncnet_parity_weights)
    items = [BatchInput(p, id=p.name) for p in three_inputs]
    log_path = tmp_path / "run.jsonl"
    out = RunOutputs(log_path)

    def run(run_config: RunConfig) -> Any:
        return run_inputs(items, config, run_config, executor=executor, outputs=out, hooks=QUIET)

    # 1. Same records as the reference, in input order; the log has each input once.
    first = run(RunConfig())
    assert_same_records(
        [r.to_dict() for r in first.records], reference, ignore=("timings_s", "from_log")
    )
    assert sorted(r["id"] for r in read_jsonl(log_path)) == sorted(p.name for p in three_inputs)

    # 2. A rerun reuses every record (the failure too) and scores nothing.
    again = run(RunConfig())
    assert again.num_resumed == 3 and all(r.resumed for r in again.records)
    assert len(read_jsonl(log_path)) == 3

    # 3. The latest record counts: a timeout appended for good0 (under a 5 s limit) makes a run
    #    without a larger limit score good0 again, and only good0.
    good0 = _by_name(read_jsonl(log_path))["good0.mp4"]
    failed = {"status": "error", "reason_code": "timeout", "av_offset": None, "lse_d": None}
    timed_out = {**good0, **failed, "lse_c": None, "tracks": [], "provenance": {"timeout_s": 5}}
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(timed_out) + "\n")
    third = run(RunConfig())
    assert third.num_resumed == 2
    assert {Path(r.result.path).name for r in third.records if not r.resumed} == {"good0.mp4"}
    latest = _by_name(latest_records(read_jsonl(log_path)))
    assert latest["good0.mp4"]["status"] == "ok" and len(latest) == 3

    # 4. --retry-failed rewrites the log without its failures, then scores those inputs again:
    #    afterwards every input has exactly one record of its latest outcome's status.
    fourth = run(RunConfig(retry_failed=True))
    assert fourth.num_resumed == 2
    assert [Path(r.result.path).name for r in fourth.records if not r.resumed] == ["empty.mp4"]
    logged = read_jsonl(log_path)
    failures = [r for r in logged if r["status"] != "ok"]
    assert [Path(r["path"]).name for r in failures] == ["empty.mp4"]
    assert [r.result.status for r in fourth.records] == [r["status"] for r in reference]


def test_a_run_stopped_by_ctrl_c_says_what_is_kept_and_how_to_resume(
    three_inputs: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [BatchInput(p, id=p.name) for p in three_inputs]
    log_path = tmp_path / "run.jsonl"

    def stop(event: Any) -> None:
        raise KeyboardInterrupt

    with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
        run_inputs(
            items,
            _config(syncnet_parity_weights),
            outputs=RunOutputs(log_path),
            hooks=RunHooks(on_record=stop, download_progress=False),
        )
    assert len(read_jsonl(log_path)) == 1
    said = [r.getMessage() for r in caplog.records if "stopped" in r.getMessage()]
    assert said == [
        f"stopped: 1 of 3 inputs are recorded in {log_path}; run the same command again to "
        "resume (the rest are scored then)"
    ]


def test_a_missing_input_is_reported_before_any_weights_are_looked_for(
    tmp_path: Path,
) -> None:
    empty_cache = tmp_path / "cache"
    empty_cache.mkdir()
    env = {
        "SYNCNET_EVAL_WEIGHTS": str(empty_cache),
        "XDG_CACHE_HOME": str(empty_cache),
        "HOME": str(tmp_path),
    }
    result = invoke_cli(["score", str(tmp_path / "typo.mp4"), "--offline"], env=env)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {tmp_path / 'typo.mp4'}: file not found"]
    assert "s3fd" not in result.output.lower() and "weights" not in result.output.lower()


def test_the_unofficial_weights_notice_is_said_once_per_command_in_one_wording(
    batch_clips: list[Path], syncnet_parity_weights: Path, tmp_path: Path
) -> None:
    weights = ["--syncnet-weights", str(syncnet_parity_weights), "--recipe", "direct"]
    score = invoke_cli(["score", *map(str, batch_clips[:2]), *weights])
    fix = invoke_cli(
        ["fix", str(batch_clips[0]), "-o", str(tmp_path / "f.mp4"), *weights, "--tolerance", "30"]
    )  # measures twice
    notices = []
    for result in (score, fix):
        lines = [line for line in result.stderr.splitlines() if "is not the official" in line]
        assert len(lines) == 1, result.stderr
        notices.append(lines[0])
    assert notices[0] == notices[1]
    assert notices[0].startswith(
        f"WARNING: {syncnet_parity_weights} is not the official syncnet_v2.model"
    )


def test_no_module_outside_its_executor_and_the_registry_names_the_cluster_engine() -> None:
    package = ROOT / "syncnet_eval"
    allowed = {package / "engines" / "ray.py", package / "engines" / "__init__.py"}
    word = re.compile(r"\bray\b", re.IGNORECASE)
    offenders = [
        str(p.relative_to(ROOT))
        for p in package.rglob("*.py")
        if p not in allowed and word.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_log_reader_and_resume_take_the_same_latest_record(tmp_path: Path) -> None:
    from syncnet_eval.engines.records import RecordIndex
    from syncnet_eval.io import load_records
    from syncnet_eval.types import VideoResult

    def record(name: str, status: str) -> dict[str, Any]:
        result = VideoResult.failure(f"/v/{name}", "direct", "error", "x")
        if status == "ok":
            result = VideoResult.from_dict({**result.to_dict(), "status": "ok", "reason": None})
        ident = {"path": f"/v/{name}", "size": 1, "mtime_ns": 2}
        return {**result.to_dict(), "id": name, "input_identity": ident, "config_hash": "h"}

    logged = [record("a", "error"), record("b", "ok"), record("a", "ok")]
    log_path = tmp_path / "run.jsonl"
    log_path.write_text("".join(json.dumps(r) + "\n" for r in logged), encoding="utf-8")
    read = {r["id"]: r["status"] for r in load_records(log_path)}
    assert read == {"a": "ok", "b": "ok"}
    index = RecordIndex()
    for offset, rec in enumerate(logged):
        index.add(rec, "log", offset)
    found = index.find(logged[0]["input_identity"], "a", "h", timeout_s=None, retry_failed=False)
    assert found is not None and found.record["status"] == "ok" and found.position == 2
    changed = {**logged[0]["input_identity"], "size": 9}  # the file changed since: score it
    assert index.find(changed, "a", "h", timeout_s=None, retry_failed=False) is None
    assert (
        index.find(logged[0]["input_identity"], "a", "other", timeout_s=None, retry_failed=False)
        is None
    )


# -- each decision made once ------------------------------------------------------------------


class _CountingRegistry(dict):  # type: ignore[type-arg]
    """A recipe registry that counts the look-ups of each name."""

    lookups = 0

    def __getitem__(self, name: str) -> Any:
        type(self).lookups += 1
        return super().__getitem__(name)


def test_the_recipe_is_looked_up_once_for_a_whole_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The name is resolved to its spec when the configuration is made; the driver, the
    scorer and the pipeline take the spec (three inputs, in this process)."""
    import syncnet_eval.recipes as recipes

    from signal_media import write_signal_clip

    clips = []
    for k in range(3):
        write_signal_clip(tmp_path / f"s{k}.mkv", num_frames=40, seed=k)
        clips.append(BatchInput(tmp_path / f"s{k}.mkv"))
    monkeypatch.setattr(recipes, "REGISTRY", _CountingRegistry(recipes.REGISTRY))
    config = BatchConfig("direct", ScoreConfig(device="cpu"), embedder="signal")
    outcome = run_inputs(clips, config, hooks=QUIET)
    assert [r.status for r in outcome.results] == ["ok"] * 3
    assert _CountingRegistry.lookups == 1


def test_the_driver_takes_its_progress_and_log_callbacks_as_one_hooks_object(
    tmp_path: Path,
) -> None:
    import inspect

    from signal_media import write_signal_clip

    keywords = set(inspect.signature(run_inputs).parameters)
    assert keywords == {"inputs", "config", "run", "executor", "outputs", "hooks"}
    write_signal_clip(tmp_path / "s.mkv", num_frames=40)
    started: list[tuple[int, int]] = []
    events: list[int] = []
    hooks = RunHooks(
        on_start=lambda n, r: started.append((n, r)),
        on_record=lambda e: events.append(e.index),
        download_progress=False,
    )
    config = BatchConfig("direct", ScoreConfig(device="cpu"), embedder="signal")
    run_inputs(
        [BatchInput(tmp_path / "s.mkv"), BatchInput(tmp_path / "nope.mkv")], config, hooks=hooks
    )
    assert started == [(2, 0)] and sorted(events) == [0, 1]


def test_the_streams_rule_is_written_once() -> None:
    """``--streams`` with ``--workers``/``--timeout`` is refused by the local executor alone."""
    sources = [p.read_text() for p in (ROOT / "syncnet_eval").rglob("*.py")]
    assert sum(s.count("--streams scores in this process") for s in sources) == 1
    two = create_executor("local", LocalOptions(workers=2))
    with pytest.raises(ConfigError, match="--streams scores in this process"):
        two.check(BatchConfig(), RunConfig(streams=2))


def test_workers_and_timeout_are_the_local_executors_own_options() -> None:
    """``--workers``/``--timeout`` are ``LocalOptions`` (the registry names the class, whose
    module is light), valid only with ``--engine local``; ``RunConfig`` has no such fields."""
    import dataclasses

    assert EXECUTORS["local"].options_class() is LocalOptions
    assert {f.name for f in dataclasses.fields(LocalOptions)} == {"workers", "timeout_s"}
    assert not {"workers", "timeout_s"} & {f.name for f in dataclasses.fields(RunConfig)}
    result = invoke_cli(["score", "x.mp4", "--engine", "ray", "--timeout", "5"])
    assert result.exit_code == 2 and "--timeout: only with --engine local" in result.output
    assert create_executor("local", LocalOptions(timeout_s=5)).timeout_s == 5


class _NoProcess:
    """A worker process that is not there (what ``_Worker.kill`` needs of one)."""

    pid = None

    def kill(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


def test_a_record_that_arrived_by_the_deadline_is_not_a_timeout(tmp_path: Path) -> None:
    """On a loaded machine the pool wakes after a deadline with the worker's record already
    waiting in its pipe: that input finished, it is not recorded as timed out."""
    import multiprocessing

    from syncnet_eval.engines import local
    from syncnet_eval.types import VideoResult

    pool = local._Pool(_config(tmp_path / "unused.model"), None, 1, 0.5, None)  # type: ignore[arg-type]
    parent, child = multiprocessing.Pipe(duplex=True)
    worker = local._Worker.__new__(local._Worker)
    worker.conn, worker.proc, worker.workdir = parent, _NoProcess(), str(tmp_path / "w")
    worker.ready, worker.task, worker.deadline = True, (3, BatchInput(tmp_path / "v.mp4")), 0.0
    pool.workers.append(worker)
    scored = VideoResult.failure(str(tmp_path / "v.mp4"), "direct", "no_face", "no face")
    child.send({"kind": "result", "index": 3, "result": scored.to_dict()})
    got = list(pool._expire())
    assert [(i, r.status, r.reason_code) for i, r in got] == [(3, "no_face", scored.reason_code)]
    assert pool.workers == [worker] and worker.task is None  # kept: it is idle, not killed


# A fault no stage words, planted where every path scores through: SyncPipeline.evaluate.
_PLANTED = """
import syncnet_eval.pipeline as _pipeline


def _planted(result):
    raise ZeroDivisionError("planted fault")


_pipeline._refuse_non_finite = _planted
"""


@pytest.mark.parametrize("path", ["evaluate", "score_one", "in_process", "workers"])
def test_an_unexpected_error_is_recorded_with_its_reason_code_on_every_path(
    path: str,
    batch_clips: list[Path],
    syncnet_parity_weights: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from syncnet_eval.engines.run import score_one
    import syncnet_eval.pipeline as pipeline_module
    from syncnet_eval.pipeline import SyncPipeline

    def planted(result: Any) -> Any:
        raise ZeroDivisionError("planted fault")

    monkeypatch.setattr(pipeline_module, "_refuse_non_finite", planted)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_PLANTED, encoding="utf-8")  # worker processes
    monkeypatch.setenv("PYTHONPATH", f"{hook}:{ROOT}")
    clip = batch_clips[0]
    config = _config(syncnet_parity_weights)
    if path == "evaluate":
        pipe = SyncPipeline(ScoreConfig(device="cpu"), syncnet_weights=syncnet_parity_weights)
        records = [pipe.evaluate(clip, "direct").to_dict()]
    elif path == "score_one":
        records = [score_one(BatchInput(clip), config, hooks=QUIET).to_dict()]
    else:
        workers = 2 if path == "workers" else 1
        executor = create_executor("local", LocalOptions(workers=workers))
        items = [BatchInput(clip, id="a"), BatchInput(batch_clips[1], id="b")]
        outcome = run_inputs(items, config, executor=executor, hooks=QUIET)
        records = [r.to_dict() for r in outcome.records]
    for rec in records:
        assert (rec["status"], rec["reason_code"]) == ("error", "unexpected"), rec
        assert "ZeroDivisionError: planted fault" in rec["reason"]


def test_the_up_front_checks_are_made_in_one_place() -> None:
    """The driver and ``score`` both call ``engines.run.check_run``; nobody repeats its parts."""
    from syncnet_eval.engines.run import check_run

    # Each check as a statement of its own (``pq = require_pyarrow()`` uses pyarrow).
    calls = re.compile(r"^\s*(check_outputs|executor\.check|require_pyarrow)\(", re.M)
    callers = {
        p.relative_to(ROOT).as_posix(): len(calls.findall(p.read_text()))
        for p in (ROOT / "syncnet_eval").rglob("*.py")
    }
    assert {k: v for k, v in callers.items() if v} == {"syncnet_eval/engines/run.py": 3}
    with pytest.raises(ConfigError, match="--resume needs earlier records"):
        check_run(BatchConfig(), RunConfig(resume=True), RunOutputs(), create_executor("local"))
