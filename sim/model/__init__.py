"""The SimPy model: nodes, containers, the load balancer, arrivals and what they record.

Nothing here plots, touches files or decides: :func:`sim.model.world.build_world` wires the
parts, the control plane (:mod:`sim.control`) acts on them and :mod:`sim.measure` reads them.
"""
