"""Codes: the machine-readable reason of every decision, action and event.

Decisions and actions reject a code that is not one CamelCase word, and a decision that acts
must say why in a code; the table in :mod:`sim.policies.codes` lists every code.
"""

from __future__ import annotations

import pytest

from sim.policies.base import Action, Clause, Decision

# code → accepted
CODE_CASES = {
    "camel-case-word": ("ScaleUpLimit", True),
    "one-capital": ("A", True),
    "digits-after-the-first-letter": ("Http503Returned", True),
    "empty-means-none": ("", True),
    "lower-case-start": ("scaleUpLimit", False),
    "space": ("Scale Up", False),
    "underscore": ("SCALE_UP", False),
    "hyphen": ("Scale-Up", False),
    "dot": ("Target.FailedHealthChecks", False),
    "trailing-newline": ("ScaleUp\n", False),
    "digit-first": ("503Returned", False),
}


@pytest.mark.parametrize(("code", "accepted"), CODE_CASES.values(), ids=CODE_CASES.keys())
def test_decision_code_is_one_camel_case_word(code: str, accepted: bool) -> None:
    if accepted:
        assert Decision(reason="why", code=code).code == code
    else:
        with pytest.raises(ValueError, match="decision's code must be one CamelCase word"):
            Decision(reason="why", code=code)


@pytest.mark.parametrize(("code", "accepted"), CODE_CASES.values(), ids=CODE_CASES.keys())
def test_action_code_is_one_camel_case_word(code: str, accepted: bool) -> None:
    if accepted:
        assert Action("set_replicas", 3, code=code).code == code
    else:
        with pytest.raises(ValueError, match="set_replicas action's code must be one CamelCase"):
            Action("set_replicas", 3, code=code)


def test_code_sits_beside_the_reason() -> None:
    decision = Decision((Action("set_replicas", 3),), "cpu high: 2 → 3", "SucceededRescale")
    assert (decision.reason, decision.code) == ("cpu high: 2 → 3", "SucceededRescale")


def test_a_decision_of_clauses_takes_its_first_action_s_code_or_its_last_clause_s() -> None:
    clauses = [Clause("AlertInactive", "cpu 0.5: no alert"), Clause("AtMaxReplicas", "at cap")]
    quiet = Decision.of_clauses([], clauses)
    assert (quiet.reason, quiet.code) == ("cpu 0.5: no alert; at cap", "AtMaxReplicas")
    launch = Action("launch_nodes", 1, "m5.large", code="OperatorAddedNode")
    acting = Decision.of_clauses([launch], [*clauses, Clause("OperatorAddedNode", "adds one")])
    assert acting.code == "OperatorAddedNode"


# actions' codes, decision's code → accepted
COVERAGE_CASES = {
    "decision-code-covers-all": (("", ""), "ScaleDown", True),
    "every-action-its-own": (("NodeNotReady", "TaintManagerEviction"), "", True),
    "both": (("NodeNotReady", ""), "NodeNotReady", True),
    "one-action-without": (("NodeNotReady", ""), "", False),
    "none-at-all": (("",), "", False),
}


@pytest.mark.parametrize(
    ("action_codes", "code", "accepted"), COVERAGE_CASES.values(), ids=COVERAGE_CASES.keys()
)
def test_a_decision_that_acts_must_say_why_in_a_code(
    action_codes: tuple[str, ...], code: str, accepted: bool
) -> None:
    actions = tuple(Action("unroute_node", target="node-1", code=c) for c in action_codes)
    if accepted:
        assert Decision(actions, "why", code).actions == actions
    else:
        with pytest.raises(ValueError, match=r"must say why in a code.*none on: unroute_node"):
            Decision(actions, "why", code)


def test_a_decision_without_actions_may_leave_the_code_empty() -> None:
    assert Decision().code == ""
