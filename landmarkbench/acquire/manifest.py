"""Dataset manifests: schema-checked YAML facts about each dataset, plus its checksum file.

A manifest ``datasets_manifest/<name>.yaml`` records where a dataset comes from, its layout,
spacing and coordinate conventions, ground-truth choices, protocols and the published results
to show beside ours. A sibling ``<name>.sha256`` (``relative/path sha256`` per line, pooch's
registry format) lists the files whose hashes are known.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landmarkbench.acquire.manifest_schema import MANIFEST_SCHEMA
from landmarkbench.errors import DataError, ManifestError, UnknownNameError
from landmarkbench.registry import did_you_mean

_CHUNK = 1 << 20


@dataclass(frozen=True)
class UrlEntry:
    """One downloadable file; ``extract_nested`` names archives inside it to extract too."""

    url: str
    filename: str
    extract: bool
    sha256: str | None = None
    extract_nested: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class SpacingRule:
    """Where pixel spacing comes from: ``fixed`` (``value_mm``), a table, a file, a header."""

    rule: str
    value_mm: tuple[float, ...] | None = None
    note: str = ""


@dataclass(frozen=True)
class CoordinateConvention:
    """Axis order of stored coordinates and the factor that maps them to the image grid."""

    order: str
    scale: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class GroundTruthChoice:
    """The annotation sources a user may pick, and the default."""

    options: tuple[str, ...]
    default: str
    note: str = ""


@dataclass(frozen=True)
class PublishedResult:
    """One published figure with the protocol, ground truth and split it was measured on."""

    method: str
    source: str
    protocol: str
    ground_truth: str | None
    split: str
    mre_mm: float
    mre_std_mm: float | None = None
    sdr: dict[float, float] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class Manifest:
    """A validated dataset manifest (see ``datasets_manifest/README.md``)."""

    name: str
    title: str
    citation: str
    licence: str
    access: str
    urls: tuple[UrlEntry, ...]
    ndim: int
    multi_instance: bool
    landmark_names: tuple[str, ...]
    spacing: SpacingRule
    coordinates: CoordinateConvention
    layout: dict[str, Any]
    ground_truth: GroundTruthChoice
    protocols: dict[str, dict[str, Any]]
    published_results: tuple[PublishedResult, ...]
    num_cases: int | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    path: Path | None = None
    version: str | None = None

    @property
    def num_landmarks(self) -> int:
        """Number of landmarks (classes, for multi-instance datasets)."""
        return len(self.landmark_names)


def manifest_dir() -> Path:
    """The folder of bundled manifests: the checkout's ``datasets_manifest/`` or the package."""
    checkout = Path(__file__).resolve().parents[2] / "datasets_manifest"
    if checkout.is_dir():
        return checkout
    try:
        folder = importlib.resources.files("landmarkbench.manifests")
    except ModuleNotFoundError:
        raise ManifestError(
            "The dataset manifests are not installed (no package 'landmarkbench.manifests'); "
            "reinstall landmarkbench or run from a checkout that has datasets_manifest/."
        ) from None
    if isinstance(folder, Path):
        return folder
    # A namespace package (no __init__.py) gives a multiplexed path: use its first folder.
    spec = importlib.util.find_spec("landmarkbench.manifests")
    return Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr, arg-type]


def available_manifests(directory: Path | None = None) -> list[str]:
    """Names of the manifests in ``directory`` (default: ``manifest_dir()``), sorted."""
    folder = directory if directory is not None else manifest_dir()
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def _display(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _join(base: str, name: str) -> str:
    return name if base == "(top level)" else f"{base}.{name}"


def _describe_error(error: Any) -> tuple[str, str]:
    """(field path, what is wrong) for one jsonschema ValidationError."""
    where = _field_path(error.absolute_path)
    kind, rule, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [name for name in rule if name not in value]
        return _join(where, missing[0]), "is missing"
    if kind == "additionalProperties" and isinstance(value, Mapping):
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in value if k not in known)
        return _join(where, extra[0]), f"is not a known field (known: {', '.join(known)})"
    if kind == "type":
        wanted = " or ".join(rule) if isinstance(rule, list) else rule
        article = "an" if str(wanted)[0] in "aeio" else "a"
        return where, f"must be {article} {wanted}, got {value!r}"
    if kind == "enum":
        return where, f"must be one of {', '.join(map(str, rule))}, got {value!r}"
    if kind == "propertyNames":
        return where, f"has key {value!r}, which is not allowed ({error.message})"
    if kind == "pattern":
        return where, f"must match the pattern {rule!r}, got {value!r}"
    return where, f"is invalid: {error.message}"


def _normalise(data: dict[str, Any]) -> None:
    """YAML gives SDR radii as number keys; JSON schema needs text keys."""
    for result in data.get("published_results") or []:
        if isinstance(result, dict) and isinstance(result.get("sdr"), dict):
            result["sdr"] = {str(k): v for k, v in result["sdr"].items()}


def _check_consistency(data: dict[str, Any], path: Path) -> None:
    """Rules that span fields (the schema checks each field alone)."""

    def fail(where: str, problem: str) -> None:
        raise ManifestError(f"Manifest '{_display(path)}' field '{where}' {problem}; fix the YAML.")

    if data["name"] != path.stem:
        fail("name", f"must equal the file name {path.stem!r}, got {data['name']!r}")
    names = data["landmark_names"]
    if len(set(names)) != len(names):
        fail("landmark_names", "must not repeat a name")
    gt = data["ground_truth"]
    if gt["default"] not in gt["options"]:
        fail("ground_truth.default", f"must be one of {gt['options']}, got {gt['default']!r}")
    spacing = data["spacing"]
    if spacing["rule"] == "fixed" and len(spacing.get("value_mm") or []) != data["ndim"]:
        fail("spacing.value_mm", f"must list {data['ndim']} spacings for rule 'fixed'")
    filenames = [u["filename"] for u in data["urls"]]
    if len(set(filenames)) != len(filenames):
        fail("urls", "must not repeat a filename")
    for i, result in enumerate(data["published_results"]):
        if result["protocol"] not in data["protocols"]:
            known = ", ".join(data["protocols"])
            fail(
                f"published_results[{i}].protocol",
                f"must name a protocol of this manifest ({known}), got {result['protocol']!r}",
            )
        if result["ground_truth"] is not None and result["ground_truth"] not in gt["options"]:
            fail(
                f"published_results[{i}].ground_truth",
                f"must be null or one of {gt['options']}, got {result['ground_truth']!r}",
            )


def _build(data: dict[str, Any], path: Path) -> Manifest:
    spacing = data["spacing"]
    gt = data["ground_truth"]
    return Manifest(
        name=data["name"],
        title=data["title"],
        citation=data["citation"],
        licence=data["licence"],
        access=data["access"],
        urls=tuple(
            UrlEntry(
                url=u["url"],
                filename=u["filename"],
                extract=u["extract"],
                sha256=u.get("sha256"),
                extract_nested=tuple(u.get("extract_nested", ())),
                note=u.get("note", ""),
            )
            for u in data["urls"]
        ),
        ndim=data["ndim"],
        multi_instance=data["multi_instance"],
        landmark_names=tuple(data["landmark_names"]),
        spacing=SpacingRule(
            rule=spacing["rule"],
            value_mm=tuple(float(v) for v in spacing["value_mm"])
            if "value_mm" in spacing
            else None,
            note=spacing.get("note", ""),
        ),
        coordinates=CoordinateConvention(**data["coordinates"]),
        layout=dict(data["layout"]),
        ground_truth=GroundTruthChoice(
            options=tuple(gt["options"]), default=gt["default"], note=gt.get("note", "")
        ),
        protocols={k: dict(v) for k, v in data["protocols"].items()},
        published_results=tuple(
            PublishedResult(
                **{k: v for k, v in r.items() if k != "sdr"},
                sdr={float(k): float(v) for k, v in (r.get("sdr") or {}).items()},
            )
            for r in data["published_results"]
        ),
        num_cases=data.get("num_cases"),
        evaluation=dict(data.get("evaluation") or {}),
        notes=tuple(data.get("notes") or ()),
        path=path,
        version=data.get("version"),
    )


def parse_manifest(path: Path) -> Manifest:
    """Read and validate one manifest file.

    Raises:
        ManifestError: naming the file, the field path and the fix.
    """
    import jsonschema
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(
            f"Manifest '{path}' cannot be read ({exc.strerror or exc}); check the file exists."
        ) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ManifestError(
            f"Manifest '{_display(path)}' is not valid YAML{line}; fix the YAML syntax."
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(
            f"Manifest '{_display(path)}' must be a mapping of fields, got "
            f"{type(data).__name__}; fix the YAML."
        )
    _normalise(data)
    validator = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        where, problem = _describe_error(error)
        more = f" ({len(errors) - 1} more problem(s) after that)" if len(errors) > 1 else ""
        raise ManifestError(
            f"Manifest '{_display(path)}' field '{where}' {problem}; fix the YAML{more}."
        )
    _check_consistency(data, path)
    return _build(data, path)


def load_manifest(name: str, directory: Path | None = None) -> Manifest:
    """Load the manifest ``<directory>/<name>.yaml`` (default: the bundled manifests).

    Raises:
        UnknownNameError: if there is no such manifest (with close names).
        ManifestError: if the manifest breaks the schema.
    """
    folder = Path(directory) if directory is not None else manifest_dir()
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(did_you_mean("dataset manifest", name, available_manifests(folder)))
    return parse_manifest(path)


@dataclass(frozen=True)
class DatasetFacts:
    """What a dataset adapter states about its data, taken from its manifest.

    ``ground_truth_options`` lists the manifest's default first, then the other options in
    the manifest's order (an adapter's first option is its default).
    """

    name: str
    version: str
    ndim: int
    multi_instance: bool
    landmark_names: tuple[str, ...]
    ground_truth_options: tuple[str, ...]
    sdr_radii_mm: tuple[float, ...] | None


@functools.cache
def dataset_facts(name: str, directory: Path | None = None) -> DatasetFacts:
    """The adapter facts of manifest ``name`` (default: the bundled ones), read when an
    adapter class is made.

    Only YAML is parsed and only these fields are checked (``landmarkbench ls`` imports every
    adapter and must stay fast: no jsonschema here); ``load_manifest`` checks the whole
    manifest, and the test suite loads every bundled one.

    Raises:
        UnknownNameError: if there is no such manifest.
        ManifestError: naming the file and the field that is missing or of the wrong type.
    """
    import yaml

    folder = Path(directory) if directory is not None else manifest_dir()
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(did_you_mean("dataset manifest", name, available_manifests(folder)))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError:
        raise ManifestError(
            f"Manifest '{_display(path)}' is not valid YAML; fix the YAML syntax."
        ) from None

    def need(where: str, value: Any, kind: type | tuple[type, ...], wanted: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ManifestError(
                f"Manifest '{_display(path)}' field '{where}' must be {wanted}, got {value!r}; "
                "fix the YAML."
            )
        return value

    data = need("(top level)", data, dict, "a mapping of fields")
    names = need("landmark_names", data.get("landmark_names"), list, "a list of names")
    gt = need("ground_truth", data.get("ground_truth"), dict, "a mapping")
    options = need("ground_truth.options", gt.get("options"), list, "a list of names")
    default = need("ground_truth.default", gt.get("default"), str, "one of the options")
    if default not in options:
        raise ManifestError(
            f"Manifest '{_display(path)}' field 'ground_truth.default' must be one of "
            f"{options}, got {default!r}; fix the YAML."
        )
    radii = (data.get("evaluation") or {}).get("sdr_radii_mm")
    if radii is not None:
        need("evaluation.sdr_radii_mm", radii, list, "a list of radii")
    return DatasetFacts(
        name=need("name", data.get("name"), str, "the dataset name"),
        version=need("version", data.get("version"), str, 'a quoted text such as "1"'),
        ndim=need("ndim", data.get("ndim"), int, "2 or 3"),
        multi_instance=need("multi_instance", data.get("multi_instance"), bool, "true or false"),
        landmark_names=tuple(str(n) for n in names),
        ground_truth_options=(default, *(o for o in options if o != default)),
        sdr_radii_mm=tuple(float(r) for r in radii) if radii is not None else None,
    )


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks.

    Raises:
        DataError: if the file cannot be read (never swallowed).
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(
            f"File '{path}' cannot be read to compute its sha256 ({exc.strerror or exc}); "
            "check that it exists and is readable."
        ) from None
    return digest.hexdigest()


def read_checksums(path: Path) -> dict[str, str]:
    """Parse a checksum file: ``relative/path sha256`` per line, ``#`` starts a comment.

    Raises:
        DataError: if the file cannot be read.
        ManifestError: for a malformed line (with its number).
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(
            f"Checksum file '{path}' cannot be read ({exc.strerror or exc}); check it exists."
        ) from None
    checksums: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        digest = parts[-1].lower() if len(parts) == 2 else ""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ManifestError(
                f"Checksum file '{_display(Path(path))}' line {number} must read "
                f"'relative/path <64 hex sha256>', got {raw.strip()!r}; fix the line."
            )
        if parts[0] in checksums:
            raise ManifestError(
                f"Checksum file '{_display(Path(path))}' line {number} repeats "
                f"{parts[0]!r}; keep one line per file."
            )
        checksums[parts[0]] = digest
    return checksums


def load_checksums(name: str, directory: Path | None = None) -> dict[str, str]:
    """The known checksums of dataset ``name``, or {} when it has no ``.sha256`` file."""
    folder = Path(directory) if directory is not None else manifest_dir()
    path = folder / f"{name}.sha256"
    return read_checksums(path) if path.is_file() else {}
