"""Loading results, plots, reports and mechanism comparisons; also the CLI.

``analysis.load(path)`` reads a run folder (or a folder of run folders) into tidy pandas
frames; ``analysis.kpi_table(summary)`` formats a run's headline KPIs.
"""

from ledgerlab.analysis.results import Results, kpi_table, load

__all__ = ["Results", "kpi_table", "load"]
