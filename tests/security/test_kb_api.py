"""Hostile calls to the knowledge-base API: oversized and malformed articles, images out of the folder,
slugs that try to leave their place, keys without the scope or of another team."""

from __future__ import annotations

import pytest

from helpline.store.knowledge import kb_state

from ..kb.conftest import api  # noqa: F401

MD = {"Content-Type": "text/markdown"}


@pytest.mark.parametrize("slug", ["..%2F..%2Fetc%2Fpasswd", "a%00b", ".hidden", "a b", "x" * 300])
def test_bad_slugs_are_refused(api, slug):
    r = api.call("PUT", f"/kb/articles/{slug}", key="write", data="---\ntitle: t\n---\nx\n", headers=MD)
    assert r.status_code in (404, 422)
    assert kb_state.list_articles(include_retired=True) == []


def test_article_bodies_that_must_not_land(api):
    huge = "---\ntitle: t\n---\n" + "a" * (1 << 20)
    assert api.call("PUT", "/kb/articles/big", key="write", data=huge, headers=MD).status_code == 413
    for body in (
        "---\ntitle: t\n---\n![x](/etc/passwd)\n",
        "---\ntitle: t\n---\n![x](../../etc/hostname.png)\n",
        "---\ntitle: &a t\nslug: *a\n---\nx\n",
        "---\ntitle: t\nslug: other\n---\nx\n",
        "no front matter",
        "---\ntitle: !!python/name:os.system\n---\n",
    ):
        r = api.call("PUT", "/kb/articles/evil", key="write", data=body, headers=MD)
        assert r.status_code == 422, body
    assert (
        api.call(
            "PUT", "/kb/articles/evil", key="write", data="{}", headers={"Content-Type": "application/json"}
        ).status_code
        == 415
    )
    assert kb_state.list_articles(include_retired=True) == []


def test_script_in_an_article_is_served_inert(api):
    body = "---\ntitle: t\n---\n<script>alert(1)</script>\n[x](javascript:alert(1))\n<img src=x onerror=alert(1)>\n"
    assert api.call("PUT", "/kb/articles/xss", key="write", data=body, headers=MD).status_code == 201
    html = api.call("GET", "/kb/articles/xss", key="read").json()["html"]
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html


def test_a_team_key_cannot_write_or_retire_another_teams_article(api):
    body = "---\ntitle: t\nteam: support\n---\nx\n"
    assert api.call("PUT", "/kb/articles/theirs", key="write", data=body, headers=MD).status_code == 201
    assert api.call("PUT", "/kb/articles/theirs", key="billing", data=body, headers=MD).status_code == 422
    assert api.call("DELETE", "/kb/articles/theirs", key="billing").status_code == 404
    assert api.call("DELETE", "/kb/articles/theirs", key="read").status_code == 403
    assert kb_state.get_article("theirs").status == "active"


def test_image_route_takes_only_a_digest(api):
    for path in ("/kb/articles/x/images/..%2F..%2Fblobs", "/kb/articles/x/images/" + "0" * 64):
        assert api.call("GET", path, key="read").status_code == 404
