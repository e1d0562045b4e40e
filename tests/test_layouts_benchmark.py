"""The layouts benchmark's quick mode runs on all three layouts with tiny N."""

from __future__ import annotations

from benchmarks import layouts
from tests.support.rabbitmq import needs_rabbitmq
from tests.support.redis_cluster import needs_cluster


@needs_cluster
@needs_rabbitmq
def test_quick_layouts_measure_every_layout() -> None:
    (table,) = layouts.run(quick=True, jobs=10)
    assert [row["layout"] for row in table.rows] == [name for name, _ in layouts.LAYOUTS]
    for row in table.rows:
        assert row["jobs_per_s"] > 0
        assert row["store_calls_per_step"] > 0
        assert row["busiest_cpu_usec_per_step"] > 0
        assert 0 < row["primary_calls_per_step"] <= row["store_calls_per_step"]
    one, cluster = table.rows[0], table.rows[1]
    assert one["primary_calls_per_step"] == one["store_calls_per_step"]  # no replicas
    assert cluster["primary_calls_per_step"] < cluster["store_calls_per_step"]  # replicas replay
    assert table.rows[1]["broker_calls_per_step"] > 0
