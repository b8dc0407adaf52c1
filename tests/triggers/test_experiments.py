"""Variants and control groups: who gets what, by weight, always the same, independently."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.triggers.driver import Customer, rules
from triggers.notices import Entered
from triggers.scenarios.experiments import Assignment, Experiment, draw

CUSTOMERS = [f"C{i}" for i in range(100_000)]
CHAIN = [
    {"id": "d1", "after": 0, "template": {"a": "t_a", "b": "t_b", "c": "t_c"}},
    {"id": "d2", "after": "1d", "template": {"a": "t_a2", "b": "t_b2", "c": "t_c2"}},
]
VARIANTS = [{"id": "a", "weight": 50}, {"id": "b", "weight": 30}, {"id": "c", "weight": 20}]


def experiment(control: float = 0.0, global_control: float = 0.0) -> Experiment:
    made = Experiment.of("promo", [("a", 50), ("b", 30), ("c", 20)], control, global_control)
    assert made is not None
    return made


def test_variants_follow_their_weights_over_100k_customers() -> None:
    counts = Counter(experiment().assign(c).variant for c in CUSTOMERS)
    for variant, share in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        assert counts[variant] / len(CUSTOMERS) == pytest.approx(share, abs=0.006)


def test_the_control_group_is_its_percent_and_independent_of_the_variant() -> None:
    assigned = [experiment(control=10).assign(c) for c in CUSTOMERS]
    control = [a for a in assigned if a.control]
    assert len(control) / len(CUSTOMERS) == pytest.approx(0.10, abs=0.004)
    # independent: the control group is 10 % of every variant, the variants keep their
    # weights inside the control group
    for variant, share in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        of_variant = [a for a in assigned if a.variant == variant]
        assert sum(a.control for a in of_variant) / len(of_variant) == pytest.approx(0.10, abs=0.01)
        in_control = sum(a.variant == variant for a in control) / len(control)
        assert in_control == pytest.approx(share, abs=0.02)


def test_draws_are_fixed_by_scenario_and_customer_and_differ_between_scenarios() -> None:
    assert draw("variant", "promo", "C1") == draw("variant", "promo", "C1")
    again = Experiment.of("promo", [("a", 50), ("b", 30), ("c", 20)], 10, 0)
    assert [experiment(control=10).assign(c) for c in CUSTOMERS[:1000]] == [
        again.assign(c)
        for c in CUSTOMERS[:1000]  # type: ignore[union-attr]
    ]
    other = Experiment.of("other", [("a", 50), ("b", 30), ("c", 20)], 0, 0)
    assert other is not None
    same = sum(experiment().assign(c) == other.assign(c) for c in CUSTOMERS[:10_000])
    assert same / 10_000 == pytest.approx(0.5**2 + 0.3**2 + 0.2**2, abs=0.02)  # independent


def test_global_control_is_the_same_customers_in_every_scenario() -> None:
    first = Experiment.of("one", [], 0, 5)
    second = Experiment.of("two", [], 0, 5)
    assert first is not None and second is not None
    held = {c for c in CUSTOMERS if first.assign(c).control}
    assert held == {c for c in CUSTOMERS if second.assign(c).control}
    assert len(held) / len(CUSTOMERS) == pytest.approx(0.05, abs=0.003)


def test_no_variants_and_no_control_is_no_experiment() -> None:
    assert Experiment.of("plain", [], 0, 0) is None


def promo(**keys: object) -> dict:
    return {"promo": {"entry": {"on": "purchase"}, "steps": CHAIN, "variants": VARIANTS, **keys}}


def customer_in(variant: str, control: bool = False, percent: float = 0) -> str:
    made = experiment(control=percent)
    return next(c for c in CUSTOMERS if made.assign(c) == Assignment(variant, control))


def test_a_variant_is_sticky_across_steps_instances_and_restarts() -> None:
    cid = customer_in("b")
    customer = Customer(rules(promo(restart=True, reentry_days=0)), customer_id=cid)
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.event("receipt", "2026-11-01T20:00:00+03:00")  # restarts it
    customer.until("2026-11-04T00:00:00+03:00")
    customer.event("receipt", "2026-11-05T10:00:00+03:00")  # enters again
    customer.until("2026-11-10T00:00:00+03:00")
    assert [(n.step, n.caused_by, n.template, n.variant) for n in customer.sent] == [
        ("d1", "e1", "t_b", "b"),
        ("d1", "e2", "t_b", "b"),
        ("d2", "e2", "t_b2", "b"),
        ("d1", "e3", "t_b", "b"),
        ("d2", "e3", "t_b2", "b"),
    ]


def test_a_control_customer_runs_the_chain_and_is_sent_nothing() -> None:
    cid = customer_in("a", control=True, percent=20)
    customer = Customer(rules(promo(control_percent=20)), customer_id=cid)
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-10T00:00:00+03:00")
    assert customer.sent == []
    assert [(n.step, n.control) for n in customer.withheld] == [("d1", True), ("d2", True)]
    assert [n for n in customer.notes if isinstance(n, Entered)] == [Entered("promo", "a", True)]


def test_global_control_keeps_marketing_out_and_transactional_in() -> None:
    held = Experiment.of("any", [], 0, 30)
    assert held is not None
    cid = next(c for c in CUSTOMERS if held.assign(c).control)
    step = [{"id": "s", "after": 0, "template": "t"}]
    scenarios = {
        "news": {"kind": "marketing", "entry": {"on": "purchase"}, "steps": step},
        "receipt_mail": {"kind": "transactional", "entry": {"on": "purchase"}, "steps": step},
    }
    customer = Customer(
        rules(scenarios, experiments={"global_control_percent": 30}), customer_id=cid
    )
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    assert [n.trigger for n in customer.sent] == ["receipt_mail"]
    assert [n.trigger for n in customer.withheld] == ["news"]
    # and a customer outside the global control group gets both
    free = next(c for c in CUSTOMERS if not held.assign(c).control)
    other = Customer(customer.rules, customer_id=free)
    other.event("receipt", "2026-11-01T10:00:00+03:00")
    assert sorted(n.trigger for n in other.sent) == ["news", "receipt_mail"]


def test_a_template_map_must_name_every_variant() -> None:
    from smartcomms.config import ConfigError, load_settings

    bad = {"promo": {**promo()["promo"], "steps": [{"id": "d1", "template": {"a": "t"}}]}}
    with pytest.raises(ConfigError, match=r"variants without a template \['b', 'c'\]"):
        load_settings(overrides={"scenarios": bad})


def welcome(variants: list, template: object) -> dict:
    steps = [{"id": "d1", "template": "t"}, {"id": "d2", "after": "1d", "template": template}]
    return {"welcome": {"entry": {"on": "registered"}, "variants": variants, "steps": steps}}


REGISTERED = {"registered_at": "2026-11-22T10:00:00+03:00"}


def test_variants_changed_while_a_chain_runs_draw_again_among_the_current_ones() -> None:
    added = Customer(rules(welcome([], "t")))  # entered without variants
    added.event("customer", "2026-11-22T10:00:00+03:00", **REGISTERED)
    added.rules = rules(welcome([{"id": "a"}, {"id": "b"}], {"a": "ta", "b": "tb"}))
    added.until("2026-11-24T10:00:00+03:00")
    [later] = [n for n in added.sent if n.step == "d2"]
    assert later.template == {"a": "ta", "b": "tb"}[later.variant or ""]
    for cid in ("C1", "C2", "C3", "C4"):  # some of them drew b, which then goes
        removed = Customer(
            rules(welcome([{"id": "a"}, {"id": "b"}], {"a": "ta", "b": "tb"})), customer_id=cid
        )
        removed.event("customer", "2026-11-22T10:00:00+03:00", **REGISTERED)
        removed.rules = rules(welcome([{"id": "a"}], {"a": "ta"}))
        removed.until("2026-11-24T10:00:00+03:00")
        assert [(n.step, n.template, n.variant) for n in removed.sent][1:] == [("d2", "ta", "a")]


def test_a_control_customers_profile_shows_the_chain_that_ran_for_it() -> None:
    from state.inspect import describe_instance

    cid = customer_in("a", control=True, percent=20)
    customer = Customer(rules(promo(control_percent=20)), customer_id=cid)
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.event("receipt", "2026-11-01T12:00:00+03:00")  # converts it
    view = describe_instance(customer.state.instances["promo"])
    assert view["variant"] == "a" and view["control_group"] and view["converted"]
    assert [(s["step"], s["outcome"]) for s in view["steps"]] == [("d1", "control")]
