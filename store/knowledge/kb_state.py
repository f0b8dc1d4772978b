"""Migration 15 and the reads and writes of the knowledge base: articles, their
previous versions and images, macros, and the suggestions shown to agents.

A folder of Markdown files is the source of truth (``helpline kb sync``); these
tables are its copy, so an article is keyed by (slug, language) as the folder
names it, a changed file keeps the text it replaces as a version row, and a
removed file retires its article (kept, so old suggestions and links still say
what they pointed at) rather than deleting it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import peewee as pw

from helpline.store.models import Base, Event, JSONField, Message, Ticket, utcnow

ACTIVE, RETIRED = "active", "retired"
AUDIENCES = ("public", "internal")
SUGGESTION_ACTIONS = ("sent", "edited", "dismissed")


class KbArticle(Base):
    slug = pw.TextField()
    language = pw.TextField(default="en")
    title = pw.TextField()
    tags = JSONField(default=list)
    audience = pw.TextField(default="public")
    team = pw.TextField(null=True)
    questions = JSONField(default=list)
    body = pw.TextField(default="")  # Markdown as written
    html = pw.TextField(default="")  # sanitised; images as kb-image:<sha256>
    source_path = pw.TextField(default="")
    checksum = pw.TextField()
    version = pw.IntegerField(default=1)
    status = pw.TextField(default=ACTIVE)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    retired_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "kb_article"
        indexes = ((("slug", "language"), True), (("status",), False))


class KbArticleVersion(Base):
    article = pw.ForeignKeyField(KbArticle, on_delete="CASCADE", index=False)
    version = pw.IntegerField()
    title = pw.TextField()
    body = pw.TextField()
    meta = JSONField()  # tags, audience, team, questions as they were
    checksum = pw.TextField()
    replaced_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "kb_article_version"
        indexes = ((("article", "version"), False),)


class KbImage(Base):
    article = pw.ForeignKeyField(KbArticle, on_delete="CASCADE", index=False)
    sha256 = pw.TextField()
    path = pw.TextField()  # as the Markdown wrote it, relative to the article's file
    content_type = pw.TextField()
    size = pw.IntegerField()
    blob_key = pw.TextField()

    class Meta:
        table_name = "kb_image"
        indexes = ((("article", "sha256"), False),)


class KbMacro(Base):
    name = pw.TextField()
    language = pw.TextField(default="en")
    team = pw.TextField(default="")  # "" is every team's
    actions = JSONField(default=dict)
    body = pw.TextField()
    source_path = pw.TextField(default="")
    checksum = pw.TextField()
    status = pw.TextField(default=ACTIVE)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "kb_macro"
        indexes = ((("name", "language", "team"), True),)


class KbSuggestion(Base):
    ticket = pw.ForeignKeyField(Ticket, on_delete="CASCADE", index=False)
    kind = pw.TextField()  # article, ticket
    ref = pw.TextField()  # article slug, or ticket number
    language = pw.TextField(default="")
    rank = pw.IntegerField()
    score = pw.DoubleField()
    why = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    action = pw.TextField(default="")  # "", sent, edited, dismissed
    acted_by = pw.TextField(default="")
    acted_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "kb_suggestion"
        indexes = ((("ticket", "rank"), False),)


# ---- articles --------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageIn:
    path: str
    sha256: str
    content_type: str
    size: int
    blob_key: str


@dataclass(frozen=True)
class ArticleIn:
    """An article as read from its file (``ingest/kb_files.py``), ready to store."""

    slug: str
    language: str
    title: str
    body: str
    html: str
    checksum: str
    source_path: str
    tags: tuple[str, ...] = ()
    audience: str = "public"
    team: str | None = None
    questions: tuple[str, ...] = ()
    images: tuple[ImageIn, ...] = field(default=())


def _meta(a: KbArticle) -> dict[str, Any]:
    return {"tags": a.tags, "audience": a.audience, "team": a.team, "questions": a.questions}


def upsert_article(a: ArticleIn, now: dt.datetime) -> tuple[str, int]:
    """Add or update one article (caller's transaction): ``("added"|"updated"|"unchanged"|"restored", id)``.

    An update keeps the replaced text as a version row; a retired article whose
    file comes back is active again."""
    row = KbArticle.get_or_none((KbArticle.slug == a.slug) & (KbArticle.language == a.language))
    fields = dict(
        title=a.title,
        body=a.body,
        html=a.html,
        checksum=a.checksum,
        source_path=a.source_path,
        tags=list(a.tags),
        audience=a.audience,
        team=a.team,
        questions=list(a.questions),
        updated_at=now,
        status=ACTIVE,
        retired_at=None,
    )
    if row is None:
        row = KbArticle.create(slug=a.slug, language=a.language, created_at=now, version=1, **fields)
        _images(row.id, a.images)
        return "added", row.id
    if row.checksum == a.checksum and row.status == ACTIVE:
        if row.source_path != a.source_path:
            KbArticle.update(source_path=a.source_path).where(KbArticle.id == row.id).execute()
        return "unchanged", row.id
    outcome = "restored" if row.status == RETIRED else "updated"
    if row.checksum != a.checksum:
        KbArticleVersion.create(
            article=row.id,
            version=row.version,
            title=row.title,
            body=row.body,
            meta=_meta(row),
            checksum=row.checksum,
            replaced_at=now,
        )
        fields["version"] = row.version + 1
    KbArticle.update(**fields).where(KbArticle.id == row.id).execute()
    KbImage.delete().where(KbImage.article == row.id).execute()
    _images(row.id, a.images)
    return outcome, row.id


def _images(article_id: int, images: Iterable[ImageIn]) -> None:
    for im in images:
        KbImage.create(
            article=article_id,
            sha256=im.sha256,
            path=im.path,
            content_type=im.content_type,
            size=im.size,
            blob_key=im.blob_key,
        )


def retire_missing(present: set[tuple[str, str]], now: dt.datetime) -> list[tuple[str, str]]:
    """Retire every active article whose (slug, language) the synced folder no longer has."""
    gone = [
        (r.slug, r.language, r.id)
        for r in KbArticle.select(KbArticle.id, KbArticle.slug, KbArticle.language).where(KbArticle.status == ACTIVE)
        if (r.slug, r.language) not in present
    ]
    for _, _, aid in gone:
        KbArticle.update(status=RETIRED, retired_at=now, updated_at=now).where(KbArticle.id == aid).execute()
    return [(s, lang) for s, lang, _ in gone]


def article_dict(a: KbArticle, *, with_body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "slug": a.slug,
        "language": a.language,
        "title": a.title,
        "tags": a.tags,
        "audience": a.audience,
        "team": a.team,
        "status": a.status,
        "version": a.version,
        "source_path": a.source_path,
        "updated_at": a.updated_at.isoformat() if isinstance(a.updated_at, dt.datetime) else str(a.updated_at),
    }
    if with_body:
        out.update(questions=a.questions, body=a.body, html=a.html)
    return out


def list_articles(*, include_retired: bool = False, language: str | None = None) -> list[KbArticle]:
    q = KbArticle.select().order_by(KbArticle.language, KbArticle.slug)
    if not include_retired:
        q = q.where(KbArticle.status == ACTIVE)
    if language:
        q = q.where(KbArticle.language == language)
    return list(q)


def get_article(slug: str, language: str | None = None, *, include_retired: bool = True) -> KbArticle | None:
    """The article ``slug`` (in ``language``; else English first, then any language)."""
    q = KbArticle.select().where(KbArticle.slug == slug)
    if not include_retired:
        q = q.where(KbArticle.status == ACTIVE)
    if language:
        return q.where(KbArticle.language == language).first()
    rows = sorted(q, key=lambda a: (a.status != ACTIVE, a.language != "en", a.language))
    return rows[0] if rows else None


def get_article_by_id(article_id: int) -> KbArticle | None:
    return KbArticle.get_or_none(KbArticle.id == article_id)


def versions(article_id: int) -> list[KbArticleVersion]:
    return list(
        KbArticleVersion.select()
        .where(KbArticleVersion.article == article_id)
        .order_by(KbArticleVersion.version.desc())
    )


def image(article_id: int, sha256: str) -> KbImage | None:
    return KbImage.get_or_none((KbImage.article == article_id) & (KbImage.sha256 == sha256))


def ranker_rows() -> list[tuple[str, str, str, list[str], str, list[str], str, str | None]]:
    """Active articles as the ranker reads them: slug, language, title, questions, body, tags, audience, team."""
    return [
        (a.slug, a.language, a.title, a.questions or [], a.body, a.tags or [], a.audience, a.team)
        for a in KbArticle.select().where(KbArticle.status == ACTIVE).order_by(KbArticle.id)
    ]


# ---- macros ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MacroIn:
    name: str
    language: str
    team: str
    actions: dict[str, Any]
    body: str
    checksum: str
    source_path: str


def upsert_macro(m: MacroIn, now: dt.datetime) -> str:
    row = KbMacro.get_or_none((KbMacro.name == m.name) & (KbMacro.language == m.language) & (KbMacro.team == m.team))
    if row is None:
        KbMacro.create(
            name=m.name,
            language=m.language,
            team=m.team,
            actions=m.actions,
            body=m.body,
            checksum=m.checksum,
            source_path=m.source_path,
            updated_at=now,
        )
        return "added"
    if row.checksum == m.checksum and row.status == ACTIVE:
        return "unchanged"
    KbMacro.update(
        actions=m.actions, body=m.body, checksum=m.checksum, source_path=m.source_path, status=ACTIVE, updated_at=now
    ).where(KbMacro.id == row.id).execute()
    return "updated"


def retire_missing_macros(present: set[tuple[str, str, str]], now: dt.datetime) -> list[str]:
    gone = [r for r in KbMacro.select().where(KbMacro.status == ACTIVE) if (r.name, r.language, r.team) not in present]
    for r in gone:
        KbMacro.update(status=RETIRED, updated_at=now).where(KbMacro.id == r.id).execute()
    return [r.name for r in gone]


def list_macros() -> list[KbMacro]:
    return list(KbMacro.select().where(KbMacro.status == ACTIVE).order_by(KbMacro.name, KbMacro.team, KbMacro.language))


def find_macro(name: str, *, team: str | None, language: str | None) -> KbMacro | None:
    """The macro ``name`` that fits a ticket best: its team's before everyone's, its language before English."""
    rows = list(KbMacro.select().where((KbMacro.name == name) & (KbMacro.status == ACTIVE)))
    fit = [r for r in rows if r.team in ("", team or "")]
    fit.sort(key=lambda r: (r.team == "", r.language != (language or "en"), r.language != "en"))
    return fit[0] if fit else None


# ---- suggestions -----------------------------------------------------------------------
def has_material() -> bool:
    """Anything to suggest from: an active article or a resolved ticket."""
    if KbArticle.select(KbArticle.id).where(KbArticle.status == ACTIVE).limit(1).exists():
        return True
    return Ticket.select(Ticket.id).where(Ticket.status.in_(["resolved", "closed"])).limit(1).exists()


def replace_suggestions(ticket_id: int, items: Sequence[dict[str, Any]], now: dt.datetime) -> list[int]:
    """Store the ranked suggestions of a ticket (caller's transaction), keeping those an agent acted on."""
    KbSuggestion.delete().where((KbSuggestion.ticket == ticket_id) & (KbSuggestion.action == "")).execute()
    ids = []
    for it in items:
        row = KbSuggestion.create(
            ticket=ticket_id,
            kind=it["kind"],
            ref=it["ref"],
            language=it.get("language", ""),
            rank=it["rank"],
            score=it["score"],
            why=it.get("why", "")[:500],
            created_at=now,
        )
        ids.append(row.id)
    return ids


def suggestions_of(ticket_id: int) -> list[KbSuggestion]:
    return list(
        KbSuggestion.select().where(KbSuggestion.ticket == ticket_id).order_by(KbSuggestion.kind, KbSuggestion.rank)
    )


def get_suggestion(suggestion_id: int) -> KbSuggestion | None:
    return KbSuggestion.get_or_none(KbSuggestion.id == suggestion_id)


def suggestion_view(suggestion_id: int) -> dict[str, Any] | None:
    """What a suggestion's Slack message shows: kind, ref, title, score, why, and an excerpt of its answer."""
    s = get_suggestion(suggestion_id)
    if s is None:
        return None
    title, text = s.ref, ""
    if s.kind == "article":
        a = get_article(s.ref, s.language or None)
        if a is not None:
            title, text = a.title, a.body
    else:
        got = (
            Message.select(Message.text)
            .join(Ticket)
            .where((Ticket.number == s.ref) & (Message.direction == "out") & (Message.author_role == "agent"))
            .order_by(Message.created_at.desc(), Message.id.desc())
            .first()
        )
        text = got.text if got else ""
    return {"kind": s.kind, "ref": s.ref, "title": title, "score": s.score, "why": s.why, "excerpt": text}


def mark_suggestion(suggestion_id: int, action: str, actor: str, now: dt.datetime) -> bool:
    """Record what an agent did with a suggestion (caller's transaction), with an audit event; False when
    it was already acted on (a double click records once)."""
    if action not in SUGGESTION_ACTIONS:
        raise ValueError(f"a suggestion is {', '.join(SUGGESTION_ACTIONS)}, not {action!r}")
    s = get_suggestion(suggestion_id)
    if s is None:
        raise LookupError(f"no suggestion {suggestion_id}")
    done = (
        KbSuggestion.update(action=action, acted_by=actor, acted_at=now)
        .where((KbSuggestion.id == suggestion_id) & (KbSuggestion.action == ""))
        .execute()
    )
    if done:
        Event.insert(
            ticket=s.ticket_id,
            actor=actor,
            kind="suggestion_" + action,
            data={"suggestion": s.id, "kind": s.kind, "ref": s.ref},
            created_at=now,
        ).execute()
    return bool(done)


def suggestion_use(since: dt.datetime) -> dict[str, int]:
    """How agents used suggestions of tickets created since ``since``: counts by action, and tickets."""
    rows = (
        KbSuggestion.select(KbSuggestion.action, pw.fn.COUNT(KbSuggestion.id))
        .join(Ticket)
        .where(Ticket.created_at >= since)
        .group_by(KbSuggestion.action)
        .tuples()
    )
    out = {"shown": 0, "sent": 0, "edited": 0, "dismissed": 0}
    for action, n in rows:
        out["shown"] += n
        if action:
            out[action] = n
    out["tickets_with_suggestions"] = (
        KbSuggestion.select(pw.fn.COUNT(pw.fn.DISTINCT(KbSuggestion.ticket)))
        .join(Ticket)
        .where(Ticket.created_at >= since)
        .scalar()
        or 0
    )
    return out


def tickets_answered_with_suggestion(since: dt.datetime) -> set[int]:
    return {
        t
        for (t,) in KbSuggestion.select(KbSuggestion.ticket)
        .join(Ticket)
        .where((Ticket.created_at >= since) & (KbSuggestion.action.in_(["sent", "edited"])))
        .distinct()
        .tuples()
    }


def report_rows(
    since: dt.datetime | None, until: dt.datetime | None
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(ticket id, action) of every suggestion and (ticket id, kind) of every deflection event, of tickets
    created in the window (the report keeps those of its own rows)."""
    cond = [Ticket.status != "merged"]
    if since is not None:
        cond.append(Ticket.created_at >= since)
    if until is not None:
        cond.append(Ticket.created_at < until)
    where = cond[0]
    for c in cond[1:]:
        where &= c
    sugg = list(KbSuggestion.select(KbSuggestion.ticket, KbSuggestion.action).join(Ticket).where(where).tuples())
    defl = list(
        Event.select(Event.ticket, Event.kind)
        .join(Ticket)
        .where(where & Event.kind.in_(["deflection_offered", "self_served"]))
        .tuples()
    )
    return sugg, defl
