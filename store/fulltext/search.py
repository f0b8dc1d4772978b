"""Full-text search over tickets and articles, on SQLite FTS5 or PostgreSQL tsvector.

A ticket is a hit when one of its documents matches every word and phrase of
the query: a message (subject, new text, quoted text, author and address) or
the ticket itself (subject, tags, customer's name and addresses). Its score is
that of its best document (SQLite: ``-bm25``; PostgreSQL: ``ts_rank_cd`` of the
``simple`` vector plus that of the stemmed one), and its snippet comes from
that document, highlighted between ``MARK_START`` and ``MARK_END`` (private-use
characters no text uses; ``render_snippet`` turns them into HTML, Slack or
terminal marks after escaping the text). An excluded word removes the whole
ticket when any of its documents has it. Filters are SQL on the ticket row.

Words reach FTS5 only as double-quoted strings (a quote inside is doubled), so
FTS5's own syntax (``NEAR``, ``col:``, ``*``, ``^``, ``AND``/``OR``) is never
interpreted; on PostgreSQL they are bound parameters of ``plainto_tsquery`` and
``phraseto_tsquery``, which read text, not operators.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any, Sequence

from helpline.store import fastsql as sql
from helpline.store.db import is_sqlite
from helpline.store.fulltext.search_syntax import Query, Term

MARK_START = "\ue000"
MARK_END = "\ue001"
STEM_CONFIG = "english"  # PostgreSQL: the stemmed half of a query; the simple half finds every word as written
SNIPPET_WORDS = 16


@dataclass(frozen=True)
class TicketHit:
    ticket_id: int
    number: str
    subject: str
    status: str
    team: str | None
    score: float
    snippet: str

    def as_dict(self, style: str = "html") -> dict[str, Any]:
        return {
            "number": self.number,
            "subject": self.subject,
            "status": self.status,
            "snippet": render_snippet(self.snippet, style),
            "score": self.score,
        }


@dataclass(frozen=True)
class ArticleHit:
    slug: str
    language: str
    title: str
    score: float
    snippet: str

    def as_dict(self, style: str = "html") -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "snippet": render_snippet(self.snippet, style),
            "score": self.score,
        }


@dataclass
class Results:
    tickets: list[TicketHit] = field(default_factory=list)
    articles: list[ArticleHit] = field(default_factory=list)

    def as_dict(self, style: str = "html") -> dict[str, Any]:
        return {
            "tickets": [t.as_dict(style) for t in self.tickets],
            "articles": [a.as_dict(style) for a in self.articles],
        }


_STYLES = {"html": ("<mark>", "</mark>"), "slack": ("*", "*"), "text": ("[", "]"), "ansi": ("\x1b[1m", "\x1b[0m")}


def render_snippet(raw: str, style: str = "html") -> str:
    """The snippet with its marks in ``style``; for ``html`` the text is escaped first, so a customer's
    ``<script>`` arrives as text, and only our ``<mark>`` is markup."""
    start, end = _STYLES[style]
    text = " ".join(raw.split())
    if style == "html":
        text = html.escape(text, quote=False)
    elif style == "slack":
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "∗")
    return text.replace(MARK_START, start).replace(MARK_END, end)


# ---- building the match ------------------------------------------------------------------------
def fts5_string(term: Term) -> str:
    """A word or phrase as an FTS5 string: double-quoted, inner quotes doubled; FTS5 tokenizes it
    and treats several tokens as a phrase. Nothing inside is syntax."""
    return '"' + term.text.replace('"', '""') + '"'


def fts5_match(terms: Sequence[Term], glue: str = " AND ") -> str:
    return glue.join(fts5_string(t) for t in terms)


def _pg_tsquery(terms: Sequence[Term], config: str, params: list[Any], glue: str = " && ") -> str:
    parts = []
    for t in terms:
        parts.append(f"{'phraseto_tsquery' if t.phrase else 'plainto_tsquery'}('{config}', ?)")
        params.append(t.text)
    return "(" + glue.join(parts) + ")"


def _pg_match(alias: str, terms: Sequence[Term], params: list[Any], glue: str = " && ") -> str:
    qs = _pg_tsquery(terms, "simple", params, glue)
    ql = _pg_tsquery(terms, STEM_CONFIG, params, glue)
    return f"({alias}.search_simple @@ {qs} OR {alias}.search_lang @@ {ql})"


def _pg_rank(alias: str, terms: Sequence[Term], params: list[Any]) -> str:
    qs = _pg_tsquery(terms, "simple", params)
    ql = _pg_tsquery(terms, STEM_CONFIG, params)
    return f"(ts_rank_cd({alias}.search_simple, {qs}) + COALESCE(ts_rank_cd({alias}.search_lang, {ql}), 0))"


# ---- filters -------------------------------------------------------------------------------------
def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _in(column: str, values: Sequence[Any], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({sql.in_marks(len(values))})"


def _filters(q: Query, scope_teams: Sequence[str] | None, params: list[Any]) -> list[str]:
    conds: list[str] = []
    if scope_teams is not None:
        conds.append(_in("t.team", list(scope_teams), params) if scope_teams else "1 = 0")
    if q.status:
        conds.append(_in("t.status", q.status, params))
    if q.team:
        conds.append(_in("t.team", q.team, params))
    if q.assignee:
        named = [a for a in q.assignee if a != "none"]
        parts = (["t.assignee IS NULL"] if "none" in q.assignee else []) + (
            [_in("LOWER(t.assignee)", named, params)] if named else []
        )
        conds.append("(" + " OR ".join(parts) + ")")
    if q.channel:
        conds.append(_in("t.channel", q.channel, params))
    if q.category:
        conds.append(_in("t.category", q.category, params))
    if q.priority:
        conds.append(_in("t.priority", q.priority, params))
    if q.tag:
        conds.append(
            'EXISTS (SELECT 1 FROM "ticket_tag" g WHERE g.ticket_id = t.id AND ' + _in("g.tag", q.tag, params) + ")"
        )
    for v in q.subject:
        conds.append("LOWER(t.subject) LIKE ? ESCAPE '\\'")
        params.append(_like(v))
    if q.customer:
        parts = []
        for v in q.customer:
            if v.isascii() and v.isdigit() and len(v) <= 18:
                parts.append("t.customer_id = ?")
                params.append(int(v))
            else:
                parts.append('t.customer_id IN (SELECT i.customer_id FROM "identity" i WHERE LOWER(i.address) = ?)')
                params.append(v.strip().lower())
        conds.append("(" + " OR ".join(parts) + ")")
    if q.sender:
        parts = []
        for v in q.sender:
            v = v.strip().lower()
            if v.startswith("@"):
                parts.append(
                    't.customer_id IN (SELECT i.customer_id FROM "identity" i '
                    "WHERE LOWER(i.address) LIKE ? ESCAPE '\\')"
                )
                params.append(_like(v)[:-1])  # ends with the domain
            elif "@" in v or v.startswith("+"):
                parts.append('t.customer_id IN (SELECT i.customer_id FROM "identity" i WHERE LOWER(i.address) = ?)')
                params.append(v)
            else:
                parts.append(
                    "t.customer_id IN (SELECT c.id FROM \"customer\" c WHERE LOWER(c.name) LIKE ? ESCAPE '\\')"
                )
                params.append(_like(v))
        conds.append("(" + " OR ".join(parts) + ")")
    if q.before is not None:
        conds.append("t.created_at < ?")
        params.append(q.before)
    if q.after is not None:
        conds.append("t.updated_at >= ?")
        params.append(q.after)
    return conds


def _excluded(q: Query, params: list[Any]) -> str:
    """No document of the ticket has any excluded word: checked per candidate ticket through its
    messages (``message.ticket_id`` is indexed), so a common excluded word costs no scan of its matches."""
    if is_sqlite():
        match = fts5_match(q.excluded, " OR ")
        params += [match, match]
        return (
            "NOT EXISTS (SELECT 1 FROM message_fts WHERE message_fts MATCH ? AND message_fts.rowid IN "
            '(SELECT xm.id FROM "message" xm WHERE xm.ticket_id = t.id)) '
            "AND NOT EXISTS (SELECT 1 FROM ticket_fts WHERE ticket_fts MATCH ? AND ticket_fts.rowid = t.id)"
        )
    inner: list[Any] = []
    msg = _pg_match("xm", q.excluded, inner, " || ")
    tkt = _pg_match("t", q.excluded, inner, " || ")
    params += inner
    return f'NOT EXISTS (SELECT 1 FROM "message" xm WHERE xm.ticket_id = t.id AND {msg}) AND NOT COALESCE({tkt}, FALSE)'


# ---- tickets -------------------------------------------------------------------------------------
# Ranking reads every matching document, and bm25 first counts each word's documents over the whole
# index: a word in most messages ("order", "the") costs tens of milliseconds per word at 200,000
# messages, and ts_rank_cd must read every matching vector. So the window is the newest RANK_WINDOW
# messages that match the words (PostgreSQL: and pass the filters); both engines walk their index
# newest first and stop there. When every match fits in it, the hits are ranked by relevance; when
# more match, the query does not discriminate and its hits are the newest (score 0). When the
# filters (SQLite) or excluded words leave fewer hits than asked, every match is looked at.
RANK_WINDOW = 1000
EXCLUSION_POOL = 10  # candidates per requested hit on which the excluded words are checked


def _window_floor(q: Query, window: int) -> int | None:
    """SQLite: the id of the newest message matching the words just below the window; None when the
    window holds every match. (Filters are not walked here: a join per row of a common word's
    matches costs more than the widening it saves.)"""
    row = sql.fetchone(
        "SELECT rowid FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        [fts5_match(q.positive), window],
    )
    return row[0] if row else None


def _ticket_sql(
    q: Query, scope_teams: Sequence[str] | None, full: bool = False, cap: int = 200
) -> tuple[str, list[Any], str, bool]:
    """(SELECT of ticket id, number, subject, status, team, score, best message id or NULL; its parameters;
    the ORDER BY that puts the best first; whether the window may have left out hits that the
    excluded words or (SQLite) the filters would have let through). ``full``: every match, newest
    first; ``cap``: how many rows the caller takes at most. Excluded words are left to the caller."""
    fparams: list[Any] = []
    conds = _filters(q, scope_teams, fparams)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    cols = "t.id, t.number, t.subject, t.status, t.team"
    terms = q.positive
    if not terms:
        return (
            f'SELECT {cols}, 0.0 AS score, NULL AS mid FROM "ticket" t{where}',
            fparams,
            "t.updated_at DESC, t.id DESC",
            False,
        )
    params: list[Any] = []
    if is_sqlite():
        match = fts5_match(terms)
        floor = None if full else _window_floor(q, RANK_WINDOW)
        ranked = floor is None and not full
        params.append(match)
        if floor is not None:
            params.append(floor)
        params.append(match)
        rank = "bm25(message_fts, 3.0, 4.0, 1.0, 2.0)" if ranked else "0.0"
        msgs = (
            f"SELECT rowid AS mid, {rank} AS s FROM message_fts WHERE message_fts MATCH ?"
            + (" AND rowid > ?" if floor is not None else "")
            + " ORDER BY rowid DESC"
        )
        trank = "bm25(ticket_fts, 3.0, 3.0, 2.0)" if ranked else "0.0"
        hits = (
            f'SELECT m.ticket_id AS tid, h.s AS s, h.mid AS mid FROM ({msgs}) h JOIN "message" m ON m.id = h.mid '
            f"UNION ALL SELECT rowid, {trank}, NULL FROM ticket_fts WHERE ticket_fts MATCH ?"
        )
        if ranked:
            best = f"SELECT tid, MIN(s) AS s, mid FROM ({hits}) GROUP BY tid"  # SQLite: mid comes from the MIN row
            order, score = "b.s ASC, t.id DESC", "-b.s"
        else:
            best = f"SELECT tid, 0.0 AS s, MAX(mid) AS mid FROM ({hits}) GROUP BY tid"
            order, score = "b.mid IS NULL, b.mid DESC, t.id DESC", "b.s"
        return (
            f'SELECT {cols}, {score} AS score, b.mid AS mid FROM ({best}) b JOIN "ticket" t ON t.id = b.tid{where}',
            [*params, *fparams],
            order,
            floor is not None,
        )
    if not full:
        return _pg_window_sql(q, terms, conds, cols, where, fparams, cap)
    # PostgreSQL, every match (the fallback when the window gave too few hits): one statement; n.c (the
    # matches) decides the ranking
    match_m = _pg_match("mm", terms, params)
    wparams: list[Any] = []
    wconds = _filters(q, scope_teams, wparams)
    params += wparams
    wjoin = ' JOIN "ticket" t ON t.id = mm.ticket_id' if wconds else ""
    rank_m = _pg_rank("m", terms, params)
    rank_t = _pg_rank("x", terms, params)
    match_t = _pg_match("x", terms, params)
    with_sql = (
        f"WITH w AS MATERIALIZED (SELECT mm.id, mm.ticket_id, mm.search_simple, mm.search_lang "
        f'FROM "message" mm{wjoin} WHERE {match_m}'
        + "".join(" AND " + c for c in wconds)
        + "), n AS (SELECT COUNT(*) AS c FROM w) "
    )
    hits = (
        f"SELECT m.ticket_id AS tid, CASE WHEN n.c > {RANK_WINDOW} THEN 0.0 ELSE {rank_m} END AS s, m.id AS mid "
        f"FROM w m, n "
        f"UNION ALL SELECT x.id, CASE WHEN n.c > {RANK_WINDOW} THEN 0.0 ELSE {rank_t} END, NULL "
        f'FROM "ticket" x, n WHERE {match_t}'
    )
    best = f"SELECT DISTINCT ON (tid) tid, s, mid FROM ({hits}) h ORDER BY tid, s DESC, mid DESC NULLS LAST"
    return (
        f'{with_sql}SELECT {cols}, b.s AS score, b.mid AS mid FROM ({best}) b JOIN "ticket" t ON t.id = b.tid{where}',
        [*params, *fparams],
        "b.s DESC, b.mid DESC NULLS LAST, t.id DESC",
        False,
    )


# PostgreSQL's choice of plan for the window, made here. The planner walks the message table newest first
# and tests every row's vectors until it has RANK_WINDOW + 1 matches, which is cheap for a common word and
# reads most of the table for a rare one (a word in 2 % of 200,000 messages: 42,000 rows, 100 ms); or it
# asks the GIN index for every match and sorts them, which costs a heap row per match, read out of order
# (about five times a row walked in order, measured at 200,000 messages). Walking costs about
# RANK_WINDOW * messages / matches rows, the index about 5 * matches: they cross near
# sqrt(RANK_WINDOW * messages / 5) matches (6,300 at 200,000 messages). The planner's estimate for the
# whole query is no guide: it takes words as independent, and the words of one message are not ("comes
# anything else": 2,500 estimated, 36,000 found). Its estimate for each word alone is good, and a
# conjunction matches no more than its rarest word (a stop word of the stemmed configuration does not
# count: the stemmed half drops it), so when that word is rare the index answers at once. Otherwise a
# short walk of the newest SAMPLE_ROWS messages comes first: it ends the search when the words are common,
# and otherwise measures how common they are together; then a walk bounded to four times the rows that
# measure says it needs, or the index. ``id + 0`` keeps the planner off the primary key for the index.
SAMPLE_ROWS = 2000
ORDERED_ROW_GAIN = 5.0
MAX_ESTIMATES = 4  # words estimated one by one, at most


def _pg_word_estimate(term: Term) -> tuple[float, bool]:
    """(the planner's estimate of the messages matching one word or phrase, whether the stemmed
    configuration drops it as a stop word), without running the query."""
    params: list[Any] = []
    plan = sql.fetchone(
        f'EXPLAIN (FORMAT JSON) SELECT 1 FROM "message" mm WHERE {_pg_match("mm", [term], params)}', params
    )
    doc = plan[0] if plan else None
    if isinstance(doc, str):
        import json

        doc = json.loads(doc)
    if not doc:
        return 0.0, False
    return float(doc[0]["Plan"]["Plan Rows"]), "@@ ''::tsquery" in str(doc)


def _pg_window_ids(terms: Sequence[Term]) -> list[tuple[int, int]]:
    """(id, ticket id) of the newest RANK_WINDOW + 1 messages matching the words, newest first (the
    ticket id costs nothing more: the row is read anyway, and it spares the unranked case a second
    look-up of every message)."""
    mparams: list[Any] = []
    match_m = _pg_match("mm", terms, mparams)
    need = RANK_WINDOW + 1

    def index() -> list[tuple[int, int]]:
        return [
            (r[0], r[1])
            for r in sql.fetchall(
                f'SELECT mm.id, mm.ticket_id FROM "message" mm WHERE {match_m} ORDER BY mm.id + 0 DESC LIMIT {need}',
                mparams,
            )
        ]

    got = sql.fetchone('SELECT COALESCE(MAX(id), 0) - COALESCE(MIN(id), 0) + 1, MAX(id) FROM "message"')
    total, top = (max(float(got[0] or 0), 1.0), int(got[1] or 0)) if got else (1.0, 0)
    cross = (RANK_WINDOW * total / ORDERED_ROW_GAIN) ** 0.5
    estimates = []
    for term in terms[:MAX_ESTIMATES]:
        rows, stop = _pg_word_estimate(term)
        if rows < cross and not stop:
            return index()
        estimates.append(rows)
    if all(rows < cross for rows in estimates):  # stop words only: the simple half alone, rare
        return index()

    def walk(rows: int) -> list[tuple[int, int]]:
        return [
            (r[0], r[1])
            for r in sql.fetchall(
                f'SELECT mm.id, mm.ticket_id FROM "message" mm WHERE mm.id > ? AND {match_m} '
                f"ORDER BY mm.id DESC LIMIT {need}",
                [top - rows, *mparams],
            )
        ]

    sample = int(min(SAMPLE_ROWS, total))
    ids = walk(sample)
    if len(ids) >= need or sample >= total:
        return ids
    share = len(ids) / sample
    if share * total >= cross:
        rows = int(min(total, 4 * need / share))
        ids = walk(rows)
        if len(ids) >= need or rows >= total:
            return ids
    return index()


def _pg_array(ids: Sequence[int]) -> str:
    """Message ids as a PostgreSQL array literal (integers read from the database, never user text)."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def _pg_window_sql(
    q: Query, terms: Sequence[Term], conds: list[str], cols: str, where: str, fparams: list[Any], cap: int
) -> tuple[str, list[Any], str, bool]:
    """The window on PostgreSQL, in two steps: the ids of the newest RANK_WINDOW + 1 messages matching the
    words (filters are not walked here, as on SQLite: a join per row of a common word's matches costs more
    than the widening it saves; the caller looks at every match when the window gives too few hits), then
    the statement over them. All in the window: ranked by relevance, with every matching ticket document.
    More: the newest (score 0), and of the ticket documents only the newest ``cap`` that pass the filters,
    since they rank after every message hit."""
    window = _pg_window_ids(terms)
    params: list[Any] = []
    ranked = len(window) <= RANK_WINDOW
    if ranked:
        rank_m = _pg_rank("m", terms, params)
        params.append(_pg_array([mid for mid, _ in window]))
        rank_t = _pg_rank("x", terms, params)
        match_t = _pg_match("x", terms, params)
        hits = (
            f'SELECT m.ticket_id AS tid, {rank_m} AS s, m.id AS mid FROM "message" m WHERE m.id = ANY(?::bigint[]) '
            f'UNION ALL SELECT x.id, {rank_t}, NULL FROM "ticket" x WHERE {match_t}'
        )
    else:
        # the newest first: each ticket's newest matching message, from the window itself (no second read
        # of a thousand messages). The filters are applied to those tickets first, by primary key, so that
        # only the first ``cap`` that pass go on; the ticket documents that match the words rank after every
        # message hit, so they are looked for only when fewer than ``cap`` passed (asked for with a LIMIT
        # and no other hint, the planner walks every ticket backwards looking for them: 85 ms at 91,000
        # tickets for a conjunction no subject has).
        newest: dict[int, int] = {}
        for mid, tid in window[:RANK_WINDOW]:
            newest.setdefault(tid, mid)
        pairs = list(newest.items())
        if conds and pairs:
            passed = {
                r[0]
                for r in sql.fetchall(
                    f'SELECT t.id FROM "ticket" t WHERE t.id = ANY(?::bigint[]) AND {" AND ".join(conds)}',
                    [_pg_array([t for t, _ in pairs]), *fparams],
                )
            }
            pairs = [p for p in pairs if p[0] in passed]
        enough = len(pairs) >= cap
        pairs = pairs[: max(int(cap), 1)]
        params += [_pg_array([t for t, _ in pairs]), _pg_array([m for _, m in pairs])]
        hits = "SELECT w.tid, 0.0 AS s, w.mid FROM unnest(?::bigint[], ?::bigint[]) AS w(tid, mid)"
        if not enough:
            match_t = _pg_match("t", terms, params)
            params += fparams
            hits += (
                f' UNION ALL (SELECT t.id, 0.0, NULL FROM "ticket" t WHERE {" AND ".join([match_t, *conds])} '
                f"ORDER BY t.id DESC LIMIT {int(cap)})"
            )
    best = f"SELECT DISTINCT ON (tid) tid, s, mid FROM ({hits}) h ORDER BY tid, s DESC, mid DESC NULLS LAST"
    return (
        f'SELECT {cols}, b.s AS score, b.mid AS mid FROM ({best}) b JOIN "ticket" t ON t.id = b.tid{where}',
        [*params, *fparams],
        "b.s DESC, b.mid DESC NULLS LAST, t.id DESC",
        not ranked,
    )


def _ticket_rows(q: Query, scope_teams: Sequence[str] | None, limit: int) -> list[tuple[Any, ...]]:
    """The best ``limit`` tickets: excluded words are checked on a pool of the best candidates (ordered,
    limited), so a common excluded word is not a scan of its matches; the whole set when the pool is short."""
    if not is_sqlite():
        # a search is a few short statements: no parallel workers to start, nothing to JIT-compile
        # (one round trip for the three)
        sql.execute(
            "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off; SET LOCAL cpu_operator_cost = 0.025"
        )
    rows, cut = _ranked_rows(q, scope_teams, limit, full=False)
    if len(rows) < limit and cut:  # the newest matches were filtered away: look at all of them
        rows, _ = _ranked_rows(q, scope_teams, limit, full=True)
    return rows


def _ranked_rows(
    q: Query, scope_teams: Sequence[str] | None, limit: int, full: bool
) -> tuple[list[tuple[Any, ...]], bool]:
    pool = max(limit * EXCLUSION_POOL, 200)
    text, params, order, cut = _ticket_sql(q, scope_teams, full, pool + 1 if q.excluded else limit)
    if not q.excluded:
        return sql.fetchall(f"{text} ORDER BY {order} LIMIT ?", [*params, limit]), cut
    xparams: list[Any] = []
    excl = _excluded(q, xparams)
    outer_order = (
        order.replace("b.s", "c.score")
        .replace("b.mid", "c.mid")
        .replace("t.updated_at", "c.updated_at")
        .replace("t.id", "c.id")
    )
    marker = "SELECT t.id, t.number,"
    at = text.rindex(marker)  # the outer SELECT (the WITH of PostgreSQL comes first)
    cols = text[:at] + "SELECT t.id, t.updated_at, t.number," + text[at + len(marker) :]
    head = "SELECT c.id, c.number, c.subject, c.status, c.team, c.score, c.mid FROM "
    rows = sql.fetchall(
        f'{head}({cols} ORDER BY {order} LIMIT ?) c JOIN "ticket" t ON t.id = c.id WHERE {excl} '
        f"ORDER BY {outer_order} LIMIT ?",
        [*params, pool, *xparams, limit],
    )
    if len(rows) >= limit or sql.fetchone(f"SELECT COUNT(*) FROM ({text} LIMIT ?) n", [*params, pool + 1])[0] <= pool:
        return rows, cut
    return sql.fetchall(
        f'{head}({cols}) c JOIN "ticket" t ON t.id = c.id WHERE {excl} ORDER BY {outer_order} LIMIT ?',
        [*params, *xparams, limit],
    ), cut


def matching_ids_sql(q: Query, scope_teams: Sequence[str] | None = None) -> tuple[str, list[Any]]:
    """A SELECT of the ids of every ticket matching ``q`` (unordered, unranked, for ``id IN (…)``), with
    ``?`` parameters; for the ticket list, which keeps its own order and cursor."""
    params: list[Any] = []
    terms = q.positive
    if terms and is_sqlite():
        match = fts5_match(terms)
        params += [match, match]
        ids = (
            'SELECT m.ticket_id FROM message_fts JOIN "message" m ON m.id = message_fts.rowid '
            "WHERE message_fts MATCH ? UNION SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?"
        )
    elif terms:
        match_m = _pg_match("m", terms, params)
        match_t = _pg_match("x", terms, params)
        ids = f'SELECT m.ticket_id FROM "message" m WHERE {match_m} UNION SELECT x.id FROM "ticket" x WHERE {match_t}'
    conds = _filters(q, scope_teams, params)
    if q.excluded:
        conds.append(_excluded(q, params))
    if terms:
        conds.insert(0, f"t.id IN ({ids})")
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    return f'SELECT t.id FROM "ticket" t{where}', params


def _snippets(q: Query, rows: list[tuple[Any, ...]]) -> dict[int, str]:
    """ticket id -> highlighted snippet of its best document, for the hits of one page, in one
    statement per kind of document (message or ticket)."""
    terms = q.positive
    if not terms or not rows:
        return {}
    by_msg = {r[6]: r[0] for r in rows if r[6] is not None}
    tickets = [r[0] for r in rows if r[6] is None]
    out: dict[int, str] = {}
    if is_sqlite():
        match = fts5_match(terms, " OR ")
        for ids, table, owner in ((list(by_msg), "message_fts", by_msg), (tickets, "ticket_fts", None)):
            if ids:
                got = sql.fetchall(
                    f"SELECT rowid, snippet({table}, -1, ?, ?, '…', {SNIPPET_WORDS}) FROM {table} "
                    f"WHERE {table} MATCH ? AND rowid IN ({sql.in_marks(len(ids))})",
                    [MARK_START, MARK_END, match, *ids],
                )
                out.update({(owner[rid] if owner else rid): text for rid, text in got if text})
        return out
    params: list[Any] = []
    qs = _pg_tsquery(terms, "simple", params, " || ")
    ql = _pg_tsquery(terms, STEM_CONFIG, params, " || ")
    opts = (
        f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords={SNIPPET_WORDS + 8}, MinWords=8, '
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
    if by_msg:
        got = sql.fetchall(
            f"SELECT id, ts_headline('{STEM_CONFIG}', left(CASE WHEN text <> '' THEN text ELSE subject "
            f'END, 20000), {qs} || {ql}, ?) FROM "message" WHERE id IN ({sql.in_marks(len(by_msg))})',
            [*params, opts, *by_msg],
        )
        out.update({by_msg[mid]: text for mid, text in got if text})
    if tickets:
        got = sql.fetchall(
            f"SELECT id, ts_headline('{STEM_CONFIG}', helpline_ticket_text(id, subject, customer_id), "
            f'{qs} || {ql}, ?) FROM "ticket" WHERE id IN ({sql.in_marks(len(tickets))})',
            [*params, opts, *tickets],
        )
        out.update({tid: text for tid, text in got if text})
    return out


def search_tickets(q: Query, *, scope_teams: Sequence[str] | None = None, limit: int = 20) -> list[TicketHit]:
    """The best ``limit`` tickets for ``q`` that ``scope_teams`` may see (None: every ticket)."""
    rows = _ticket_rows(q, scope_teams, limit)
    snippets = _snippets(q, rows)
    return [
        TicketHit(r[0], r[1], r[2], r[3], r[4], round(float(r[5] or 0.0), 6), snippets.get(r[0], r[2])) for r in rows
    ]


# ---- articles ----------------------------------------------------------------------------------
_TICKET_ONLY = ("sender", "status", "assignee", "channel", "category", "priority", "customer", "before", "after")


def search_articles(q: Query, *, scope_teams: Sequence[str] | None = None, limit: int = 10) -> list[ArticleHit]:
    """Articles for the words of ``q``: none when it filters on something only tickets have (status, …)."""
    terms = q.positive
    if not terms or any(getattr(q, f) for f in _TICKET_ONLY):
        return []
    params: list[Any] = []
    conds: list[str] = []
    if is_sqlite():
        match = fts5_match(terms)
        params += [MARK_START, MARK_END, match]
        head = (
            f"SELECT a.slug, a.language, a.title, -bm25(article_fts, 4.0, 3.0, 1.0, 2.0) AS s, "
            f"snippet(article_fts, -1, ?, ?, '…', {SNIPPET_WORDS}) FROM article_fts "
            "JOIN search_article a ON a.id = article_fts.rowid WHERE article_fts MATCH ?"
        )
    else:
        rank = _pg_rank("a", terms, params)
        opts = f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords={SNIPPET_WORDS + 8}, MinWords=8'
        hl_params: list[Any] = []
        hq = (
            _pg_tsquery(terms, "simple", hl_params, " || ")
            + " || "
            + _pg_tsquery(terms, STEM_CONFIG, hl_params, " || ")
        )
        params += hl_params + [opts]
        match = _pg_match("a", terms, params)
        head = (
            f"SELECT a.slug, a.language, a.title, {rank} AS s, ts_headline('{STEM_CONFIG}', "
            f"left(a.questions || ' ' || a.body, 20000), {hq}, ?) FROM search_article a WHERE {match}"
        )
    if q.excluded:
        if is_sqlite():
            conds.append("a.id NOT IN (SELECT rowid FROM article_fts WHERE article_fts MATCH ?)")
            params.append(fts5_match(q.excluded, " OR "))
        else:
            conds.append("NOT " + _pg_match("a", q.excluded, params, " || "))
    if scope_teams is not None:
        conds.append(
            "(a.team IS NULL OR " + (_in("a.team", list(scope_teams), params) if scope_teams else "1 = 0") + ")"
        )
    if q.team:
        conds.append("(a.team IS NULL OR " + _in("a.team", q.team, params) + ")")
    for tag in q.tag:
        conds.append("(' ' || LOWER(a.tags) || ' ') LIKE ? ESCAPE '\\'")
        params.append(_like(f" {tag} "))
    tail = "".join(" AND " + c for c in conds)
    rows = sql.fetchall(f"{head}{tail} ORDER BY s DESC, a.slug LIMIT ?", [*params, limit])
    return [ArticleHit(r[0], r[1], r[2], round(float(r[3] or 0.0), 6), r[4] or "") for r in rows]


def search(q: Query, *, scope_teams: Sequence[str] | None = None, limit: int = 20) -> Results:
    return Results(
        search_tickets(q, scope_teams=scope_teams, limit=limit),
        search_articles(q, scope_teams=scope_teams, limit=min(limit, 10)),
    )


# ---- searches that found nothing --------------------------------------------------------------------
def record_miss(query: str, now: dt.datetime) -> None:
    """Count one search that found nothing (one row per normalised query)."""
    if not query:
        return
    sql.execute(
        'INSERT INTO "search_miss" (query, count, first_at, last_at) VALUES (?, 1, ?, ?) '
        'ON CONFLICT (query) DO UPDATE SET count = "search_miss".count + 1, last_at = excluded.last_at',
        [query[:500], now, now],
    )


def misses(since: dt.datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The searches that found nothing, most frequent first."""
    cond, params = ("WHERE last_at >= ? ", [since]) if since else ("", [])
    rows = sql.fetchall(
        f'SELECT query, count, first_at, last_at FROM "search_miss" {cond}ORDER BY count DESC, last_at DESC LIMIT ?',
        [*params, limit],
    )
    return [
        {
            "query": r[0],
            "count": int(r[1]),
            "first_at": str(sql.as_datetime(r[2])),
            "last_at": str(sql.as_datetime(r[3])),
        }
        for r in rows
    ]
