"""Reading scenario files and turning validation failures into one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.config.errors import ScenarioError
from sim.config.schema import Scenario
from sim.config.yaml_loader import load_yaml

# Union tags that pydantic puts into an error's location; they are not field names.
_UNION_TAGS = {
    "constant",
    "exponential",
    "uniform",
    "lognormal",
    "gamma",
    "empirical",
    "node_crash",
}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Relative trace paths inside it are later resolved against the file's directory. Raises
    :class:`ScenarioError` naming the file, the field path, its line and what was expected.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("scenario file not found", file=path) from None
    except UnicodeDecodeError as error:
        line = text_line_of(path, error.start)
        raise ScenarioError(
            f"expected UTF-8 text, found byte 0x{error.object[error.start]:02x} "
            f"(a binary file, or another encoding)",
            file=path,
            line=line,
        ) from None
    except OSError as error:
        raise ScenarioError(f"cannot read scenario file ({error.strerror})", file=path) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        # The context mark is where the broken construct starts (an unclosed bracket), which
        # is where the mistake is; the problem mark is where the parser gave up.
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ScenarioError(f"invalid YAML: {problem}", file=path, line=line) from None
    except RecursionError:
        # PyYAML parses nested collections recursively; no scenario nests more than a few deep.
        raise ScenarioError("invalid YAML: collections nested too deeply", file=path) from None
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping of scenario fields at the top level", file=path)
    scenario = validate_scenario(data, file=path, line_of=_line_finder(text))
    scenario._source_dir = path.resolve().parent
    return scenario


def text_line_of(path: Path, offset: int) -> int | None:
    """The 1-based line of byte ``offset`` in ``path`` (None if the file cannot be read)."""
    try:
        with path.open("rb") as stream:
            return stream.read(offset).count(b"\n") + 1
    except OSError:
        return None


def validate_scenario(
    data: dict[str, Any],
    *,
    file: str | Path | None = None,
    line_of: Any = None,
    source: str | None = None,
) -> Scenario:
    """Validate plain data as a :class:`Scenario`, raising a one-line :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise scenario_error(error, file=file, line_of=line_of, source=source) from None


def scenario_error(
    error: ValidationError,
    *,
    file: str | Path | None = None,
    line_of: Any = None,
    source: str | None = None,
) -> ScenarioError:
    """The first problem of a pydantic error as a :class:`ScenarioError`, counting the rest."""
    problems = error.errors(include_url=False)
    # A failed nested item also fails its container (e.g. "tuple too short"): report the leaf.
    locations = [tuple(problem["loc"]) for problem in problems]
    problems = [
        problem
        for problem, location in zip(problems, locations, strict=True)
        if not any(other[: len(location)] == location and other != location for other in locations)
    ]
    first = problems[0]
    location = tuple(part for part in first["loc"] if part not in _UNION_TAGS)
    field = ".".join(str(part) for part in location) or None
    message = _explain(first, location)
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    if source:
        message = f"{message} ({source})"
    line = line_of(location) if line_of is not None and location else None
    return ScenarioError(message, file=file, field=field, line=line)


def _explain(problem: Any, location: tuple[Any, ...]) -> str:
    kind = problem["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(location[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown field{hint}"
    if kind == "missing":
        return "required field is missing"
    context = problem.get("ctx", {})
    if kind == "too_short":
        return f"expected at least {context.get('min_length')} item(s), got none"
    if kind == "union_tag_invalid":
        return (
            f"unknown {context.get('discriminator', 'kind').strip(chr(39))} "
            f"{context.get('tag')!r}; expected one of {context.get('expected_tags')}"
        )
    message = str(problem["msg"]).removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error") and "input" in problem:
        given = problem["input"]
        if not isinstance(given, dict | list):
            message = f"{message} (got {given!r})"
    return message


def _allowed_fields(location: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``location`` in the scenario schema, if known."""
    model: Any = Scenario
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    if not hasattr(model, "model_fields"):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``annotation`` (``X | None``, ``tuple[X, ...]``, ...)."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _line_finder(text: str) -> Any:
    """A function mapping a field path to the 1-based line it (or its nearest parent) is on."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None

    def line_of(location: tuple[Any, ...]) -> int | None:
        node = root
        line = None
        for part in location:
            if isinstance(node, yaml.MappingNode):
                match = [(key, value) for key, value in node.value if str(key.value) == str(part)]
                if not match:
                    break
                key, node = match[0]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    return line_of
