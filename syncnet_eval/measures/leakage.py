"""How a clip was generated, for the leakage protocol (:mod:`syncnet_eval.leakage`): the
registry entry of the manifest's ``condition``, ``pair_id`` and ``identity_reference`` columns.

These are labels, not numbers: the run driver stamps them on each record from its manifest row
(as it stamps ``id`` and ``group``), so they reach JSON, CSV, Parquet and the readers like every
measure field. The protocol's numbers (Silent LSE-C/LSE-D, LSD-CR, LSD-AR) are statistics over
many records, computed in the summary (``stats.GroupSummary.leakage``).
"""

from __future__ import annotations

from . import Field, MeasureSpec

SPEC = MeasureSpec(
    name="leakage",
    help="how the clip was generated (matched, mismatched or silent driving audio; the source "
    "it shares with its pair; the identity reference): the labels the leakage protocol's "
    "Silent LSE-C/LSE-D and LSD-CR/LSD-AR are computed over",
    definition="Yaman et al., 'Assessing Identity Leakage in Talking Face Generation: Metrics "
    "and Evaluation Framework', arXiv 2511.08613: test setups Silent-Input, Audio-Matched, "
    "Audio-Mismatched; identity reference Current or Alternative (docs/leakage.md)",
    level="video",
    fields=(
        Field("condition", "text", "generation condition", may_enter_mean=False),
        Field("pair_id", "text", "generation pair", may_enter_mean=False),
        Field("identity_reference", "text", "identity reference", may_enter_mean=False),
    ),
    needs=frozenset(),
    compute=".leakage:generation_labels",
)
