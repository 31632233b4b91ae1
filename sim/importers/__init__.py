"""Importers: Docker Compose / Swarm stack files and Kubernetes manifests → a scenario.

    from sim.importers import import_compose, import_kubernetes, to_yaml
    result = import_compose("docker-compose.yml", service="web")
    result.scenario, result.warnings, result.assumptions
    print(to_yaml(result))      # "# ASSUMED: ..." beside every value not in the input

The scenario validates as it is; the values marked ASSUMED (CPU demand per request, traffic,
SLO, machines when the input names none) are placeholders to replace with your own figures.
"""

from sim.importers._common import ImportResult, to_yaml
from sim.importers.compose import import_compose
from sim.importers.kubernetes import import_kubernetes

__all__ = ["ImportResult", "import_compose", "import_kubernetes", "to_yaml"]
