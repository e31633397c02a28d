"""Command line: ``syncnet-eval score|check|compare|report|plot|visualise|speakers|owner|weights|
fix|filter|selftest|lmd|row``; the only package importing click.

One module per command group (:mod:`.score`, :mod:`.checks`, :mod:`.report`, :mod:`.weights`,
:mod:`.fix`, :mod:`.curate`, :mod:`.speakers`), registered on the group of :mod:`.app` here; a
new command is a new module and one ``add_command`` line.
"""

from __future__ import annotations

from .app import cli, main
from .checks import check, compare
from .curate import filter_results, selftest
from .fix import fix
from .lmd import lmd
from .report import plot, report, visualise
from .row import row
from .score import score
from .speakers import owner, speakers
from .weights import weights

__all__ = ["cli", "main"]

cli.add_command(score)
cli.add_command(check)
cli.add_command(compare)
cli.add_command(report)
cli.add_command(plot)
cli.add_command(visualise)
cli.add_command(speakers)
cli.add_command(weights)
cli.add_command(fix)
cli.add_command(filter_results)
cli.add_command(selftest)
cli.add_command(lmd)
cli.add_command(owner)
cli.add_command(row)
