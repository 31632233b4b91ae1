"""The SimPy model: nodes, containers, the load balancer, arrivals and what they record.

Nothing here plots or touches files; the engine builds these parts, runs them and collects.
"""
