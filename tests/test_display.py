"""What the terminal shows: the results table (cli/display.py)."""

from __future__ import annotations

from dataclasses import replace

from syncnet_eval.cli.display import format_table
from syncnet_eval.presentation import OFFSET_SIGN
from syncnet_eval.types import VideoResult

from conftest import scored_result


def _two_tracks(path: str, short_selected: bool, **extra: object) -> VideoResult:
    """Two tracks; track 0 (selected, by best) has 40 windows when ``short_selected``."""
    r: VideoResult = scored_result(path, tracks=2, **extra)
    short, long_ = r.tracks
    if short_selected:
        short = replace(
            short,
            num_windows=40,
            framewise_conf=short.framewise_conf[:40],
            last_frame=short.first_frame + 44,
        )
    return replace(r, tracks=[short, long_])


def test_track_lines_follow_the_name_of_their_video() -> None:
    results = [_two_tracks("a.mp4", False), _two_tracks("b.mp4", False)]
    lines = format_table(results).splitlines()
    for name in ("a.mp4", "b.mp4"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{name}: 2 tracks"))
        assert "track 0" in lines[at + 1] and "track 1" in lines[at + 2]


def test_rows_sharing_a_path_show_their_ids() -> None:
    results = [scored_result("clip.mp4", id="take-1"), scored_result("clip.mp4", id="take-2")]
    rows = format_table(results).splitlines()
    assert rows[0].split()[:2] == ["file", "id"]
    assert rows[1] != rows[2]
    assert rows[1].split()[:2] == ["clip.mp4", "take-1"]
    assert rows[2].split()[:2] == ["clip.mp4", "take-2"]
    single = format_table([scored_result("clip.mp4", id="clip")]).splitlines()[0].split()
    assert "id" not in single  # paths tell the rows apart


def test_track_lines_show_windows_and_say_when_best_picked_a_short_track() -> None:
    r = _two_tracks("a.mp4", True)
    lines = format_table([r]).splitlines()
    selected = next(line for line in lines if "*track 0" in line)
    other = next(line for line in lines if " track 1 frames" in line)
    assert "40 windows" in selected and f"{r.tracks[1].num_windows} windows" in other
    note = "picked by LSE-C, which favours short tracks"
    assert note in selected and note not in other
    # The longest track selected, or another rule: nothing to say.
    assert note not in format_table([_two_tracks("a.mp4", False)])
    assert note not in format_table([replace(r, track_select="index:0")])


def test_the_table_says_the_offset_sign_in_the_one_way() -> None:
    assert OFFSET_SIGN in format_table([scored_result("a.mp4")])


def test_grouped_warnings_keep_the_numbers_the_files_share_and_hide_the_others() -> None:
    from syncnet_eval.cli.display import warning_lines

    said = [
        (f"v{i}.mp4", f"v{i}.mp4: audio ({2 + i}.048 s) and video (2.000 s) lengths differ")
        for i in range(4)
    ]
    said.append(("w.mp4", "w.mp4: decoder {odd} said 3"))
    lines = warning_lines(said)
    assert lines[0] == (
        "Warning: 4 inputs: audio (… s) and video (2.000 s) lengths differ "
        "(v0.mp4, v1.mp4, v2.mp4, and 1 more)"
    )
    assert lines[1:] == ["Warning: w.mp4: decoder {odd} said 3"]
