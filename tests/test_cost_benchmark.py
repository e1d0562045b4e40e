"""The cost benchmark's quick mode runs end to end and its figures are what it says.

No figure is asserted beyond its sign and the keys' TTL: counts, not timings.
"""

from __future__ import annotations

from benchmarks import cost
from orchestrator.settings import Settings


def test_quick_cost_measures_commands_cpu_and_expiring_keys() -> None:
    (table,) = cost.run(quick=True)
    assert [row["case"] for row in table.rows] == [case for case, _, _ in cost.cases(cost.QUICK)]
    ttl = Settings.model_fields["result_ttl_seconds"].default
    for row in table.rows:
        assert row["calls_per_step"] > 0
        assert row["script_calls_per_step"] > 0
        assert row["usec_per_step"] > 0
        assert row["expiring_keys"] > 0
        assert 0 < row["ttl_max_s"] <= ttl
        assert row["key_bytes_per_step"] > 0
