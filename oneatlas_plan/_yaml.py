"""The only module that imports PyYAML: safe loading with source positions, deterministic dump.

``load_with_marks`` never constructs arbitrary objects (safe tags only) and refuses, before
building any Python value:

- nesting deeper than :data:`MAX_DEPTH` (libyaml's composer recurses in C and would crash),
- documents whose aliases would expand beyond :data:`MAX_NODES` nodes ("billion laughs"),
- recursive aliases, non-scalar mapping keys, duplicate keys and custom tags.

Positions are 1-based ``(line, column)``; for a mapping entry it is the position of the key,
for a sequence item the position of the item.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # PyYAML is imported on first use: a spec read from the cache needs none
    import yaml


@cache
def _loader() -> type[yaml.SafeLoader]:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _dumper() -> type[yaml.SafeDumper]:
    import yaml

    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)

MAX_DEPTH = 64
MAX_NODES = 200_000

Path = tuple[str | int, ...]
Marks = dict[Path, tuple[int, int]]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(Exception):
    """The text is not a usable YAML document; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"{line}:{column}: {message}")


def load_with_marks(text: str, filename: str = "<string>") -> tuple[Any, Marks]:
    """Parse one YAML document into plain data plus the position of every path in it.

    Returns ``(None, {})`` for an empty document (only comments or blank).
    """
    _check_events(text, filename)
    node = _compose(text, filename)
    if node is None:
        return None, {}
    _check_expanded_size(node)
    loader = _loader()("")
    marks: Marks = {}
    try:
        data = _build(node, (), marks, loader, 0)
    finally:
        loader.dispose()
    return data, marks


def dump(data: Any) -> str:
    """Deterministic block-style YAML (sorted keys, unicode kept)."""
    import yaml

    text: str = yaml.dump(
        data,
        Dumper=_dumper(),
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text


def _position(mark: Any) -> tuple[int, int]:
    if mark is None:
        return 1, 1
    return int(mark.line) + 1, int(mark.column) + 1


def _yaml_error(error: yaml.YAMLError) -> YamlError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).split("\n")[0]
    context = getattr(error, "context", None)
    message = f"{context}: {problem}" if context and problem else str(problem)
    line, column = _position(mark)
    return YamlError(f"invalid YAML: {message}", line, column)


def _events(text: str, filename: str) -> Iterator[Any]:
    loader = _loader()(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def _check_events(text: str, filename: str) -> None:
    """One pass over the event stream (iterative in libyaml): depth and size bounds."""
    import yaml

    depth = 0
    count = 0
    documents = 0
    try:
        for event in _events(text, filename):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    line, column = _position(event.start_mark)
                    raise YamlError(
                        "expected a single YAML document, found another one", line, column
                    )
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line, column = _position(event.start_mark)
                    raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", line, column)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                count += 1
                if count > MAX_NODES:
                    line, column = _position(event.start_mark)
                    raise YamlError(f"document has more than {MAX_NODES} nodes", line, column)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None


def _compose(text: str, filename: str) -> yaml.Node | None:
    import yaml

    loader = _loader()(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    finally:
        loader.dispose()
    return node


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse documents whose aliases would expand beyond MAX_NODES (memoised, cycle-safe)."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            line, column = _position(node.start_mark)
            raise YamlError("recursive alias (an anchor used inside itself)", line, column)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if total > MAX_NODES:
            line, column = _position(node.start_mark)
            raise YamlError(
                f"aliases expand to more than {MAX_NODES} nodes (alias bomb?)", line, column
            )
        sizes[key] = total
        return total

    size(root)


def _build(node: yaml.Node, path: Path, marks: Marks, loader: Any, depth: int) -> Any:
    import yaml

    if depth > MAX_DEPTH:
        line, column = _position(node.start_mark)
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels (through aliases)", line, column)
    marks.setdefault(path, _position(node.start_mark))
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(node, path, marks, loader, depth)
    if isinstance(node, yaml.SequenceNode):
        _check_tag(node, _SEQ_TAG)
        return [
            _build(child, (*path, index), marks, loader, depth + 1)
            for index, child in enumerate(node.value)
        ]
    return _scalar(node, loader)


def _check_tag(node: yaml.Node, expected: str) -> None:
    if node.tag != expected:
        line, column = _position(node.start_mark)
        raise YamlError(f"unsupported YAML tag {node.tag!r}", line, column)


def _build_mapping(
    node: yaml.MappingNode, path: Path, marks: Marks, loader: Any, depth: int
) -> dict[str, Any]:
    import yaml

    _check_tag(node, _MAP_TAG)
    explicit = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
    try:
        loader.flatten_mapping(node)  # resolves "<<" merge keys in place (merged entries first)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    result: dict[str, Any] = {}
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = _key(key_node)
        if id(key_node) in explicit:  # explicit keys override merged ones, never each other
            if key in seen:
                line, column = _position(key_node.start_mark)
                raise YamlError(f"duplicate key {key!r}", line, column)
            seen.add(key)
        child_path = (*path, key)
        if key in result:  # an explicit key replacing a merged one: forget the merged marks
            for stale in [p for p in marks if p[: len(child_path)] == child_path]:
                del marks[stale]
        marks[child_path] = _position(key_node.start_mark)
        result[key] = _build(value_node, child_path, marks, loader, depth + 1)
    return result


def _key(node: yaml.Node) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
        line, column = _position(node.start_mark)
        raise YamlError("mapping keys must be plain scalars", line, column)
    return str(node.value)


def _scalar(node: yaml.Node, loader: Any) -> Any:
    import yaml

    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except (ValueError, OverflowError, TypeError) as error:
        line, column = _position(node.start_mark)
        what = "date" if str(node.tag).endswith("timestamp") else "value"
        raise YamlError(f"invalid {what} {node.value!r}: {error}", line, column) from None
