"""rules: one table of per-video rules that ``check`` and ``filter`` share."""

from __future__ import annotations

from dataclasses import fields
import itertools
from pathlib import Path
import subprocess
import sys
from typing import Any

import click
import pytest

from syncnet_eval.checks import Thresholds, run_checks
from syncnet_eval.cli import cli
from syncnet_eval.config import option_of
from syncnet_eval.errors import ConfigError
from syncnet_eval.filtering import filter_records
from syncnet_eval.io import write_results
from syncnet_eval.rules import Rules
from syncnet_eval.types import TrackResult, VideoResult

from conftest import invoke_cli


def _options(command: str) -> dict[str, click.Option]:
    cmd = cli.commands[command]
    return {p.name: p for p in cmd.params if isinstance(p, click.Option) and p.name}


def test_every_rule_is_the_same_option_of_check_and_filter() -> None:
    check, filter_ = _options("check"), _options("filter")
    for f in fields(Rules):
        spec = option_of(Rules, f.name)
        flag = "--" + f.name.replace("_", "-")
        for options in (check, filter_):
            assert f.name in options, f"{f.name} is not an option of both commands"
            option = options[f.name]
            assert flag in option.opts and set(spec.aliases) <= set(option.opts)
            assert option.help == spec.help
            # click keeps no default of its own for a repeatable option (--limit): empty.
            assert option.default == f.default or (option.multiple and f.default == ())
        assert check[f.name].type.to_info_dict() == filter_[f.name].type.to_info_dict()
    # check's run-level gates come from the same table.
    for f in fields(Thresholds):
        assert check[f.name].help == option_of(Thresholds, f.name).help
    # The old names still work.
    assert "--keep-flagged" in filter_["include_flagged"].opts
    assert "--include-flagged" in check["include_flagged"].opts


def test_bounds_come_from_the_table() -> None:
    with pytest.raises(ConfigError, match="min_windows"):
        Rules(min_windows=0)
    with pytest.raises(ConfigError, match="max_abs_offset"):
        Thresholds(max_abs_offset=-1.0)
    assert invoke_cli(["filter", "x.json", "-o", "k.csv", "--min-windows", "0"]).exit_code == 2


def _video(i: int, lse_c: float, lse_d: float, offset: int, windows: int, **kw: Any) -> VideoResult:
    track = TrackResult(
        index=0,
        first_frame=0,
        last_frame=windows + 4,
        av_offset=offset,
        lse_d=lse_d,
        lse_c=lse_c,
        num_windows=windows,
        dist_by_shift=[],
        framewise_conf=[],
    )
    return VideoResult(
        path=f"v{i}.mp4",
        status="ok",
        reason=None,
        recipe="direct",
        av_offset=offset,
        lse_d=lse_d,
        lse_c=lse_c,
        id=f"v{i}",
        selected_track=0,
        tracks=[track],
        **kw,
    )


VIDEOS = [
    _video(i, c, d, o, w)
    for i, (c, d, o, w) in enumerate(
        itertools.product([2.0, 3.0, 6.5], [6.0, 8.0, 9.5], [-7, 0, 6], [50, 100, 300])
    )
]
RULE_SETS = [
    Rules(min_lse_c=3.0),
    Rules(max_lse_d=8.0),
    Rules(max_abs_offset=6),
    Rules(min_windows=100),
    Rules(min_lse_c=3.0, max_lse_d=9.0, max_abs_offset=0, min_windows=60),
]


@pytest.mark.parametrize("rules", RULE_SETS)
def test_check_per_video_and_filter_judge_every_video_alike(rules: Rules) -> None:
    kept = {r["id"] for r in filter_records([v.to_dict() for v in VIDEOS], rules).kept}
    thresholds = Thresholds(
        **{f.name: getattr(rules, f.name) for f in fields(Rules)}, per_video=True
    )
    passed = {v.id for v in VIDEOS if run_checks([v], thresholds).passed}
    assert 0 < len(kept) < len(VIDEOS)  # the rule set splits the videos
    assert kept == passed


def test_flagged_videos_under_both_commands(tmp_path: Path) -> None:
    flagged = _video(0, 6.0, 7.0, 0, 300, flags=["few_windows"])
    path = tmp_path / "r.json"
    write_results(path, [flagged])
    args = ["--min-lse-c", "7"]
    # Let in, both judge it by the rule (LSE-C 6 < 7): check fails, filter rejects.
    check = invoke_cli(["check", str(path), "--per-video", "--include-flagged", *args])
    filt = invoke_cli(["filter", str(path), "-o", str(tmp_path / "k.csv"), "--keep-flagged", *args])
    assert check.exit_code == 1 and "0 kept, 1 rejected" in filt.output
    # Without it, filter rejects it for its flag and check leaves it out (no scored video).
    filt = invoke_cli(["filter", str(path), "-o", str(tmp_path / "k.csv")])
    assert "0 kept, 1 rejected" in filt.output and "flags" in filt.output
    left = invoke_cli(["check", str(path), "--per-video", *args])
    assert left.exit_code == 1 and "no scored videos" in left.stdout


def test_rules_module_is_light() -> None:
    code = (
        "import sys\nimport syncnet_eval.rules\n"
        "print([m for m in ('numpy', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
