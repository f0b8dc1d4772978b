"""Template injection through macro files and through the values a macro shows (a customer's name)."""

from __future__ import annotations

import time

import pytest

from helpline.ingest.knowledge import kb_files
from helpline.notifier import macro_render

from ..kb.helpers import write

VALUES = {
    "customer_name": "Ann",
    "ticket_number": "HL-1",
    "agent_name": "Dana",
    "subject": "s",
    "articles": {"a": {"title": "T", "url": "https://x/kb/en/a?sig=1"}},
}


@pytest.mark.parametrize(
    "body",
    [
        "{{ customer_name.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer_name.__class__ }}",
        "{{ articles.__class__.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__init__.__globals__['os'].popen('id').read() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ config }}",
        "{{ range(10**9)|list }}",
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ articles.clear() }}",
        "{{ articles.update({'a': 1}) }}",
        "{{ customer_name.format.__globals__ }}",
        "{% for i in articles %}{% for j in articles %}{% endfor %}{% endfor %}{{ ''.join(['a'] * 10**8) }}",
        "{% include '/etc/passwd' %}",
        "{% extends '/etc/passwd' %}",
        "{% import 'os' as os %}",
    ],
)
def test_hostile_templates_are_refused(body):
    t0 = time.perf_counter()
    with pytest.raises(macro_render.MacroError):
        macro_render.render(body, VALUES)
    assert time.perf_counter() - t0 < 2.0


def test_a_customers_name_is_shown_not_run():
    hostile = {**VALUES, "customer_name": "{{ 7*7 }}{% include '/etc/passwd' %}"}
    assert macro_render.render("Hi {{ customer_name }}", hostile) == "Hi {{ 7*7 }}{% include '/etc/passwd' %}"


def test_hostile_macro_files_are_reported_at_sync(tmp_path):
    for i, body in enumerate(["{{ cycler.__init__ }}", "{% include 'x' %}{{ customer_name", "{{ os }}"]):
        f = write(tmp_path, f"macros/m{i}.md", f"---\nname: m{i}\n---\n{body}\n")
        with pytest.raises(kb_files.KbFileError) as err:
            kb_files.read_macro(f, tmp_path)
        assert err.value.line == 4


@pytest.mark.parametrize(
    "front",
    [
        "name: ../../x",
        "actions: {status: deleted}",
        "actions: {run: 'rm -rf /'}",
        "actions: {tags: [{a: 1}]}",
        "actions: {priority: critical}",
        "actions: &a {status: *a}",
        "team: 'a b'",
    ],
)
def test_hostile_macro_front_matter(tmp_path, front):
    f = write(tmp_path, "macros/x.md", f"---\n{front}\n---\nHi\n")
    with pytest.raises(kb_files.KbFileError):
        kb_files.read_macro(f, tmp_path)
