"""Decisions carried out: each action of a controller applied to the world's cluster.

Every action leaves a row in ``Result.events`` with its source (the controller), the
decision's reason and a code: the action's own, else the decision's. An action the world
cannot carry out (no such node, an unknown instance type) or can carry out only in part (the
cluster's node cap) leaves a row with the world's code for that. Actions that change capacity
are counted as scale actions.
"""

from __future__ import annotations

from sim.model.world import World
from sim.policies.base import Action, Decision


class Actuator:
    """Applies decisions to one run's cluster and counts the scale actions."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.scale_actions = 0

    def apply(self, source: str, decision: Decision) -> None:
        """Carry out ``decision``'s actions in order, logging each with its reason and code."""
        cluster = self.world.cluster
        reason = decision.reason
        for action in decision.actions:
            code = action.code or decision.code
            node = cluster.node_named(action.target) if action.target else None
            kind = action.kind
            if kind == "set_replicas":
                count = int(action.value)
                if count != cluster.desired_replicas:
                    self.scale_actions += 1
                    cluster.set_desired_replicas(count, reason, code, source=source)
            elif kind == "launch_nodes":
                self._launch(action, reason, code, source)
            elif node is None:
                missing = "no such node"
                cluster.log(
                    source, "skipped", action.target, kind, "", missing, code="NodeNotFound"
                )
            elif kind == "remove_node":
                self.scale_actions += 1
                cluster.remove_node(node, reason, code, source=source)
            elif kind == "resize_node":
                self.scale_actions += 1
                size = str(action.value)
                cluster.resize_node(node, size, reason, code, source=source)
            elif kind == "unroute_node":
                cluster.unroute_node(node, reason, code, source=source)
            elif kind == "evict_node":
                cluster.evict_node(node, reason, code, source=source)
            elif kind == "terminate_node":
                cluster.terminate_node(node, reason, code, source=source)

    def _launch(self, action: Action, reason: str, code: str, source: str) -> None:
        """Start machines of the asked type, no more than ``cluster.max_nodes`` allows."""
        cluster = self.world.cluster
        scenario = self.world.scenario
        type_name = action.target or scenario.cluster.node_type
        if type_name not in cluster.catalogue:
            unknown = "unknown instance type"
            cluster.log(
                source,
                "skipped",
                type_name,
                "launch_nodes",
                "",
                unknown,
                code="UnknownInstanceType",
            )
            return
        running = sum(1 for node in cluster.nodes if node.state != "terminated")
        room = scenario.cluster.max_nodes - running
        count = min(int(action.value), room)
        if count < int(action.value):
            # the cluster autoscaler's word when --max-nodes-total trims a scale-up
            cluster.log(
                source,
                "capped",
                type_name,
                action.value,
                count,
                "cluster.max_nodes reached",
                code="MaxNodesTotalReached",
            )
        if count > 0:
            self.scale_actions += 1
        for _ in range(count):
            cluster.launch_node(type_name, reason=reason, code=code, source=source)
