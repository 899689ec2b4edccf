"""The scenario generator's context is consistent with the true cause, as in the real world."""

from __future__ import annotations

from infrasight.synthetic.scenarios import generate_scenario


def test_shrinkage_is_always_on_young_concrete() -> None:
    # drying shrinkage starts on the record's first day: the element is young, typical or not
    ages = [
        generate_scenario("shrinkage", seed, days=10).observations.context.age_years
        for seed in range(200)
    ]
    assert all(a is not None and 0.1 <= a <= 3.0 for a in ages)
    # the atypical fifth is older than the typical (1-3 years), still not decades
    older = [a for a in ages if a is not None and a > 1.0]
    assert 0.1 * len(ages) <= len(older) <= 0.35 * len(ages)
