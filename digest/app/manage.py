"""The manage page: a subscriber changes their categories, pauses, or leaves.

It is reached by the signed manage link every newsletter carries (a token that does
not expire, with its own purpose: no unsubscribe or confirmation token opens it). A
forged or malformed token changes nothing; neither does a bad choice (an unknown
category, a pause that ends before today), which is answered with the form again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from digest.config import Config
from digest.deliver.tokens import read_manage_token, secret_for
from digest.store import Store
from digest.subscribers import check_categories


@dataclass(frozen=True)
class ManageChoice:
    """What the manage page's form sent, as typed: category slugs, a pause's last day
    ("" for none, else YYYY-MM-DD), or leaving."""

    categories: tuple[str, ...] = ()
    pause_until: str = ""
    unsubscribe: bool = False


@dataclass(frozen=True)
class ManageAnswer:
    """What a manage token came to, and the subscriber's choice as it now stands."""

    state: Literal["form", "saved", "problem", "unsubscribed", "invalid"]
    email: str = ""
    categories: frozenset[str] = frozenset()
    paused_until: dt.date | None = None


def manage(config: Config, store: Store, token: str | None, today: dt.date,
           choice: ManageChoice | None = None) -> ManageAnswer:
    """Show (`choice` None) or save what the token's subscriber chose."""
    subscriber_id = read_manage_token(secret_for(store.secret), token) if token else None
    subscriber = store.subscriber_by_id(subscriber_id) if subscriber_id is not None else None
    if subscriber is None or subscriber.status in ("pending", "bounced"):
        return ManageAnswer("invalid")
    if subscriber.status == "unsubscribed":
        return ManageAnswer("unsubscribed", subscriber.email)
    paused = subscriber.paused_until if subscriber.status == "paused" else None
    shown = ManageAnswer("form", subscriber.email, subscriber.categories,
                         paused if paused is not None and paused >= today else None)
    if choice is None:
        return shown
    if choice.unsubscribe:
        store.set_subscriber_status(subscriber.email, "unsubscribed")
        return ManageAnswer("unsubscribed", subscriber.email)
    try:
        categories = check_categories(choice.categories, config.category_slugs)
        until = dt.date.fromisoformat(choice.pause_until) if choice.pause_until else None
    except ValueError:
        return ManageAnswer("problem", shown.email, shown.categories, shown.paused_until)
    if until is not None and until < today:
        return ManageAnswer("problem", shown.email, shown.categories, shown.paused_until)
    saved = store.manage_subscriber(subscriber.id, categories, until)
    if saved is None:  # left or bounced between reading and saving
        return ManageAnswer("invalid")
    return ManageAnswer("saved", saved.email, saved.categories, saved.paused_until)
