"""What an evaluation says of its failed items, and how it batches translation lines."""

from __future__ import annotations

import pytest

from orchestrator.errors import EvaluationFailed
from orchestrator.eval.runs import Failures, describe_over, even_batches, scored


def test_failures_keep_the_first_error_of_each_kind_with_a_count() -> None:
    failures = Failures()
    failures.add("the query 'of the' has no searchable words")
    failures.add("Apertium took over 21 s for 40 segments (9,000 bytes) and was stopped", 40)
    failures.add("the query 'is it' has no searchable words")
    failures.add("Apertium took over 23 s for 38 segments (8,100 bytes) and was stopped", 38)
    assert failures.count == 80
    assert failures.reasons() == [
        {
            "count": 78,
            "error": "Apertium took over 21 s for 40 segments (9,000 bytes) and was stopped",
        },
        {"count": 2, "error": "the query 'of the' has no searchable words"},
    ]
    assert failures.summary().startswith("(78) Apertium took over 21 s")


def test_failures_refuse_an_evaluation_where_nothing_succeeded() -> None:
    failures = Failures()
    failures.add("no model", 2)
    failures.require_some(3, "lines")  # one succeeded: measured
    failures.add("no model")
    with pytest.raises(EvaluationFailed, match=r"all 3 lines failed.*: \(3\) no model"):
        failures.require_some(3, "lines")


def test_metrics_are_over_every_item_or_the_succeeded_ones() -> None:
    assert scored([1.0, 0.0, 0.5], [True, False, True], "all") == [1.0, 0.0, 0.5]
    assert scored([1.0, 0.0, 0.5], [True, False, True], "succeeded") == [1.0, 0.5]
    assert describe_over(3, 0, "succeeded") == "all 3 items"
    assert describe_over(3, 1, "all") == (
        "all 3 items, the 1 that failed counting as empty answers (zero)"
    )
    assert describe_over(3, 1, "succeeded") == "the 2 items that succeeded (1 failed, left out)"


@pytest.mark.parametrize("count", [1, 7, 300, 1000])
def test_translation_lines_go_in_even_batches_of_about_the_size_asked(count: int) -> None:
    lines = [f"Line {i} says something of {'some ' * (i % 40)}length." for i in range(count)]
    batches = even_batches(lines, 2000)
    assert [line for batch in batches for line in batch] == lines
    sizes = [sum(map(len, batch)) for batch in batches]
    total = sum(sizes)
    assert len(batches) == max(1, -(-total // 2000))  # as few as the size allows
    assert max(sizes) - min(sizes) <= 2 * max(map(len, lines))  # about the same size


def test_a_line_longer_than_a_batch_goes_alone() -> None:
    assert even_batches(["short", "x" * 100, "tail"], 20) == [["short"], ["x" * 100], ["tail"]]
    assert even_batches([], 20) == []
