"""Persistence lives in store/ (ARCHITECTURE.md, issue 13): workers/, notifier/, router/ and ingest/ call named
functions of store modules and build no queries themselves.

The scan reads each module's syntax tree and reports, per file:

- SQL text in a string literal (docstrings aside): ``SELECT ... FROM``, ``INSERT INTO``, ``UPDATE x SET``,
  ``DELETE FROM``, ``JOIN``, DDL, ``FOR UPDATE``, advisory locks;
- ``fastsql`` (store's tool for the hot path) used directly, or anything of ``peewee`` but its exception
  classes and type names in annotations (catching ``peewee.OperationalError`` where the database may be
  down is not building a query);
- ``helpline.store.models`` imported for anything but type names: an import under ``if TYPE_CHECKING:`` is fine,
  and so is a plain import whose names appear only in annotations;
- peewee query building: ``.where(``, ``.get_or_none(``, ``.insert_many(``, ``.on_conflict(``, ... and any
  ``_meta``.

``NOT_YET_CONVERTED`` lists the files whose queries have not moved yet; whoever converts a file removes it here.
A listed file that has become clean fails the test too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("workers", "notifier", "router", "ingest")

# Files not converted yet, by the helper converting them (paths relative to the repository root; a folder ends
# with "/" and covers everything under it).
NOT_YET_CONVERTED: frozenset[str] = frozenset({})

# Upper-case SQL only: prose in messages says "select" and "update" in lower case.
_SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\"?\w+\"?\s+SET\b|\bDELETE\s+FROM\b|\bJOIN\s+\"?\w+"
    r"|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b|\bFOR\s+UPDATE\b|\bSKIP\s+LOCKED\b|pg_advisory|\bRETURNING\s+\w+"
    r"|\bWHERE\s+\"?\w+\"?\s*(=|<|>|IN\b|IS\b)"
)
# Method names peewee's query builder has and plain Python objects (dict, str, set, numpy) do not.
_QUERY_CALLS = frozenset(
    {
        "where",
        "get_or_none",
        "get_or_create",
        "insert_many",
        "insert_from",
        "on_conflict",
        "on_conflict_ignore",
        "on_conflict_replace",
        "for_update",
        "tuples",
        "dicts",
        "namedtuples",
        "objects",
        "order_by",
        "group_by",
        "having",
        "execute_sql",
        "select_from",
        "bulk_create",
        "bulk_update",
        "switch",
        "left_outer_join",
    }
)
_NOT_PEEWEE_ROOTS = frozenset({"np", "numpy", "pd"})
_MODELS = "helpline.store.models"


def _is_exception(name: str) -> bool:
    return name.endswith(("Error", "Exception"))


@dataclass
class _Scan(ast.NodeVisitor):
    """Collects one module's offences as ``line: what`` strings."""

    found: list[str] = field(default_factory=list)
    models_names: dict[str, int] = field(default_factory=dict)  # name bound by a models import -> line
    peewee_modules: set[str] = field(default_factory=set)  # names bound to the peewee module
    in_annotation: int = 0
    in_type_checking: int = 0
    docstrings: set[int] = field(default_factory=set)

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{getattr(node, 'lineno', 0)}: {what}")

    # --- imports --------------------------------------------------------------------------------------------
    def visit_If(self, node: ast.If) -> None:
        test = node.test
        is_tc = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if is_tc:
            self.in_type_checking += 1
            for stmt in node.body:
                self.visit(stmt)
            self.in_type_checking -= 1
            for stmt in node.orelse:
                self.visit(stmt)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "peewee":
                self.peewee_modules.add(alias.asname or alias.name)
            elif alias.name.startswith(("peewee.", "playhouse")):
                self.report(node, f"imports {alias.name}")
            if alias.name in (_MODELS, "helpline.store.fastsql") and not self.in_type_checking:
                self.report(node, f"imports {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        if node.level:  # relative imports only happen inside a package; resolve the usual store ones by name
            mod = ""
        if mod == "peewee":
            for alias in node.names:
                if not _is_exception(alias.name):
                    self.report(node, f"imports {alias.name} from peewee")
        elif mod.startswith(("peewee.", "playhouse")):
            self.report(node, f"imports {mod}")
        if mod == "helpline.store":
            for alias in node.names:
                if alias.name == "fastsql":
                    self.report(node, "imports helpline.store.fastsql")
                elif alias.name == "models" and not self.in_type_checking:
                    self.report(node, "imports helpline.store.models")
        elif mod in (_MODELS, "helpline.store.fastsql") and not self.in_type_checking:
            if mod.endswith("fastsql"):
                self.report(node, "imports from helpline.store.fastsql")
            else:
                for alias in node.names:  # fine if used only as a type name: checked at the end
                    self.models_names[alias.asname or alias.name] = node.lineno

    # --- annotations ----------------------------------------------------------------------------------------
    def _annotation(self, node: ast.AST | None) -> None:
        if node is None:
            return
        self.in_annotation += 1
        self.visit(node)
        self.in_annotation -= 1

    def visit_arg(self, node: ast.arg) -> None:
        self._annotation(node.annotation)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._docstring(node)
        for d in node.decorator_list:
            self.visit(d)
        self.visit(node.args)
        self._annotation(node.returns)
        for stmt in node.body:
            self.visit(stmt)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._docstring(node)
        self.generic_visit(node)

    def visit_Module(self, node: ast.Module) -> None:
        self._docstring(node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    def _docstring(self, node: ast.AST) -> None:
        body = getattr(node, "body", [])
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            self.docstrings.add(id(body[0].value))

    # --- uses -----------------------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.models_names and not self.in_annotation and isinstance(node.ctx, ast.Load):
            self.report(node, f"uses {node.id} from {_MODELS} beyond a type name")
        if node.id == "fastsql" and isinstance(node.ctx, ast.Load):
            self.report(node, "uses fastsql")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "_meta":
            self.report(node, "reaches into a model's _meta")
        elif node.attr == "fastsql" and isinstance(node.value, ast.Name) and node.value.id in ("store", "helpline"):
            self.report(node, "uses fastsql")
        elif (
            isinstance(node.value, ast.Name)
            and node.value.id in self.peewee_modules
            and not _is_exception(node.attr)
            and not self.in_annotation
        ):
            self.report(node, f"uses peewee.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _QUERY_CALLS:
            root: ast.AST = func.value
            while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
                root = root.func if isinstance(root, ast.Call) else root.value
            if not (isinstance(root, ast.Name) and root.id in _NOT_PEEWEE_ROOTS):
                self.report(node, f"builds a query (.{func.attr}())")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if (
            isinstance(node.value, str)
            and id(node) not in self.docstrings
            and not self.in_annotation
            and _SQL.search(node.value)
        ):
            self.report(node, f"SQL text {node.value[:60]!r}")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        text = "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "x" for v in node.values
        )
        if _SQL.search(text):
            self.report(node, f"SQL text f{text[:60]!r}")
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                self.visit(v)


def offences(path: Path) -> list[str]:
    """What in one file builds or holds a query (empty when it only calls store's functions)."""
    scan = _Scan()
    scan.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return scan.found


def _listed(rel: str) -> bool:
    return any(rel == entry or (entry.endswith("/") and rel.startswith(entry)) for entry in NOT_YET_CONVERTED)


def _scanned_files() -> list[tuple[str, Path]]:
    out = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            out.append((path.relative_to(ROOT).as_posix(), path))
    return out


def test_no_queries_outside_store() -> None:
    bad = {rel: found for rel, path in _scanned_files() if not _listed(rel) and (found := offences(path))}
    assert not bad, "SQL or query building outside store/ (move it into a named store function):\n" + "\n".join(
        f"  {rel}:{line}" for rel, found in bad.items() for line in found
    )


def test_allow_list_only_shrinks() -> None:
    """A converted file leaves the list: otherwise it could quietly regain a query."""
    files = _scanned_files()
    stale = []
    for entry in sorted(NOT_YET_CONVERTED):
        matched = [
            (rel, path) for rel, path in files if rel == entry or (entry.endswith("/") and rel.startswith(entry))
        ]
        if not matched:
            stale.append(f"{entry} (no such file)")
        elif not any(offences(path) for _, path in matched):
            stale.append(f"{entry} (clean now)")
    assert not stale, "remove from NOT_YET_CONVERTED: " + ", ".join(stale)


def test_scan_sees_each_kind_of_offence(tmp_path: Path) -> None:
    """The scanner itself: each offence is reported, type-only uses are not."""
    src = tmp_path / "mod.py"
    src.write_text('''"""SELECT a FROM b in a docstring is prose."""
from __future__ import annotations
from typing import TYPE_CHECKING
from helpline.store.models import Ticket, utcnow
from helpline.store import fastsql
import peewee as pw
if TYPE_CHECKING:
    from helpline.store import models as m

def f(t: Ticket) -> "m.Ticket":
    rows = fastsql.fetchall('SELECT id FROM "ticket" WHERE id = ?', [t.id])
    q = f'UPDATE "ticket" SET status = ? WHERE id IN ({rows})'
    x = m.Ticket.get_or_none(m.Ticket.id == 1)
    y = m.Ticket._meta.table_name
    z = m.Ticket.select().where(m.Ticket.id == 2)
    when = utcnow()
    d = {}
    d.update(a=1)
    ",".join(["select from the list"])
    try:
        pass
    except pw.IntegrityError:
        return pw.fn.COUNT(x)
    return x
''')
    found = "\n".join(offences(src))
    for needle in (
        "16: uses utcnow",
        "5: imports helpline.store.fastsql",
        "11: uses fastsql",
        "23: uses peewee.fn",
        "11: SQL text",
        "12: SQL text",
        "13: builds a query (.get_or_none())",
        "14: reaches into",
        "15: builds a query (.where())",
    ):
        assert needle in found, (needle, found)
    for clean in ("1:", "6:", "8:", "10:", "18:", "19:", "22:"):
        assert not any(line.startswith(clean) for line in found.splitlines()), (clean, found)
    assert "uses Ticket" not in found
