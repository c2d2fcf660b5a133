"""The JSON Schema of scenario files, for editor completion (`huis schema`).

Editors (VS Code with the YAML extension, for one) read it through a first line such as
`# yaml-language-server: $schema=./schema.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from controller.engine.model import ScenarioFile

_PARAM_REF = {
    "type": "string",
    "pattern": r"^\$[a-z][a-z0-9_]*$",
    "description": "a parameter of this file or scenario, e.g. $tolerance",
}
# Keys whose value is structure (lists of triggers, ...), never a parameter reference.
_STRUCTURAL = {"type", "id", "triggers", "conditions", "actions", "then", "else", "scenarios",
               "parameters", "name"}


def scenario_json_schema() -> dict[str, object]:
    """JSON Schema (draft 2020-12) for a scenario file, `$name` parameter references included."""
    schema = ScenarioFile.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    defs["ParameterReference"] = _PARAM_REF
    for name, definition in defs.items():
        if name not in ("ParameterReference", "Parameter", "ScenarioFile"):
            _allow_references(definition.get("properties", {}))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "huis scenario file"
    schema["description"] = "Care scenarios for the huis rule engine; see docs/scenarios.md."
    return schema


def _allow_references(props: dict[str, dict[str, object]]) -> None:
    """Let every value that is not structure be a `$name` parameter reference instead."""
    for key, prop in list(props.items()):
        if key in _STRUCTURAL:
            continue
        props[key] = {"anyOf": [_strip(prop), {"$ref": "#/$defs/ParameterReference"}],
                      **({"description": prop["description"]} if "description" in prop else {}),
                      **({"default": prop["default"]} if "default" in prop else {})}


def _strip(prop: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in prop.items() if k not in ("description", "default", "title")}


def schema_text() -> str:
    """The schema as indented JSON text."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False, default=str) + "\n"
