"""YAML scenarios shipped with ledgerlab and the schema that validates them.

``load(path)`` / ``loads(text)`` read a scenario safely and validate it into a frozen
:class:`Scenario`; every problem is reported at once in a :class:`ScenarioError`.
``apply_overrides`` changes fields by path (CLI ``--set``, ``mesa.batch_run`` keywords)
and ``to_yaml`` writes the resolved scenario back out.
"""

from ledgerlab.scenarios.loader import (
    Problem,
    ScenarioError,
    apply_overrides,
    format_path,
    load,
    loads,
    parse_set_option,
    to_yaml,
)
from ledgerlab.scenarios.schema import Scenario

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "format_path",
    "load",
    "loads",
    "parse_set_option",
    "to_yaml",
]
