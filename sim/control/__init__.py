"""The control plane: observations built from the world, decisions applied to it, on tickers.

:class:`~sim.control.plane.ControlPlane` wires a policy's controllers, placement and metrics
pipeline over a :class:`~sim.model.world.World`. Policies themselves (:mod:`sim.policies`)
stay pure: they see :class:`~sim.policies.base.Observation` snapshots built here and return
:class:`~sim.policies.base.Decision` values applied here.
"""
