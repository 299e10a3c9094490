"""The JSON schema that every dataset manifest (``datasets_manifest/<name>.yaml``) follows."""

from __future__ import annotations

from typing import Any

_TEXT: dict[str, Any] = {"type": "string"}
_NUMBER: dict[str, Any] = {"type": "number"}
_NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"]}

URL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url", "filename", "extract"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "pattern": "^(https?|ftp)://"},
        "filename": {"type": "string", "pattern": "^[^/\\\\]+$"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "extract": {"type": "boolean"},
        "extract_nested": {"type": "array", "items": _TEXT},
        "note": _TEXT,
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["method", "source", "protocol", "ground_truth", "split", "mre_mm"],
    "additionalProperties": False,
    "properties": {
        "method": _TEXT,
        "source": _TEXT,
        "protocol": _TEXT,
        "ground_truth": _NULLABLE_TEXT,
        "split": _TEXT,
        "mre_mm": _NUMBER,
        "mre_std_mm": _NUMBER,
        "sdr": {
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]+(\\.[0-9]+)?$"},
            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 100},
        },
        "notes": _TEXT,
    },
}

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "name",
        "title",
        "citation",
        "licence",
        "access",
        "urls",
        "ndim",
        "multi_instance",
        "landmark_names",
        "spacing",
        "coordinates",
        "layout",
        "ground_truth",
        "protocols",
        "published_results",
    ],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "title": _TEXT,
        "version": {"type": "string", "minLength": 1},
        "citation": _TEXT,
        "licence": _TEXT,
        "access": _TEXT,
        "urls": {"type": "array", "items": URL_SCHEMA},
        "ndim": {"enum": [2, 3]},
        "multi_instance": {"type": "boolean"},
        "num_cases": {"type": "integer", "minimum": 1},
        "landmark_names": {"type": "array", "minItems": 1, "items": _TEXT},
        "spacing": {
            "type": "object",
            "required": ["rule"],
            "additionalProperties": False,
            "properties": {
                "rule": {"enum": ["fixed", "per_image_table", "per_case_file", "header", "none"]},
                "value_mm": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}},
                "note": _TEXT,
            },
        },
        "coordinates": {
            "type": "object",
            "required": ["order", "scale"],
            "additionalProperties": False,
            "properties": {
                "order": {"enum": ["xy", "yx", "xyz", "zyx", "ijk", "kji"]},
                "scale": {"type": "number", "exclusiveMinimum": 0},
                "note": _TEXT,
            },
        },
        "layout": {"type": "object"},
        "ground_truth": {
            "type": "object",
            "required": ["options", "default"],
            "additionalProperties": False,
            "properties": {
                "options": {"type": "array", "minItems": 1, "items": _TEXT},
                "default": _TEXT,
                "note": _TEXT,
            },
        },
        "protocols": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "object"},
        },
        "evaluation": {"type": "object"},
        "published_results": {"type": "array", "items": RESULT_SCHEMA},
        "notes": {"type": "array", "items": _TEXT},
    },
}
