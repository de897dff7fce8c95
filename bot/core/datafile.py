"""Data files: reading them, YAML with the line of every node, CSV with the line of every row,
and the problems found, one line each as `file:line: field: message`.

Every loader of a data file (the directory, news and events, the rota, the urgency cues and
training set, the FAQ) reads through here, so they refuse an unreadable file, bad YAML and bad
CSV alike and name places the same way. What a file must contain stays with its loader.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from bot.core.errors import DataError

NodePath = tuple[object, ...]
"""Where a node is: the mapping keys and list indexes from the document's root."""

MAX_NODES = 1_000_000  # aliases can repeat a node exponentially often; no data file comes near
_NULL = "tag:yaml.org,2002:null"


class Problems:
    """The problems found in one source, each `source:line: field: message`; the line and the
    field only when known. In the order found, or with `in_line_order` in the file's order
    (problems without a line first)."""

    def __init__(self, source: str, *, in_line_order: bool = False) -> None:
        self.source = source
        self._in_line_order = in_line_order
        self._found: list[tuple[int, str]] = []

    def where(self, line: int | None) -> str:
        return f"{self.source}:{line}" if line else self.source

    def add(self, what: str, line: int | None = None, field: str = "") -> None:
        where = self.where(line)
        text = f"{where}: {field}: {what}" if field else f"{where}: {what}"
        self._found.append((line or 0, text))

    def extend(self, messages: Sequence[str]) -> None:
        """Messages already formatted (by a check that has its own prefix)."""
        self._found.extend((0, message) for message in messages)

    @property
    def messages(self) -> list[str]:
        if self._in_line_order:
            return [text for _, text in sorted(self._found, key=lambda found: found[0])]
        return [text for _, text in self._found]

    def __len__(self) -> int:
        return len(self._found)

    def raise_any(self) -> None:
        if self._found:
            raise DataError(self.messages)


class PathProblems(Problems):
    """Problems at paths into a YAML document (`Document.lines`): each on the line of the
    nearest enclosing node that has one; with `name_field`, the path's keys name the field."""

    def __init__(
        self,
        source: str,
        lines: Mapping[NodePath, int],
        *,
        in_line_order: bool = False,
        name_field: bool = False,
    ) -> None:
        super().__init__(source, in_line_order=in_line_order)
        self.lines = lines
        self._name_field = name_field

    def line(self, path: NodePath) -> int | None:
        return nearest_line(self.lines, path)

    def at(self, path: NodePath, what: str) -> None:
        field = ".".join(p for p in path if isinstance(p, str)) if self._name_field else ""
        self.add(what, self.line(path), field)


# --- Reading -------------------------------------------------------------------------------------


class Unreadable(DataError):
    """The file is missing or cannot be read as UTF-8: `FILE: no such file`, `FILE: cannot
    read: ...`. `detail` is the reason alone, for a loader that words it its own way."""

    def __init__(self, path: Path, error: OSError | UnicodeDecodeError) -> None:
        self.path = path
        self.detail = str(error)
        missing = isinstance(error, FileNotFoundError)
        super().__init__([f"{path}: no such file" if missing else f"{path}: cannot read: {error}"])


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Unreadable(path, exc) from None


def decode(raw: bytes, path: Path) -> str:
    """UTF-8, with or without a byte order mark (which Windows editors write)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(path, exc) from None


def read_text(path: Path) -> str:
    return decode(read_bytes(path), path)


# --- YAML ----------------------------------------------------------------------------------------


class BadYaml(DataError):
    """The text is not YAML: `source:line: bad YAML: problem` (without the line when the parser
    gives none). `line` and `column` are 1-based; `detail` is the parser's whole message."""

    def __init__(
        self, source: str, problem: str, detail: str, mark: yaml.Mark | None = None
    ) -> None:
        self.line = mark.line + 1 if mark else None
        self.column = mark.column + 1 if mark else None
        self.problem = problem
        self.detail = detail
        where = f"{source}:{self.line}" if self.line else source
        super().__init__([f"{where}: bad YAML: {problem}"])


def _loader(fast: bool) -> type[yaml.SafeLoader]:
    # libyaml, when PyYAML was built with it, composes about ten times faster; its messages are
    # worded differently, so a loader keeps the one whose messages it has always shown.
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader if fast else yaml.SafeLoader


def compose(text: str, source: str, *, fast: bool = False) -> yaml.Node | None:
    """The node tree (None for an empty document), for a loader that needs the nodes themselves:
    their tags, or keys given twice. Raises BadYaml.

    Composed by libyaml where PyYAML has it (start-up reads a dozen files, and the pure-Python
    composer takes most of a second over them); a text it refuses, or one with a character the
    pure-Python reader refuses, goes through the pure-Python composer, so that the problem is
    the one it has always reported. `fast`: libyaml's own message is good enough."""
    if fast or not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            return yaml.compose(text, Loader=_loader(True))
        except yaml.YAMLError as exc:
            if fast:
                raise _bad_yaml(source, exc) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _bad_yaml(source, exc) from None


def _bad_yaml(source: str, exc: yaml.YAMLError) -> BadYaml:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        return BadYaml(source, exc.problem or str(exc), str(exc), mark)
    return BadYaml(source, str(exc), str(exc))  # the reader's errors (a control character)


def node_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


@dataclass(frozen=True)
class Document:
    """A YAML document's data and the line of each of its nodes, by path."""

    data: object  # None for an empty document
    lines: Mapping[NodePath, int]

    def line(self, path: NodePath) -> int | None:
        return nearest_line(self.lines, path)


def nearest_line(lines: Mapping[NodePath, int], path: NodePath) -> int | None:
    """The line of the node at `path`, else of the nearest node that encloses it below the root
    (a missing field is reported on the line of its mapping)."""
    return next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)


def parse_yaml(text: str, source: str, *, typed: bool = True) -> Document:
    """Parse one document, keeping the line of every node. Typed, the data is what
    `yaml.safe_load` gives (ints, booleans, dates); otherwise every scalar stays the text as
    written, None for a null, so that YAML 1.1 does not read 18:00 as the number 1080 nor refuse
    2026-02-30 before the loader could say which field it is. Raises BadYaml."""
    root = compose(text, source)
    if root is None:
        return Document(None, {})
    lines: dict[NodePath, int] = {}
    if not typed:
        return Document(_Text(source, lines).value(root, ()), lines)
    constructor = SafeConstructor()
    try:
        data = constructor.construct_document(root)
    except yaml.YAMLError as exc:  # a tag with no constructor, a list as a key, ...
        raise _bad_yaml(source, exc) from None
    except ValueError:
        # PyYAML builds a date like 2026-02-30 without checking it: say which one it is.
        node, error = _first_unbuildable(root)
        raise BadYaml(source, error, error, node.start_mark) from None
    # Built after the data: building merges `<<:` keys into their mappings, so they count here.
    _Lines(source, lines).walk(root, ())
    return Document(data, lines)


def _first_unbuildable(root: yaml.Node) -> tuple[yaml.Node, str]:
    for node in _scalars(root, set()):
        try:
            SafeConstructor().construct_object(node)
        except ValueError as exc:
            return node, f"{node.value}: {exc}"
        except yaml.YAMLError:
            continue
    return root, "a value that cannot be read"  # not reached: one scalar failed to build


def _scalars(node: yaml.Node, seen: set[int]) -> Iterator[yaml.ScalarNode]:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item, seen)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(key, seen)
            yield from _scalars(value, seen)


class _Walk:
    """Visits every node by every path that reaches it, as the data repeats an aliased node,
    refusing an alias inside itself and more than MAX_NODES visits."""

    def __init__(self, source: str, lines: dict[NodePath, int]) -> None:
        self.source = source
        self.lines = lines
        self.visits = 0
        self.inside: set[int] = set()

    def enter(self, node: yaml.Node, path: NodePath) -> None:
        self.visits += 1
        if self.visits > MAX_NODES:
            problem = f"more than {MAX_NODES:,} values once aliases are expanded"
            raise BadYaml(self.source, problem, problem, node.start_mark)
        if id(node) in self.inside:
            problem = "an alias inside the node it names"
            raise BadYaml(self.source, problem, problem, node.start_mark)
        self.lines[path] = node_line(node)


class _Lines(_Walk):
    def __init__(self, source: str, lines: dict[NodePath, int]) -> None:
        super().__init__(source, lines)
        self.keys = SafeConstructor()

    def walk(self, node: yaml.Node, path: NodePath) -> None:
        self.enter(node, path)
        if isinstance(node, yaml.ScalarNode):
            return
        self.inside.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.walk(value, (*path, self.keys.construct_object(key, deep=True)))
        elif isinstance(node, yaml.SequenceNode):
            for n, item in enumerate(node.value):
                self.walk(item, (*path, n))
        self.inside.discard(id(node))


class _Text(_Walk):
    def value(self, node: yaml.Node, path: NodePath) -> object:
        self.enter(node, path)
        if isinstance(node, yaml.ScalarNode):
            return None if node.tag == _NULL else str(node.value)
        self.inside.add(id(node))
        value: object = None
        if isinstance(node, yaml.MappingNode):
            value = {str(k.value): self.value(v, (*path, str(k.value))) for k, v in node.value}
        elif isinstance(node, yaml.SequenceNode):
            value = [self.value(item, (*path, n)) for n, item in enumerate(node.value)]
        self.inside.discard(id(node))
        return value


# --- CSV -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvRow:
    line: int  # where the row ends: its only line unless a quoted value spans lines
    cells: tuple[str, ...]

    def fields(self, header: Sequence[str]) -> dict[str, str | None]:
        """The cells by column, None for a column the row stops short of (as csv.DictReader);
        cells beyond the header are left out (see `overflows`)."""
        cells = self.cells
        return {name: cells[n] if n < len(cells) else None for n, name in enumerate(header)}

    def overflows(self, header: Sequence[str]) -> bool:
        return len(self.cells) > len(header)


def read_csv(text: str, source: str) -> tuple[list[str], list[CsvRow]]:
    """The header (the first line, as written) and the rows after it, blank lines skipped.
    Raises DataError naming the line of a row the csv module cannot read."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, [])
        rows = [CsvRow(reader.line_num, tuple(cells)) for cells in reader if cells]
    except csv.Error as exc:
        raise DataError([f"{source}:{reader.line_num}: bad CSV: {exc}"]) from None
    return header, rows
