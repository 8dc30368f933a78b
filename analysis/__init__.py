"""Loading results, plots, reports and mechanism comparisons; also the CLI."""
