"""Reading data files (YAML, JSON, CSV) into labelled records, with line numbers for errors.

YAML and JSON files are a mapping ``label -> fields``; CSV files have one row per record and
a ``_label`` column. In every format ``_factory`` names a factory and ``_traits`` lists its
traits; an empty CSV cell means the field is not given.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from seedkit.errors import PackError
from seedkit.packs.model import DataFile, Record
from seedkit.packs.values import parse_value

LABEL = "_label"
FACTORY = "_factory"
TRAITS = "_traits"
DIRECTIVES = (LABEL, FACTORY, TRAITS)


class _YamlLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in first:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {first[key]})", key_node.start_mark
            )
        first[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=True)


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, file: str) -> tuple[Any, dict[str, int], dict[str, dict[str, int]]]:
    """The document, and the lines of its top-level keys and of their mappings' keys."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        _check_labels_unique(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise PackError(f"{kind}: {reason}", file=file, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise PackError(f"YAML syntax error: {exc}", file=file) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    field_lines: dict[str, dict[str, int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.MappingNode):
                field_lines[key] = {str(k.value): k.start_mark.line + 1 for k, _ in value_node.value}
    return data, lines, field_lines


def _check_labels_unique(node: yaml.Node | None, file: str) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[str, int] = {}
    for key_node, _ in node.value:
        label, line = str(key_node.value), key_node.start_mark.line + 1
        if label in first:
            raise PackError(
                f"duplicate label (first on line {first[label]})", file=file, record=label, line=line
            )
        first[label] = line


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers keys given more than once (the last value is kept)."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    result = _JsonObject()
    seen: list[str] = []
    for key, value in pairs:
        if key in result:
            seen.append(key)
        result[key] = value
    result.duplicates = tuple(seen)
    return result


def _load_json(text: str, file: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise PackError(
            f"JSON syntax error: {exc.msg} (column {exc.colno})", file=file, line=exc.lineno
        ) from None
    if isinstance(data, _JsonObject) and data.duplicates:
        raise PackError("duplicate label", file=file, record=data.duplicates[0])
    return data


def read_data_file(path: Path, *, pack: str, file: str, store: str) -> DataFile:
    """Read one data file; ``file`` is how errors name it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"cannot read data file: {exc}", file=file) from None
    table = path.stem
    base = {"pack": pack, "file": file, "store": store, "table": table}
    if path.suffix == ".csv":
        records = _csv_records(text, base)
    else:
        lines: dict[str, int] = {}
        field_lines: dict[str, dict[str, int]] = {}
        if path.suffix == ".json":
            data = _load_json(text, file)
        else:
            data, lines, field_lines = load_yaml(text, file)
        records = _mapping_records(data, lines, field_lines, base)
    return DataFile(path=path, file=file, store=store, table=table, records=tuple(records))


def _mapping_records(
    data: Any, lines: dict[str, int], field_lines: dict[str, dict[str, int]], base: dict[str, Any]
) -> list[Record]:
    if data is None:
        return []
    if not isinstance(data, dict):
        raise PackError("expected a mapping of label -> fields at the top level", file=base["file"])
    records = []
    for raw_label, body in data.items():
        if not isinstance(raw_label, str | int) or isinstance(raw_label, bool) or str(raw_label) == "":
            raise PackError(
                f"label {raw_label!r} is not a text", file=base["file"], line=lines.get(str(raw_label))
            )
        label = str(raw_label)
        where = {**base, "label": label, "line": lines.get(label), "field_lines": field_lines.get(label, {})}
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise Record(fields={}, **where).error("expected a mapping of field -> value")
        for duplicate in getattr(body, "duplicates", ()):
            raise Record(fields={}, **where).error("field given twice", duplicate)
        records.append(_record(body, where, textual=False))
    return records


def _csv_records(text: str, base: dict[str, Any]) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return []
    header = [name.strip() for name in header]
    file = base["file"]
    if LABEL not in header:
        raise PackError(f"CSV file needs a {LABEL} column naming each record", file=file, line=1)
    for index, name in enumerate(header):
        if not name:
            raise PackError(f"column {index + 1} of the header has no name", file=file, line=1)
        if header.index(name) != index:
            raise PackError(f"column {name!r} appears twice in the header", file=file, line=1)
    records = []
    first: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise PackError(f"row has {len(row)} cells, the header has {len(header)}", file=file, line=line)
        cells = {name: cell for name, cell in zip(header, row, strict=True) if cell != ""}
        label = cells.pop(LABEL, "").strip()
        if not label:
            raise PackError(f"row has no {LABEL}", file=file, line=line)
        if label in first:
            raise PackError(
                f"duplicate label (first on line {first[label]})", file=file, record=label, line=line
            )
        first[label] = line
        where = {**base, "label": label, "line": line, "field_lines": {}}
        records.append(_record(cells, where, textual=True))
    return records


def _record(body: Mapping[Any, Any], where: dict[str, Any], *, textual: bool) -> Record:
    probe = Record(fields={}, **where)
    factory = body.get(FACTORY)
    if factory is not None and (not isinstance(factory, str) or not factory.strip()):
        raise probe.error("expected the name of a factory", FACTORY)
    traits = body.get(TRAITS, [])
    if isinstance(traits, str):
        traits = traits.replace(",", " ").split()
    if not isinstance(traits, list) or not all(isinstance(t, str) for t in traits):
        raise probe.error("expected a list of trait names", TRAITS)
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if not isinstance(name, str):
            raise probe.error(f"field name {name!r} is not a text")
        if name in DIRECTIVES:
            if name == LABEL:
                raise probe.error(
                    f"{LABEL} is only for CSV files; in YAML and JSON the key is the label", name
                )
            continue
        try:
            fields[name] = parse_value(value)
        except ValueError as exc:
            raise probe.error(str(exc), name) from None
    return Record(
        fields=fields,
        factory=factory.strip() if factory else None,
        traits=tuple(traits),
        textual=textual,
        **where,
    )
