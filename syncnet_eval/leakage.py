"""The leakage protocol: does a generator copy the identity reference's lips instead of
following the audio? (Yaman et al., "Assessing Identity Leakage in Talking Face Generation:
Metrics and Evaluation Framework", arXiv 2511.08613; docs/leakage.md.)

A manifest says how each clip was generated (the ``leakage`` measure's labels,
``measures/leakage.py``): ``condition`` is ``matched`` (driven by the source video's own audio:
the paper's Audio-Matched setup), ``mismatched`` (driven by another video's audio:
Audio-Mismatched) or ``silent`` (driven by silence: Silent-Input); ``pair_id`` ties the clips
generated from one source video; ``identity_reference`` is ``current`` or ``alternative``
(which frames the generator was given as its identity reference).

From the scored records (those in the means: :meth:`syncnet_eval.rules.Rules.admits`) this
module draws the samples the summary turns into means with bootstrap intervals:

- ``silent_lse_c`` / ``silent_lse_d``: LSE-C / LSE-D of each ``silent`` clip, scored against
  the audio its row names (the source's own speech: a manifest ``audio`` column). A generator
  that follows the audio keeps the mouth still when driven by silence, so these are LSE-C near
  that of unrelated audio and a high LSE-D; one that copies the reference's lips keeps them in
  sync with the source's speech (a high Silent LSE-C, a low Silent LSE-D).
- ``lsd_cr`` / ``lsd_ar``: the lip-sync discrepancy of each pair, ``LSE-C(matched) -
  LSE-C(mismatched)``, over the pairs whose identity reference is ``current`` / ``alternative``.
  A generator that follows the audio syncs as well to another video's audio as to the
  source's (LSD near 0); one that copies the reference's lips is in sync only when the audio
  is the source's own (LSD > 0). ``lsd_cr_d`` / ``lsd_ar_d``: the same on LSE-D,
  ``LSE-D(mismatched) - LSE-D(matched)`` (also > 0 for leakage).

Where several clips of one pair share a condition (several mismatched audios), the pair's
value of that condition is their mean. Choices the paper leaves open are in
:data:`LEAKAGE_CHOICES`, written into every summary that has these numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .measures import VideoInputs

if TYPE_CHECKING:
    from .types import VideoResult

__all__ = [
    "CONDITIONS",
    "DEFAULT_IDENTITY_REFERENCE",
    "IDENTITY_REFERENCES",
    "LEAKAGE_CHOICES",
    "LEAKAGE_STATISTICS",
    "LeakageSamples",
    "generation_labels",
    "labels_problem",
    "has_conditions",
    "leakage_samples",
]

CONDITIONS = ("matched", "mismatched", "silent")
IDENTITY_REFERENCES = ("current", "alternative")
DEFAULT_IDENTITY_REFERENCE = "current"  # a pair without the column (our choice)
_SUFFIX = {"current": "cr", "alternative": "ar"}

# name -> (label, which direction means leakage); every statistic is a mean with its interval.
LEAKAGE_STATISTICS: dict[str, tuple[str, str]] = {
    "silent_lse_c": ("Silent LSE-C", "higher"),
    "silent_lse_d": ("Silent LSE-D", "lower"),
    "lsd_cr": ("LSD-CR (LSE-C)", "higher"),
    "lsd_ar": ("LSD-AR (LSE-C)", "higher"),
    "lsd_cr_d": ("LSD-CR (LSE-D)", "higher"),
    "lsd_ar_d": ("LSD-AR (LSE-D)", "higher"),
}

LEAKAGE_CHOICES: dict[str, str] = {
    "source": "Yaman et al., arXiv 2511.08613 (setups SI, AM, XM; references Current, "
    "Alternative; metrics Silent LSE-C, Silent LSE-D, LSD-CR, LSD-AR)",
    "silent_scored_against": "the audio the manifest row names (the source's own speech); "
    "the silent driving audio itself has no speech to be in sync with",
    "lsd": "per pair: LSE-C(matched) - LSE-C(mismatched); the _d variants: "
    "LSE-D(mismatched) - LSE-D(matched); positive = leakage",
    "several_clips_per_condition": "their mean within the pair",
    "missing_identity_reference": f"counted as {DEFAULT_IDENTITY_REFERENCE!r}",
    "records": "those in the means (ok, finite, unflagged unless include_flagged)",
    "interval": "percentile bootstrap of the mean over clips (silent) or pairs (LSD)",
    "silence_detector": "not used: Silent LSE is over the whole silent-input clip",
}


def generation_labels(inputs: VideoInputs) -> dict[str, Any]:
    """The ``leakage`` measure's values: the labels of ``inputs.options`` (the manifest row's
    ``condition``, ``pair_id``, ``identity_reference``) that are set."""
    names = ("condition", "pair_id", "identity_reference")
    return {n: inputs.options[n] for n in names if inputs.options.get(n)}


@dataclass(frozen=True)
class LeakageSamples:
    """What the leakage statistics are computed over, in one group of records.

    Attributes:
        values: statistic name (:data:`LEAKAGE_STATISTICS`) -> its samples (one per silent
            clip, or one per complete pair).
        pairs: complete pairs (a matched and a mismatched clip in the means) per identity
            reference.
        unpaired: ``pair_id`` s (``pair_id/reference``) lacking a matched or mismatched clip
            in the means.
    """

    values: dict[str, list[float]] = field(default_factory=dict)
    pairs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(IDENTITY_REFERENCES, 0))
    unpaired: list[str] = field(default_factory=list)


def _label(result: VideoResult, name: str) -> str | None:
    value = result.measures.get(name)
    return str(value) if value not in (None, "") else None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def has_conditions(results: Sequence[VideoResult]) -> bool:
    """Whether any record says how it was generated (a manifest ``condition``)."""
    return any(_label(r, "condition") for r in results)


def leakage_samples(admitted: Sequence[VideoResult]) -> LeakageSamples | None:
    """The leakage samples of ``admitted`` (records in the means with SyncNet numbers), or
    ``None`` when no record has a ``condition``."""
    labelled = [r for r in admitted if _label(r, "condition")]
    if not labelled:
        return None
    values: dict[str, list[float]] = {name: [] for name in LEAKAGE_STATISTICS}
    by_pair: dict[tuple[str, str], dict[str, list[VideoResult]]] = {}
    for r in labelled:
        condition = _label(r, "condition")
        if condition == "silent":
            values["silent_lse_c"].append(float(r.lse_c))  # type: ignore[arg-type]
            values["silent_lse_d"].append(float(r.lse_d))  # type: ignore[arg-type]
            continue
        pair = _label(r, "pair_id")
        if pair is None or condition not in ("matched", "mismatched"):
            continue
        reference = _label(r, "identity_reference") or DEFAULT_IDENTITY_REFERENCE
        by_pair.setdefault((pair, reference), {}).setdefault(condition, []).append(r)
    pairs = {ref: 0 for ref in IDENTITY_REFERENCES}
    unpaired = []
    for (pair, reference), clips in sorted(by_pair.items()):
        matched, mismatched = clips.get("matched"), clips.get("mismatched")
        if not matched or not mismatched or reference not in _SUFFIX:
            unpaired.append(f"{pair}/{reference}")
            continue
        suffix = _SUFFIX[reference]
        pairs[reference] += 1
        lse_c = _mean([float(r.lse_c) for r in matched]) - _mean(  # type: ignore[arg-type]
            [float(r.lse_c) for r in mismatched]  # type: ignore[arg-type]
        )
        lse_d = _mean([float(r.lse_d) for r in mismatched]) - _mean(  # type: ignore[arg-type]
            [float(r.lse_d) for r in matched]  # type: ignore[arg-type]
        )
        values[f"lsd_{suffix}"].append(lse_c)
        values[f"lsd_{suffix}_d"].append(lse_d)
    return LeakageSamples(values, pairs, unpaired)


def labels_problem(row: Mapping[str, str]) -> str | None:
    """Why a manifest row's leakage labels are not accepted (``None``: they are)."""
    condition = row.get("condition") or None
    if condition is not None and condition not in CONDITIONS:
        return f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}"
    reference = row.get("identity_reference") or None
    if reference is not None and reference not in IDENTITY_REFERENCES:
        return (
            f"unknown identity_reference {reference!r}; choose one of "
            f"{', '.join(IDENTITY_REFERENCES)}"
        )
    if condition in ("matched", "mismatched") and not row.get("pair_id"):
        return f"a {condition} clip needs a pair_id (the clips generated from one source)"
    return None
