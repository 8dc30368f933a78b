"""Load scenario YAML safely, report every problem with its position, apply overrides.

Reading a scenario is done in three passes, so that nothing dangerous is ever built:

1. **Event scan.** The YAML event stream is read (no objects are constructed) and the
   file is refused if it uses any tag (``!!python/object``, ``!foo``, even ``!!str``),
   any anchor or alias (``&a`` / ``*a``: aliases are how "billion laughs" bombs expand
   exponentially, so scenarios may not use them at all — repeat the value instead),
   more than one document, or nesting deeper than :data:`MAX_DEPTH`.
2. **Round-trip load.** ruamel.yaml's round-trip loader builds plain mappings, lists
   and scalars (it never instantiates arbitrary Python classes) and keeps each node's
   line and column. YAML 1.2 semantics apply: ``yes``/``no``/``on``/``off`` are strings,
   not booleans. Duplicate keys are errors.
3. **Validation.** The data are converted to plain Python values, validated by
   :class:`scenarios.schema.Scenario`, and every pydantic error is mapped back to the
   YAML position of the offending key or value, with "did you mean" suggestions for
   misspelled keys and choices.

All problems are collected and raised together as one :class:`ScenarioError`, whose
``str()`` lists them one per line as ``file:line:column: field.path: message`` — at most
:data:`MAX_PROBLEMS` of them, then one line ``… and N more problems``. "Did you mean"
suggestions are computed only for the problems that are listed, and a file with more than
:data:`MAX_PROBLEMS` unknown keys is reported from the event scan alone (pass 1 checks
mapping keys against the schema), so even 100,000 unknown keys are reported in well under
a second.

Files, pipes (``/dev/stdin``) and devices are read the same way, once and bounded:
:func:`read_text_bounded` reads at most :data:`MAX_SCENARIO_BYTES` (+1 byte to detect
more), so ``/dev/zero`` is refused after a few megabytes and a pipe is never read twice.

Overrides (``--set population.providers=500`` on the command line, or
``population__providers=500`` keyword arguments from ``mesa.batch_run``) are applied to
a validated scenario by :func:`apply_overrides`, which revalidates the result.
"""

import dataclasses
import datetime
import difflib
import io
import re
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, PydanticUserError, TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.representer import SafeRepresenter

from ledgerlab.scenarios.schema import Scenario, SchemaConsistencyError

__all__ = [
    "MAX_DEPTH",
    "MAX_PROBLEMS",
    "MAX_SCENARIO_BYTES",
    "MAX_SCENARIO_CHARS",
    "Problem",
    "ScenarioError",
    "apply_overrides",
    "format_path",
    "load",
    "loads",
    "parse_set_option",
    "read_text_bounded",
    "to_yaml",
]

MAX_SCENARIO_CHARS = 2_000_000
"""Largest scenario text accepted (characters); real scenarios are a few kilobytes."""

MAX_SCENARIO_BYTES = 4 * MAX_SCENARIO_CHARS
"""Most bytes read from a scenario file, pipe or device (bytes): the UTF-8 size of
:data:`MAX_SCENARIO_CHARS` characters at worst, so the text limit is what applies."""

MAX_DEPTH = 64
"""Deepest nesting of mappings/lists accepted (levels); the schema needs fewer than 10."""

MAX_PROBLEMS = 50
"""Most problems listed in a :class:`ScenarioError` (problems); the rest are counted in a
final ``… and N more problems`` line."""

FieldPath = tuple[str | int, ...]


# ------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario.

    ``line`` and ``column`` are 1-based positions in ``file`` (None when the problem
    has no position, e.g. a missing file or an override). ``path`` is the field path
    (``population.providers``, ``defenses[0].kind``), empty for file-level problems.
    """

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column if self.column is not None else 1}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class _MoreProblems(Problem):
    """The last problem of a capped list: ``… and N more problems`` (``count`` = N)."""

    count: int = 0


def _capped(problems: Iterable[Problem]) -> list[Problem]:
    """At most :data:`MAX_PROBLEMS` problems (in the given order), then one line counting
    the rest; counts of lists capped earlier (e.g. one per variant) are added up."""
    given = list(problems)
    kept = [p for p in given if not isinstance(p, _MoreProblems)]
    more = sum(p.count for p in given if isinstance(p, _MoreProblems))
    more += max(0, len(kept) - MAX_PROBLEMS)
    if more == 0:
        return kept
    noun = "problem" if more == 1 else "problems"
    line = f"… and {more:,} more {noun}"
    return [*kept[:MAX_PROBLEMS], _MoreProblems(given[0].file, None, None, "", line, count=more)]


class ScenarioError(ValueError):
    """A scenario (file, text or overrides) is invalid; :attr:`problems` lists the problems.

    ``str(error)`` is one ``file:line:column: field.path: message`` line per problem,
    ready to print to a user. At most :data:`MAX_PROBLEMS` problems are kept; a last one,
    ``… and N more problems``, counts the others (:attr:`omitted` is N).
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = _capped(problems)
        super().__init__(str(self))

    @property
    def omitted(self) -> int:
        """Problems found but not listed (problems)."""
        return sum(p.count for p in self.problems if isinstance(p, _MoreProblems))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuild from the problems (not from the message) when pickled, e.g. by a
        # process pool or a Dask worker
        return (type(self), (self.problems,))


def _suggest(word: str, choices: Sequence[str]) -> str:
    """`; did you mean 'x'?` when a choice is close to ``word``, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _allowed_list(allowed: Sequence[str]) -> str:
    """The hint for an unknown key without a close match: every allowed key."""
    return "; allowed keys: " + ", ".join(allowed) if allowed else ""


@dataclass(frozen=True)
class _Hinted:
    """A problem whose "did you mean" is worked out only if the problem is listed:
    difflib over every one of 100,000 unknown keys would take most of a minute.

    The listed message is ``problem.message`` + the suggestion for ``word`` among
    ``choices``, or ``otherwise`` when none is close.
    """

    problem: Problem
    word: str
    choices: tuple[str, ...]
    otherwise: str = ""

    def finish(self) -> Problem:
        """The problem with its hint."""
        hint = _suggest(self.word, self.choices) or self.otherwise
        return dataclasses.replace(self.problem, message=self.problem.message + hint)


def _problem_of(item: Problem | _Hinted) -> Problem:
    return item.problem if isinstance(item, _Hinted) else item


def _sorted(problems: Iterable[Problem | _Hinted]) -> list[Problem | _Hinted]:
    """Problems in file order (positionless ones last), without exact repeats."""
    unique = list(dict.fromkeys(problems))
    big = 1 << 62

    def position(item: Problem | _Hinted) -> tuple[int, int]:
        p = _problem_of(item)
        return (
            p.line if p.line is not None else big,
            p.column if p.column is not None else big,
        )

    return sorted(unique, key=position)


def _report(problems: Iterable[Problem | _Hinted]) -> list[Problem]:
    """The problems to raise: in file order, the first :data:`MAX_PROBLEMS` with their
    hints worked out, then ``… and N more problems`` for the rest."""
    ordered = _sorted(problems)
    listed = [
        item.finish() if isinstance(item, _Hinted) else item for item in ordered[:MAX_PROBLEMS]
    ]
    rest = [_problem_of(item) for item in ordered[MAX_PROBLEMS:]]
    return _capped(listed + rest)


# ---------------------------------------------------------------------- field paths


def format_path(path: FieldPath) -> str:
    """Render a field path for users: ``('defenses', 0, 'kind')`` → ``defenses[0].kind``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and a ``| None`` from a type annotation."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _kind_members(annotation: Any) -> dict[str, type[BaseModel]] | None:
    """For a union discriminated on ``kind``, map each kind to its model; else None."""
    if get_origin(annotation) not in (Union, types.UnionType):
        return None
    members: dict[str, type[BaseModel]] = {}
    for arg in get_args(annotation):
        if not (isinstance(arg, type) and issubclass(arg, BaseModel)):
            return None
        field = arg.model_fields.get("kind")
        if field is None:
            return None
        members[str(field.default)] = arg
    return members


def _is_plain_union(annotation: Any) -> bool:
    """A union that is not discriminated on ``kind`` (e.g. ``Literal[...] | float``)."""
    return get_origin(annotation) in (Union, types.UnionType) and _kind_members(annotation) is None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _resolve_loc(loc: tuple[Any, ...]) -> tuple[FieldPath, Any]:
    """Turn a pydantic error ``loc`` into a user field path and the type found there.

    Pydantic inserts the discriminator tag into locations inside a discriminated
    union (``tokenomics.emission.halving.cap_tokens``); users never write it, so it is
    dropped. The returned type is the (unwrapped) annotation at the end of the path, or
    None when the path leaves the schema (an unknown key).
    """
    current: Any = Scenario
    path: list[str | int] = []
    for item in loc:
        current = _unwrap(current)
        members = _kind_members(current) if current is not None else None
        if members is not None and isinstance(item, str) and item in members:
            current = members[item]
            continue
        if members is None and _is_plain_union(current) and isinstance(item, str):
            # a member label of a plain union ("literal['one_identity']", "float", ...)
            options = [a for a in get_args(current) if a is not type(None)]
            literal = [a for a in options if get_origin(a) is Literal]
            other = [a for a in options if get_origin(a) is not Literal]
            current = literal[0] if item.startswith("literal[") and literal else other[0]
            continue
        path.append(item)
        if _is_model(current) and isinstance(item, str):
            field = current.model_fields.get(item)
            current = field.annotation if field is not None else None
        elif get_origin(current) in (tuple, list) and isinstance(item, int):
            current = get_args(current)[0]
        else:
            current = None
    return tuple(path), _unwrap(current) if current is not None else None


# ------------------------------------------------------------------- YAML positions


class _Positions:
    """1-based (line, column) of every key and value of a loaded YAML document."""

    def __init__(self) -> None:
        self.values: dict[FieldPath, tuple[int, int]] = {}
        self.keys: dict[FieldPath, tuple[int, int]] = {}

    def locate(self, path: FieldPath, *, key: bool = False) -> tuple[int | None, int | None]:
        """Position of the key (``key=True``) or value at ``path``, else of the nearest
        enclosing node that exists in the file (a defaulted field points at its section)."""
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while True:
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return (None, None)
            probe = probe[:-1]


def _plain(node: Any, path: FieldPath, positions: _Positions) -> Any:
    """Convert ruamel round-trip nodes to plain dict/list/scalars, recording positions."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key in node:
            name = key if isinstance(key, str) else str(key)
            child = (*path, name)
            try:
                key_line, key_col = node.lc.key(key)
                positions.keys[child] = (key_line + 1, key_col + 1)
            except (KeyError, TypeError, IndexError):  # merged keys carry no position
                positions.keys[child] = positions.values.get(path, (1, 1))
            value = node[key]
            if isinstance(value, (CommentedMap, CommentedSeq)):
                positions.values[child] = (value.lc.line + 1, value.lc.col + 1)
            elif value is None:
                positions.values[child] = positions.keys[child]
            else:
                try:
                    value_line, value_col = node.lc.value(key)
                    positions.values[child] = (value_line + 1, value_col + 1)
                except (KeyError, TypeError, IndexError):
                    positions.values[child] = positions.keys[child]
            out[name] = _plain(value, child, positions)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*path, index)
            if isinstance(value, (CommentedMap, CommentedSeq)):
                positions.values[child] = (value.lc.line + 1, value.lc.col + 1)
            else:
                try:
                    item_line, item_col = node.lc.item(index)
                    positions.values[child] = (item_line + 1, item_col + 1)
                except (KeyError, TypeError, IndexError):
                    positions.values[child] = positions.values.get(path, (1, 1))
            items.append(_plain(value, child, positions))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node  # e.g. a date: left as is, the schema rejects it with its position


def _mark_problem(error: MarkedYAMLError, source: str) -> Problem:
    """A YAML syntax/structure error as a Problem at the parser's position."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    problem = str(error.problem or "").strip()
    if isinstance(error, DuplicateKeyError):
        found = re.search(r'duplicate key "(.*?)"', problem)
        key = found.group(1) if found else "?"
        start = error.context_mark
        where = f" (in the mapping starting at line {start.line + 1})" if start else ""
        message = f"duplicate key '{key}'{where}; each key may appear once, remove one"
    else:
        context = str(error.context or "").strip()
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return Problem(source, line, column, "", message)


def _tag_text(tag: Any) -> str:
    text = str(getattr(tag, "value", tag))
    return (
        "!!" + text[len("tag:yaml.org,2002:") :] if text.startswith("tag:yaml.org,2002:") else text
    )


_STRUCTURE_EVENTS = ("MappingStartEvent", "SequenceStartEvent")
_END_EVENTS = ("MappingEndEvent", "SequenceEndEvent")
_NODE_EVENTS = ("ScalarEvent", "AliasEvent", *_STRUCTURE_EVENTS)


def _keys_of(annotation: Any) -> tuple[str, ...] | None:
    """Keys a mapping of this schema type may hold, or None when any key may appear or
    the type is not a section (a wrong type is then pydantic's to report, not a key's).
    For a union discriminated on ``kind`` these are the keys of every kind."""
    current = _unwrap(annotation)
    if _is_model(current):
        return tuple(current.model_fields)
    members = _kind_members(current)
    if members:
        return tuple(dict.fromkeys(k for m in members.values() for k in m.model_fields))
    return None


def _child_type(annotation: Any, key: str) -> Any:
    """The schema type of the value at ``key`` in a mapping of this type (None: unknown)."""
    current = _unwrap(annotation)
    models = [current] if _is_model(current) else list((_kind_members(current) or {}).values())
    for model in models:
        if key in model.model_fields:
            return model.model_fields[key].annotation
    if get_origin(current) is dict:
        return get_args(current)[1]
    return None


def _item_type(annotation: Any) -> Any:
    """The schema type of the items of a list of this type (None: unknown)."""
    current = _unwrap(annotation)
    return get_args(current)[0] if get_origin(current) in (tuple, list) else None


@dataclass
class _Frame:
    """An open mapping or list of the event stream, with its schema type and path."""

    is_map: bool
    annotation: Any
    path: FieldPath
    expect_key: bool = True
    key: str | None = None
    index: int = 0


class _KeyWalk:
    """Follows an event stream's mapping keys through a schema type and collects the keys
    the schema does not have — without building any object, so it stays cheap when a file
    holds 100,000 of them."""

    def __init__(self, root: Any, source: str) -> None:
        self.root = root
        self.source = source
        self.frames: list[_Frame] = []
        self.unknown: list[_Hinted] = []
        self._keys: dict[int, tuple[str, ...] | None] = {}

    def node(self, event: Any, kind: str) -> None:
        """A node starts (``kind`` is the event class name): place it in its parent."""
        path: FieldPath = ()
        annotation = self.root
        if self.frames:
            frame = self.frames[-1]
            if frame.is_map and frame.expect_key:
                frame.expect_key = False
                frame.key = str(event.value) if kind == "ScalarEvent" else None
                if frame.key is not None:
                    self._check(frame, frame.key, event)
                path, annotation = frame.path, None  # nothing under a key is checked
            elif frame.is_map:
                frame.expect_key = True
                path = (*frame.path, frame.key if frame.key is not None else "?")
                annotation = _child_type(frame.annotation, frame.key) if frame.key else None
            else:
                path = (*frame.path, frame.index)
                annotation = _item_type(frame.annotation)
                frame.index += 1
        if kind in _STRUCTURE_EVENTS:
            self.frames.append(_Frame(kind == "MappingStartEvent", annotation, path))

    def end(self) -> None:
        """The innermost mapping or list ends."""
        self.frames.pop()

    def _check(self, frame: _Frame, key: str, event: Any) -> None:
        if frame.annotation is None:
            return
        slot = id(frame.annotation)
        if slot not in self._keys:
            self._keys[slot] = _keys_of(frame.annotation)
        allowed = self._keys[slot]
        if allowed is None or key in allowed:
            return
        mark = event.start_mark
        problem = Problem(
            self.source,
            mark.line + 1,
            mark.column + 1,
            format_path((*frame.path, key)),
            f"unknown key '{key}'",
        )
        self.unknown.append(_Hinted(problem, key, allowed, _allowed_list(allowed)))


class _Scan:
    """Pass 1 over YAML events: refuses tags, anchors, aliases, several documents and deep
    nesting, and (with a schema type) collects unknown keys. Counts every problem; the
    error lists :data:`MAX_PROBLEMS` of them."""

    def __init__(self, source: str, root: Any) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.walk = _KeyWalk(root, source) if root is not None else None

    def at(self, event: Any, message: str) -> None:
        mark = event.start_mark
        self.problems.append(Problem(self.source, mark.line + 1, mark.column + 1, "", message))

    def run(self, events: Iterable[Any]) -> None:
        """Check every event; stops only at nesting deeper than :data:`MAX_DEPTH`."""
        depth = documents = 0
        walk = self.walk
        for event in events:
            kind = type(event).__name__
            self._refuse_decorations(event, kind)
            if kind == "DocumentStartEvent":
                documents += 1
                if documents == 2:
                    self.at(
                        event, "a scenario file holds one YAML document; remove the extra '---'"
                    )
            elif kind in _STRUCTURE_EVENTS:
                depth += 1
                if depth > MAX_DEPTH:
                    self.at(event, f"nesting deeper than {MAX_DEPTH} levels is not allowed")
                    return
            elif kind in _END_EVENTS:
                depth -= 1
                if walk is not None and documents == 1:
                    walk.end()
                continue
            if walk is not None and documents == 1 and kind in _NODE_EVENTS:
                walk.node(event, kind)

    def _refuse_decorations(self, event: Any, kind: str) -> None:
        """Aliases, anchors and explicit tags are refused where they occur."""
        if kind == "AliasEvent":
            self.at(
                event,
                f"YAML alias '*{event.anchor}' is not allowed: aliases can expand "
                "exponentially (billion laughs); repeat the value instead",
            )
            return
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.at(
                event,
                f"YAML anchor '&{anchor}' is not allowed (anchors and aliases are "
                "refused); remove it and repeat the value where needed",
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.at(
                event,
                f"YAML tag '{_tag_text(tag)}' is not allowed: scenarios hold plain "
                "values only; remove the tag (quote the value if it is text)",
            )


def _libyaml_events(text: str) -> Iterator[Any] | None:
    """The YAML events of ``text`` from libyaml (PyYAML's C parser, installed with dask),
    about 20 times faster than ruamel's pure-Python parser; None when unavailable.

    Only events are produced: nothing is constructed. libyaml reads YAML 1.1, ruamel 1.2;
    the event structure is the same, and on any libyaml error the scan is redone with
    ruamel, whose messages (and final word on syntax) the loader reports.
    """
    try:
        import yaml  # PyYAML: a dependency of dask, used for speed only when present
    except ImportError:  # pragma: no cover - dask always brings it
        return None
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:  # pragma: no cover - a PyYAML built without libyaml
        return None
    return yaml.parse(text, Loader=loader)


def _scan(text: str, source: str, root: Any = None) -> tuple[list[Problem], list[_Hinted]]:
    """Pass 1: structural problems, and the keys unknown to the schema type ``root``
    (None: keys are not checked), each in file order of discovery."""
    fast = _libyaml_events(text)
    if fast is not None:
        scan = _Scan(source, root)
        try:
            scan.run(fast)
        except Exception:  # any libyaml failure: the scan is redone with ruamel below
            pass
        else:
            return scan.problems, scan.walk.unknown if scan.walk is not None else []
    scan = _Scan(source, root)
    try:
        scan.run(YAML(typ="rt").parse(io.StringIO(text)))
    except MarkedYAMLError as error:
        scan.problems.append(_mark_problem(error, source))
    except YAMLError as error:
        scan.problems.append(Problem(source, None, None, "", f"invalid YAML: {error}"))
    return scan.problems, scan.walk.unknown if scan.walk is not None else []


def _top_level_keys(text: str) -> list[str] | None:
    """The keys of the top-level mapping of YAML text, read from its events (nothing is
    built, so this is cheap even for a large file); None when the text does not parse or
    its top level is not a mapping. Lets a caller tell a variant file from a scenario
    before parsing it with the right schema."""
    fast = _libyaml_events(text)
    if fast is not None:
        try:
            return _keys_from_events(fast)
        except Exception:  # any libyaml failure: ruamel decides below
            pass
    try:
        return _keys_from_events(YAML(typ="rt").parse(io.StringIO(text)))
    except YAMLError:
        return None


def _keys_from_events(events: Iterable[Any]) -> list[str] | None:
    """The scalar keys of the first document's top-level mapping (None if not a mapping)."""
    keys: list[str] = []
    depth = 0
    at_key = False
    for event in events:
        kind = type(event).__name__
        if kind in _END_EVENTS:
            depth -= 1
            if depth == 0:
                return keys
        elif kind in _NODE_EVENTS:
            if depth == 0:
                if kind != "MappingStartEvent":
                    return None
                depth, at_key = 1, True
                continue
            if depth == 1:
                if at_key and kind == "ScalarEvent":
                    keys.append(str(event.value))
                at_key = not at_key
            if kind in _STRUCTURE_EVENTS:
                depth += 1
    return None


def _parse(text: str, source: str, root: Any = None) -> tuple[Any, _Positions]:
    """Parse YAML text safely into plain Python values and their positions.

    With a schema type ``root``, more than :data:`MAX_PROBLEMS` unknown keys are reported
    from the event scan, before the (slower) round-trip load.
    """
    if len(text) > MAX_SCENARIO_CHARS:
        raise ScenarioError(
            [
                Problem(
                    source,
                    None,
                    None,
                    "",
                    f"text is {len(text):,} characters, more than the {MAX_SCENARIO_CHARS:,} "
                    "allowed; a scenario is a few kilobytes",
                )
            ]
        )
    problems, unknown = _scan(text, source, root)
    if problems:
        raise ScenarioError(_report(problems))
    if len(unknown) > MAX_PROBLEMS:
        raise ScenarioError(_report(unknown))
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        document = yaml.load(text)
    except MarkedYAMLError as error:
        raise ScenarioError([_mark_problem(error, source)]) from None
    except YAMLError as error:
        raise ScenarioError([Problem(source, None, None, "", f"invalid YAML: {error}")]) from None
    positions = _Positions()
    if isinstance(document, (CommentedMap, CommentedSeq)):
        positions.values[()] = (document.lc.line + 1, document.lc.col + 1)
    else:
        positions.values[()] = (1, 1)
    return _plain(document, (), positions), positions


# ----------------------------------------------------------------- pydantic errors


def _show(value: Any) -> str:
    """A short, YAML-flavoured rendering of an offending value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()} (quote it if you meant text)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> Any:
    """Bounds for messages: ``0.0`` → ``0``, other values unchanged."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


_TEMPLATES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be ≥ {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be ≤ {le}",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number (no .inf or .nan)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "must match the pattern {pattern}",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of keys to values",
}


def _core(error: Mapping[str, Any], annotation: Any) -> str:
    """What a value must be, for one pydantic error, e.g. ``must be ≥ 0``."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error" and get_origin(annotation) is Literal:
        return "must be one of " + ", ".join(f"'{c}'" for c in get_args(annotation))
    if kind in ("model_attributes_type", "model_type") and _kind_members(annotation):
        kinds = ", ".join(_kind_members(annotation) or {})
        return f"must be a mapping with a 'kind' key, one of: {kinds}"
    template = _TEMPLATES.get(kind)
    if template is not None:
        try:
            return template.format(**{name: _number(v) for name, v in ctx.items()})
        except (KeyError, IndexError):
            pass
    return str(error["msg"]).replace("Input should be", "must be")


def _describe(error: Mapping[str, Any], annotation: Any) -> tuple[str, tuple[str, ...]]:
    """A user message for one pydantic error (without the position or a "did you mean"),
    and the choices a misspelled value may be close to (empty if none)."""
    value = error.get("input")
    choices: tuple[str, ...] = ()
    if error["type"] == "literal_error" and isinstance(value, str):
        choices = tuple(str(c) for c in get_args(annotation))
    return f"{_core(error, annotation)} (got {_show(value)})", choices


def _validation_problems(
    exc: ValidationError,
    source: str,
    positions: _Positions | None,
) -> list[Problem | _Hinted]:
    """Map every pydantic error to a Problem at its YAML position (if known); problems
    with a "did you mean" come as :class:`_Hinted` (finished by :func:`_report`)."""
    problems: list[Problem | _Hinted] = []

    def add(
        path: FieldPath,
        message: str,
        *,
        key: bool = False,
        word: Any = None,
        choices: Sequence[str] = (),
        otherwise: str = "",
    ) -> None:
        line, column = positions.locate(path, key=key) if positions else (None, None)
        problem = Problem(source, line, column, format_path(path), message)
        if isinstance(word, str) and (choices or otherwise):
            problems.append(_Hinted(problem, word, tuple(choices), otherwise))
        else:
            problems.append(problem)

    alternatives: dict[FieldPath, list[tuple[Any, Any]]] = {}
    errors = exc.errors(include_url=False)
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and _has_deeper_error(loc, errors):
            continue  # pydantic's echo of a failed item: the item's own error says it
        kind = error["type"]
        cause = (error.get("ctx") or {}).get("error")
        if kind == "value_error" and isinstance(cause, SchemaConsistencyError):
            base, _ = _resolve_loc(loc)
            for relative, message in cause.problems:
                add((*base, *relative), message)
            continue
        path, annotation = _resolve_loc(loc)
        if _through_plain_union(loc):
            alternatives.setdefault(path, []).append((error, annotation))
            continue
        if kind == "extra_forbidden":
            _, parent = _resolve_loc(loc[:-1])
            allowed = list(parent.model_fields) if _is_model(parent) else []
            name = str(path[-1]) if path else "?"
            add(
                path,
                f"unknown key '{name}'",
                key=True,
                word=name,
                choices=allowed,
                otherwise=_allowed_list(allowed),
            )
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            kinds = list(_kind_members(annotation) or {})
            listed = ", ".join(kinds)
            value = error.get("input")
            if kind == "union_tag_invalid":
                tag = str((error.get("ctx") or {}).get("tag", ""))
                message = f"unknown kind '{tag}'; expected one of: {listed}"
                add((*path, "kind"), message, word=tag, choices=kinds)
            else:
                add(path, f"missing key 'kind' (one of: {listed}) (got {_show(value)})")
        elif kind == "missing":
            add(path, "required key is missing", key=True)
        else:
            message, choices = _describe(error, annotation)
            add(path, message, word=error.get("input"), choices=choices)
    for path, failures in alternatives.items():
        # one message for a value that matched none of a union's alternatives
        cores = [_core(error, annotation) for error, annotation in failures]
        joined = cores[0] + "".join(" or " + c.removeprefix("must be ") for c in cores[1:])
        value = failures[0][0].get("input")
        choices = [
            str(c)
            for _, annotation in failures
            if get_origin(annotation) is Literal
            for c in get_args(annotation)
        ]
        add(path, f"{joined} (got {_show(value)})", word=value, choices=choices)
    return problems


def _through_plain_union(loc: tuple[Any, ...]) -> bool:
    """Whether an error ``loc`` passes through a member label of a plain union."""
    current: Any = Scenario
    for item in loc:
        current = _unwrap(current)
        if current is None:
            return False
        members = _kind_members(current)
        if members is not None:
            current = members.get(item) if isinstance(item, str) else None
        elif _is_plain_union(current):
            return True
        elif _is_model(current) and isinstance(item, str):
            field = current.model_fields.get(item)
            current = field.annotation if field is not None else None
        elif get_origin(current) in (tuple, list) and isinstance(item, int):
            current = get_args(current)[0]
        else:
            return False
    return False


def _has_deeper_error(loc: tuple[Any, ...], errors: list[Any]) -> bool:
    """Whether another error lies strictly inside ``loc``."""
    return any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors)


def _validate(data: Any, source: str, positions: _Positions | None) -> Scenario:
    """Validate plain data as a Scenario, mapping errors to positions."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_report(_validation_problems(exc, source, positions))) from None


# --------------------------------------------------------------------------- loading


def loads(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate scenario YAML text.

    ``source`` names the text in error messages (a file name, ``<string>``...).
    Raises :class:`ScenarioError` listing the problems found (at most
    :data:`MAX_PROBLEMS`, then a count of the rest).
    """
    data, positions = _parse(text, source, Scenario)
    return _scenario_from_data(data, positions, source)


def _scenario_from_data(data: Any, positions: _Positions | None, source: str) -> Scenario:
    """Validate data parsed by :func:`_parse` (with its positions) as a Scenario.

    For callers that parse a text once and then decide what it is (a scenario or a
    variant file, see :func:`ledgerlab.scenarios.variants.load_any`).
    """
    line, column = positions.locate(()) if positions is not None else (None, None)

    def refuse(message: str) -> ScenarioError:
        return ScenarioError([Problem(source, line, column, "", message)])

    if data is None:
        raise refuse(
            "the scenario is empty; write at least `name: my_scenario` (every other field "
            "has a default)"
        )
    if not isinstance(data, dict):
        raise refuse(
            "the top level must be a mapping of sections (name:, population:, datanets:, "
            f"...), got {_show(data)}"
        )
    if "base" in data and "variants" in data:
        raise refuse(
            "this is a variant file (base: and variants:), not a single scenario; load it "
            "with ledgerlab.scenarios.variants.load_any or load_variants, or run it with "
            "`ledgerlab compare`"
        )
    return _validate(data, source, positions)


def read_text_bounded(path: str | PathLike[str]) -> str:
    """The text of a scenario file, pipe or device, read once and bounded.

    One ``read`` of at most :data:`MAX_SCENARIO_BYTES` + 1 bytes (the extra byte tells a
    text that is too large): the size a file reports is never trusted, since pipes
    (``/dev/stdin``) and devices (``/dev/zero``) report 0, and a pipe can be read only
    once — so callers parse the returned text instead of reading the path again. The
    bytes are decoded as UTF-8 (a leading BOM is dropped).

    Raises :class:`ScenarioError` with one problem naming the file when it cannot be
    read, is too large or is not UTF-8.
    """
    source = str(path)

    def fail(message: str) -> ScenarioError:
        return ScenarioError([Problem(source, None, None, "", message)])

    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_SCENARIO_BYTES + 1)
    except FileNotFoundError:
        looked = Path(path).absolute()
        raise fail(f"file not found (looked for {looked}); check the path") from None
    except IsADirectoryError:
        raise fail("is a directory, not a scenario file; give the path of a .yaml file") from None
    except PermissionError:
        raise fail("cannot read the file: permission denied") from None
    except OSError as error:
        raise fail(f"cannot read the file: {error.strerror or error}") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise fail(
            f"holds more than {MAX_SCENARIO_BYTES:,} bytes (reading stopped there); a "
            "scenario is a few kilobytes — is this the right file?"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise fail(
            f"is not UTF-8 text (undecodable byte at offset {error.start}); save it as UTF-8"
        ) from None


def load(path: str | PathLike[str]) -> Scenario:
    """Read (once, bounded: :func:`read_text_bounded`), parse and validate a scenario
    YAML file (UTF-8); a pipe such as ``/dev/stdin`` works too.

    Raises :class:`ScenarioError` if the file cannot be read or is invalid; every
    problem names the file, and the line, column and field where it has one.
    """
    return loads(read_text_bounded(path), source=str(path))


_ODD_CHARACTERS = re.compile(
    r"[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029\ufeff]"
)


def _represent_str(representer: Any, text: str) -> Any:
    """Strings with control or line-separator characters are written double-quoted with
    escapes, so that they read back unchanged."""
    style = '"' if _ODD_CHARACTERS.search(text) else None
    return representer.represent_scalar("tag:yaml.org,2002:str", text, style=style)


class _ScenarioRepresenter(SafeRepresenter):
    """ruamel's safe representer with :func:`_represent_str` for text (a subclass, so that
    other users of ruamel in the process are unaffected)."""


_ScenarioRepresenter.add_representer(str, _represent_str)


def to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (every field explicit), e.g. for
    ``scenario.resolved.yaml``; ``loads(to_yaml(s)) == s``."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    yaml.Representer = _ScenarioRepresenter
    stream = io.StringIO()
    stream.write(f"# Resolved scenario '{scenario.name}' (ledgerlab): every field explicit.\n")
    yaml.dump(scenario.model_dump(mode="json"), stream)
    return stream.getvalue()


# ------------------------------------------------------------------------- overrides


def _split_path(raw: str) -> list[str | int]:
    """``a.b[0].c``, ``a.b.0.c`` or ``a__b__0__c`` → ``['a', 'b', 0, 'c']``."""
    text = raw.strip()
    if "." in text or "[" in text:
        text = re.sub(r"\[\s*(\d+)\s*\]", r".\1", text)
        parts = text.split(".")
    else:
        parts = text.split("__")
    if not text or any(not part.strip() for part in parts):
        raise ValueError(
            "malformed path; write dotted field names like population.providers "
            "(or population__providers)"
        )
    return [int(p) if p.strip().isdigit() else p.strip() for p in parts]


def _to_data(value: Any) -> Any:
    """Override values as plain data: models dumped, numpy scalars/arrays to Python."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_data(v) for v in value]
    return value


def _item_index(items: list[Any], part: str | int, where: str, *, hints: bool = True) -> int:
    """Index of a list element by position or by its ``kind``/``name``/``holder`` value
    (``hints``: add a "did you mean" to the error)."""
    if isinstance(part, int):
        if 0 <= part < len(items):
            return part
        raise ValueError(f"index {part} is out of range: {where} has {len(items)} item(s)")
    labels: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            for key in ("kind", "name", "holder"):
                if key in item:
                    labels.append(str(item[key]))
                    if item[key] == part:
                        return index
    have = ", ".join(labels) if labels else "none"
    hint = _suggest(part, labels) if hints else ""
    raise ValueError(
        f"{where} has no entry '{part}' (have: {have}){hint}; select entries by index or by "
        "kind/name, or set the whole list"
    )


def _model_of(declared: Any, node: Any) -> type[BaseModel] | None:
    """The model describing ``node``: ``declared`` itself, or the union member of its kind."""
    annotation = _unwrap(declared) if declared is not None else None
    members = _kind_members(annotation)
    if members is not None:
        annotation = members.get(node.get("kind")) if isinstance(node, dict) else None
    return annotation if _is_model(annotation) else None


def _normalise(declared: Any, value: Any) -> Any:
    """A section-valued override completed with its defaults, when it validates alone.

    This lets later overrides address fields the value left out
    (``defenses=[{kind: dedup}]`` then ``defenses.dedup.near_duplicate_distance=0.1``).
    Invalid values are kept as given: the final validation reports them.
    """
    if declared is None or not isinstance(value, (dict, list)):
        return value
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(declared)
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except (ValidationError, PydanticUserError, TypeError):
        return value


def _set_path(
    data: dict[str, Any], parts: list[str | int], value: Any, *, hints: bool = True
) -> None:
    """Set ``value`` at ``parts`` inside plain scenario data; ValueError if the path is bad
    (with a "did you mean" when ``hints``; off once the problems listed are full).

    Setting a ``kind`` to a new value resets its section to that kind's defaults (the
    old kind's fields would not fit), so a kind is set before its sibling fields.
    """
    node: Any = data
    declared: Any = Scenario  # the schema type of `node`
    walked: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = format_path(tuple(walked)) or "the scenario"
        if isinstance(node, dict):
            if not isinstance(part, str) or part not in node:
                keys = list(node)
                hint = (
                    (_suggest(str(part), keys) or "; fields here: " + ", ".join(keys))
                    if hints
                    else ""
                )
                raise ValueError(f"unknown field '{part}' in {where}{hint}")
            model = _model_of(declared, node)
            field = model.model_fields.get(part) if model is not None else None
            child: Any = field.annotation if field is not None else None
            if last:
                if part == "kind":
                    if node.get("kind") != value:
                        members = _kind_members(_unwrap(declared)) or {}
                        member = members.get(value) if isinstance(value, str) else None
                        node.clear()
                        if member is not None:
                            node.update(member().model_dump(mode="json"))
                        node["kind"] = value
                    return
                node[part] = _normalise(child, value)
                return
            node, declared = node[part], child
        elif isinstance(node, list):
            index = _item_index(node, part, where, hints=hints)
            container = _unwrap(declared) if declared is not None else None
            child = get_args(container)[0] if get_origin(container) in (tuple, list) else None
            if last:
                node[index] = _normalise(child, value)
                return
            node, declared = node[index], child
            part = index
        else:
            raise ValueError(f"{where} is a single value, not a section; it has no '{part}'")
        walked.append(part)


def apply_overrides(
    scenario: Scenario,
    overrides: Mapping[str, object],
    *,
    source: str = "<overrides>",
) -> Scenario:
    """A copy of ``scenario`` with fields replaced, revalidated as a whole.

    Keys are field paths, dotted (``population.providers``, ``defenses[0].kind``,
    ``datanets.0.k``) or double-underscored (``population__providers``, as
    ``mesa.batch_run`` passes keyword arguments). List entries can be selected by index
    or by their ``kind``/``name``/``holder`` (``defenses.dedup.near_duplicate_distance``,
    ``tokenomics.vesting.team.cliff_epochs``). Setting a ``kind``
    (``tokenomics.emission.kind=halving``) switches the section to that kind with its
    defaults; other fields of the section given in the same call are applied after it.
    Values may be plain data, pydantic models or numpy scalars.

    Raises :class:`ScenarioError` (``file`` = ``source``) for unknown paths, with a
    "did you mean", and for values the schema rejects.
    """
    if not overrides:
        return scenario
    data = scenario.model_dump(mode="json")
    problems: list[Problem] = []
    parsed: list[tuple[str, list[str | int], Any]] = []
    for raw, value in overrides.items():
        try:
            parsed.append((raw, _split_path(str(raw)), _to_data(value)))
        except ValueError as error:
            problems.append(Problem(source, None, None, str(raw), str(error)))
    # parents before children, and a section's kind before its other fields
    parsed.sort(key=lambda item: (len(item[1]), item[1][-1] != "kind"))
    for raw, parts, value in parsed:
        try:
            _set_path(data, parts, value, hints=len(problems) < MAX_PROBLEMS)
        except ValueError as error:
            problems.append(Problem(source, None, None, str(raw), str(error)))
    if problems:
        raise ScenarioError(problems)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        found = _report(_validation_problems(exc, source, None))
        named: list[Problem] = []
        for problem in found:
            if isinstance(problem, _MoreProblems):
                named.append(problem)
                continue
            origin = next(
                (raw for raw, parts, _ in parsed if _within(problem.path, parts, data)),
                None,
            )
            suffix = f" (set by override '{origin}')" if origin is not None else ""
            named.append(Problem(source, None, None, problem.path, problem.message + suffix))
        raise ScenarioError(named) from None


def _within(path: str, parts: list[str | int], data: Any) -> bool:
    """Whether the field ``path`` lies at or under the override path ``parts``."""
    prefix = format_path(tuple(_canonical(parts, data)))
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _canonical(parts: list[str | int], data: Any) -> list[str | int]:
    """Override path with list selectors by kind/name replaced by their index."""
    out: list[str | int] = []
    node = data
    for part in parts:
        if isinstance(node, list):
            try:
                index = _item_index(node, part, "")
            except ValueError:
                return [*out, part]
            out.append(index)
            node = node[index]
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        else:
            out.append(part)
            node = None
    return out


def parse_set_option(option: str) -> tuple[str, Any]:
    """Parse a CLI ``--set PATH=VALUE`` into ``(path, value)``.

    The value is read as YAML (1.2, same safety rules as scenario files): ``500`` is an
    integer, ``0.2`` a float, ``true`` a boolean, ``halving`` or ``yes`` a string,
    ``null`` (or nothing) None, ``[{kind: dedup}]`` a list. Raises
    :class:`ScenarioError` for a missing ``=``, an empty path or invalid YAML.
    """
    source = "--set"
    path, sep, raw = option.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError(
            [
                Problem(
                    source,
                    None,
                    None,
                    "",
                    f"expected PATH=VALUE, e.g. population.providers=500 (got {option!r})",
                )
            ]
        )
    try:
        _split_path(path)
    except ValueError as error:
        raise ScenarioError([Problem(source, None, None, path, str(error))]) from None
    value, _ = _parse(raw, f"--set {path}")
    return path, value
