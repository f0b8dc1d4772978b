"""Roles in the ticket API: what a personal key (``helpline api-keys create --agent EMAIL``) may do.

A personal key may do what its scopes allow *and* its agent's role allows on
the ticket at hand (``router.permissions``); its replies and notes are
authored by that agent, never by a free-text ``author``, and its audit events
name the agent. An integration key (no agent) keeps exactly its scopes. A
personal key whose agent left the configuration acts on nothing.

These run off the event loop (they read the store); a refusal is
``PermissionDenied``, answered 403 with the role needed.
"""

from __future__ import annotations

from helpline.router import permissions
from helpline.router.permissions import PermissionDenied
from helpline.store.access import agent_roles
from helpline.store.access.agent_roles import ActorInfo

from helpline.ingest.http.api_auth import Caller

__all__ = ["AuthorRefused", "PermissionDenied", "actor_of", "require", "author_of", "sees_pii"]


class AuthorRefused(ValueError):
    """A personal key's reply or note names another author (answered 422)."""


def actor_of(caller: Caller) -> ActorInfo | None:
    """The agent a personal key acts as (None for an integration key)."""
    if not caller.agent:
        return None
    actor = agent_roles.by_email(caller.agent)
    if actor is None:
        raise PermissionDenied(
            permissions.Decision(
                False, "reply", "no longer an agent", "agent", f"{caller.agent} is not an active agent"
            )
        )
    return actor


def require(caller: Caller, action: str, ticket_id: int | None = None) -> str:
    """Raise ``PermissionDenied`` when a personal key's agent may not do ``action`` (on the ticket); else the
    role that allowed it ("" for an integration key, which its scopes alone allow)."""
    actor = actor_of(caller)
    if actor is None:
        return ""
    facts = agent_roles.ticket_facts(ticket_id=ticket_id) if ticket_id is not None else None
    return permissions.require(actor, action, facts).role


def author_of(caller: Caller, given: str | None) -> str:
    """Who a reply or note is by: a personal key's agent (their name), else the body's ``author`` or the key's
    name. A personal key naming another author is refused: ``AuthorRefused``."""
    actor = actor_of(caller)
    if actor is None:
        return given or caller.name
    if given and given not in (actor.name, actor.email):
        raise AuthorRefused(f"a personal key's replies and notes are by its agent ({actor.email}); leave out author")
    return actor.name or actor.email


def sees_pii(caller: Caller) -> bool:
    """Whether answers to this key carry personal data unmasked: the ``pii`` scope, and for a personal key an
    agent whose role may see it."""
    if "pii" not in caller.scopes:
        return False
    actor = actor_of(caller)
    return actor is None or permissions.decide(actor, "see_pii").allowed
