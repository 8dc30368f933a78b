"""``docs/metrics.md``: every KPI of a run, generated from the KPI registry.

The definitions live where the numbers are computed (``sim.kpis``, ``sim.defenses``); this
module only lays them out, with the concepts they rest on, so the reference cannot drift
from the code (a test checks the committed file is fresh; ``make docs`` rewrites it).
"""

from __future__ import annotations

from ledgerlab.sim import kpis as K

INTRODUCTION = """\
# Metrics

Every column of a run's `timeseries.parquet` and every entry of its `summary.json`, with
its unit, what it is computed from, and when it is NaN. Generated from the KPI registry
(`sim/kpis.py`) by `make docs`; do not edit by hand. `ledgerlab metrics` prints the same
list in a terminal.

## How to read a column

* **Units** are in the name: `_tokens` (protocol tokens), `_usd` (US dollars), `_points`
  (data points), `_tx` (transactions); a name without a unit is a count of individuals, a
  fraction (0..1, shown as % in figures) or a rate said in its description.
* **Kind.** A *flow* moved during the epoch; with `collect.metrics_every_epochs` = N > 1 a
  row holds its sum over the N epochs, so column totals are the run's totals. A *stock* is
  the value at the row's epoch. A *fairness* column is measured on the fairness cadence
  (`attribution.ground_truth.every_epochs`) and at the last epoch, NaN in between.
* **Summary.** `summary.json` holds each KPI by its rule: *last* (the last row's value),
  *last valid* (the last non-NaN value), *total* (as `total_<name>`), *mean* (as
  `<name>_mean`).
* **NaN** means "undefined here", never zero: a ratio with nothing to divide by, a
  mechanism that is off, a fairness column between measurements. Each description says
  when.

## The yardstick: true value and fair rewards

The value of a contribution is what it adds to a clean model at the time it arrived,
judged on data no agent sees, never by the engine under test (`sim/fairness.py`):

* Each accepted batch is valued once, on arrival, by exact Shapley values of the
  **chance-centred kNN utility** u(S) = mean over clean validation points of
  (1/K)·Σ over the K nearest of (1[label = y] − 1/C), over what the batch adds to the
  training window that existed before it. A label right only by chance is worth 0 in
  expectation; u(∅) = 0.
* **Copies** (a point within the copy distance of any earlier point with the same label,
  anyone's, in the window or gone) are worth 0.
* With backdoor poisoners, the validation set includes **triggered probes** labelled with
  their true class, so backdoor points are worth less than nothing.
* An individual's value v is the sum of its points' values in the current training window;
  v⁺ = max(v, 0).
* **Fair rewards**: each epoch, the rewards actually paid are split over datanets by their
  reward pools and within each by v⁺. Fairness compares cumulative rewards r with
  cumulative fair rewards f.

## Headline definitions

* **Adversary reward share** = Σ_adv r / Σ r; **adversary fair share** = Σ_adv f / Σ f.
* **Excess share** = reward share − fair share, in [−1, 1]: how much of all rewards the
  adversaries took beyond their true value. Bounded and additive, so it ranks defences the
  right way round: a defence that pays adversaries less lowers it.
* **Overpayment** = rewards × excess share of the epoch (tokens; USD at the epoch's price):
  what adversaries were paid beyond their fair share. Signed, summed over epochs.
* **Adversary capture** = reward share ÷ fair share. NaN without adversaries, and NaN when
  the adversaries' fair share is under 1 %: a ratio whose denominator can vanish must not
  rank mechanisms. Use excess share and overpayment to compare.
* **Honest-only fairness** (`*_honest`): the rank statistics among honest contributors
  alone, so driving honest providers out cannot raise them.
* **Twins**: effects of an attack or a defence are differences from a counterfactual twin
  run (same scenario without the adversaries, or without the defences, same random
  streams, stepped in lockstep): `twin_*` columns and the differences named after what they
  measure. NaN when the run has no such twin (`counterfactuals`).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _summary_as(k: K.Kpi) -> str:
    return {
        "last": f"`{k.name}` (last)",
        "last_valid": f"`{k.name}` (last valid)",
        "total": f"`total_{k.name}`",
        "mean": f"`{k.name}_mean`",
        None: "—",
    }[k.summary]


def markdown_metrics() -> str:
    """The whole of ``docs/metrics.md``."""
    lines = [INTRODUCTION, "## Timeseries columns", ""]
    lines += ["| column | kind | in the summary as | what it measures |", "|---|---|---|---|"]
    for k in K.KPIS:
        lines.append(f"| `{k.name}` | {k.kind} | {_summary_as(k)} | {_cell(k.description)} |")
    lines += ["", "## Other summary entries", ""]
    lines += ["| entry | what it is |", "|---|---|"]
    for name, text in K.SUMMARY_EXTRAS.items():
        lines.append(f"| `{name}` | {_cell(text)} |")
    lines.append(
        "| defence entries (`defense_*`, `slashed_*`, `false_slash_rate`, "
        "`<defence>_precision`, `<defence>_recall`) | the whole run's total or rate of the "
        "defence column of the same name |"
    )
    return "\n".join(lines) + "\n"


def plain_metrics() -> str:
    """One line per KPI for a terminal: name, kind, description."""
    width = max(len(k.name) for k in K.KPIS)
    rows = [f"{k.name:<{width}}  {k.kind:<8}  {k.description}" for k in K.KPIS]
    rows += [f"{n:<{width}}  {'summary':<8}  {t}" for n, t in K.SUMMARY_EXTRAS.items()]
    return "\n".join(rows) + "\n"
