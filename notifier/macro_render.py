"""A macro's reply text from its Jinja2 template, in a sandbox.

A macro file is written by whoever can push to the knowledge folder, not only
by the operators who can change the code, so its template runs in Jinja2's
``ImmutableSandboxedEnvironment``: no attribute starting with ``_`` (the road
to ``__globals__`` and ``os``), no calls to unsafe callables, no changing the
values handed in. The values are plain strings and dicts, never models, so
there is nothing to reach through them; ``range`` is capped by the sandbox and
output is cut at ``MAX_OUTPUT`` characters. Replies are plain text (they go out
as email or SMS), so nothing is HTML-escaped here.
"""

from __future__ import annotations

from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 20_000
TOKENS = ("customer_name", "ticket_number", "agent_name", "articles", "subject")


class MacroError(ValueError):
    """The template does not compile or render; ``line`` is in the template, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class _Env(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing ``*`` and ``**`` that would build a huge value (``'x' * 10**9``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):  # noqa: ANN001, ANN201
        if operator == "**" or any(isinstance(v, (str, list, tuple)) for v in (left, right)):
            if not (isinstance(left, int) and isinstance(right, int) and abs(right) <= 64 and abs(left) <= 10**6):
                raise SecurityError(f"the operator {operator!r} is limited in macros")
        return super().call_binop(context, operator, left, right)


_env = _Env(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True
)
_env.globals.clear()  # no range, dict, lipsum, cycler, joiner, namespace


def compile_body(body: str):  # noqa: ANN201
    """The compiled template; MacroError with the line when it does not parse or names an unknown token."""
    try:
        ast = _env.parse(body)
    except TemplateSyntaxError as exc:
        raise MacroError(f"template: {exc.message}", exc.lineno) from None
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in TOKENS and not _bound(ast, name.name):
            raise MacroError(f"template: unknown token {{{{ {name.name} }}}} (known: {', '.join(TOKENS)})", name.lineno)
    return _env.from_string(body)


def _bound(ast: nodes.Template, name: str) -> bool:
    """A name the template binds itself (a for loop's variable, a set)."""
    return any(t.name == name for t in ast.find_all(nodes.Name) if t.ctx in ("store", "param"))


def render(body: str, values: Mapping[str, Any]) -> str:
    """The reply text for ``values`` (``TOKENS``); MacroError when the template misbehaves."""
    template = compile_body(body)
    try:
        out = template.render({k: values.get(k, "") for k in TOKENS})
    except SecurityError as exc:
        raise MacroError(f"template refused by the sandbox: {exc}") from None
    except (UndefinedError, TemplateError, TypeError, ValueError, OverflowError) as exc:
        raise MacroError(f"template: {exc}") from None
    if len(out) > MAX_OUTPUT:
        raise MacroError(f"the reply is over {MAX_OUTPUT} characters")
    return out.strip()
