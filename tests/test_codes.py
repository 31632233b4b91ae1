"""Codes: the machine-readable reason of every decision, action and event.

Decisions and actions reject a code that is not one CamelCase word, and a decision that acts
must say why in a code; the table :data:`sim.policies.registry.CODES` lists every code, and every
event of a run with a surge and a node crash carries one of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.policies.base import CODE_PATTERN, Action, Clause, Decision
from sim.policies.registry import CODES

SIM = Path(__file__).resolve().parents[1] / "sim"

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


# --- the table --------------------------------------------------------------------------------


def test_every_code_in_the_table_is_one_camel_case_word_with_its_story() -> None:
    for code, entry in CODES.items():
        assert CODE_PATTERN.fullmatch(code), code
        assert entry.emits and entry.means and entry.source, code


NOT_CODES = {
    "Action", "Decision", "Observation", "PolicySetup",  # sim.policies.__all__
    "Container",  # a forward reference in a type
    "Max", "Min", "Disabled", "Pods", "Percent",  # HPA behavior selectPolicy and policy types
    "LeastAllocated", "MostAllocated",  # kube-scheduler scoring strategies
}  # fmt: skip
"""CamelCase string literals in the code that writes codes which are not codes."""


def camel_case_literals(path: Path) -> set[str]:
    """CamelCase string literals of a module, leaving out the keys of its code tables (a
    code declared is not a code written)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    declared = {
        id(key)
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict) and any(_is_code_call(value) for value in node.values)
        for key in node.keys
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in declared
        and CODE_PATTERN.fullmatch(node.value)
    }


def _is_code_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Code"


def test_the_table_lists_exactly_the_codes_written_in_the_code() -> None:
    """Every code a policy, the model or the actuator writes is documented, and every
    documented code is written somewhere (a new CamelCase literal that is not a code goes in
    NOT_CODES)."""
    writers = [
        path
        for folder in ("policies", "model", "control")
        for path in sorted((SIM / folder).glob("*.py"))
        if path.name != "codes.py"
    ]
    written = set().union(*(camel_case_literals(path) for path in writers)) - NOT_CODES
    assert sorted(written - set(CODES)) == [], "undocumented codes"
    assert sorted(set(CODES) - written) == [], "documented codes nothing writes"


# --- runs -------------------------------------------------------------------------------------

SURGE_AND_CRASH = {
    "name": "codes-surge-and-crash",
    "duration_s": 2400,
    "sample_interval_s": 10,
    "service": {
        "endpoints": [
            {"name": "api", "weight": 1, "cpu_demand_s": {"dist": "exponential", "mean": 0.05}}
        ],
        "timeout_s": 5,
        "initial_replicas": 4,
        "container": {
            "concurrency": 4,
            "queue_limit": 16,
            "cpu_request_m": 500,
            "cpu_limit_m": 1000,
            "startup_s": {"dist": "constant", "value": 5},
        },
    },
    "cluster": {"node_type": "m5.large", "initial_nodes": 2, "max_nodes": 6},
    # 1 core of work, 4 during the surge: every policy grows, then shrinks or holds
    "traffic": {
        "rate_rps": 20,
        "surges": [{"start_s": 300, "ramp_s": 60, "hold_s": 900, "multiplier": 4}],
    },
    "policy": {
        "kubernetes": {"hpa": {"max_replicas": 20}},
        "swarm": {"operator": {"for_s": 60, "reaction_s": {"dist": "constant", "value": 60}}},
        "scale_out": {"containers_per_vm": 2},
        "scale_up": {"replicas_per_node": 2},
    },
    "faults": [{"kind": "node_crash", "at_s": 1500, "node": 1}],
}

# policy → codes its run must show (so the run exercises its controllers and the crash)
EXPECTED_CODES = {
    "kubernetes": {
        "SucceededRescale", "TriggeredScaleUp", "NodeNotReady", "TaintManagerEviction",
        "NodeCrash", "Scheduled", "ContainerReady", "NodeReady", "SuccessfulDelete",
    },
    "swarm": {"OperatorScaled", "OperatorAddedNode", "NodeDown", "NodeCrash", "Scheduled"},
    "scale_out": {"ScaleOut", "ScaleIn", "ReplaceUnhealthy", "NodeCrash", "NodeReady"},
    "scale_up": {"ResizeUp", "AutoRecovery", "NodeStopped", "NodeCrash", "NodeReady"},
}  # fmt: skip


@pytest.fixture(scope="module")
def events() -> dict[str, pd.DataFrame]:
    scenario = sim.Scenario.model_validate(SURGE_AND_CRASH)
    return {policy: sim.run(scenario, policy=policy, seed=1).events for policy in EXPECTED_CODES}


@pytest.mark.parametrize("policy", EXPECTED_CODES)
def test_every_event_of_a_run_has_a_documented_code(
    events: dict[str, pd.DataFrame], policy: str
) -> None:
    frame = events[policy]
    malformed = frame[~frame["code"].str.fullmatch(CODE_PATTERN.pattern)]
    assert malformed.empty, malformed
    assert sorted(set(frame["code"]) - set(CODES)) == []
    assert EXPECTED_CODES[policy] <= set(frame["code"])


def test_rows_an_action_causes_carry_its_code(events: dict[str, pd.DataFrame]) -> None:
    """A scale-in drains a VM, stops its containers and terminates it: every row it causes,
    the containers' too, says ScaleIn; the containers then exit on their own (Drained)."""
    frame = events["scale_out"]
    scale_in = frame[frame["code"] == "ScaleIn"]
    assert set(zip(scale_in["source"], scale_in["action"], strict=True)) == {
        ("auto-scaling-group", "drain"),
        ("auto-scaling-group", "unroute"),
        ("auto-scaling-group", "terminate"),
        ("container", "terminate"),
    }
    removed = set(scale_in.loc[scale_in["source"] == "container", "target"])
    gone = frame[(frame["action"] == "gone") & frame["target"].isin(removed)]
    assert set(gone["code"]) == {"Drained"}
