"""How scenario YAML is read: PyYAML's safe loader with YAML 1.2's booleans.

PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans, so the
scenario key ``service.retries.on`` would be read as ``True`` and a value ``no`` as ``False``
(the "Norway problem"). YAML 1.2, which most tools now follow, keeps only ``true`` and
``false``; scenarios are read that way. Boolean fields still accept ``yes``/``no`` and
``on``/``off`` as strings, which the schema converts.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

BOOL_TAG = "tag:yaml.org,2002:bool"


class ScenarioLoader(yaml.SafeLoader):
    """A safe loader whose only booleans are ``true`` and ``false`` (any case)."""


ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse one YAML document as a scenario file is parsed."""
    return yaml.load(text, Loader=ScenarioLoader)
