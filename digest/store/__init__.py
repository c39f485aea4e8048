"""SQLite state: the digest's one state file, split by domain.

`schema` holds the numbered migrations; `core` opens the file and runs transactions;
`feeds`, `articles`, `editions` (with what the published files were made from),
`subscribers`, `deliveries`, `bounces`, `reports` and `signup_mail` hold the queries of
each domain. `Store` puts the parts together: the one object the rest of the digest
works with.
"""

from __future__ import annotations

from digest.clock import utcnow
from digest.store.articles import TERM_SEPARATOR, ArticlesMixin
from digest.store.bounces import BounceEvent, BouncesMixin, BounceTally, Failure
from digest.store.core import StorageError, storage_problem
from digest.store.deliveries import DeliveriesMixin, Unconfirmed
from digest.store.editions import EDITION_CONTENT, EditionEntry, EditionsMixin
from digest.store.feeds import FeedsMixin
from digest.store.reports import EditionTally, ReportsMixin
from digest.store.schema import MIGRATIONS
from digest.store.signup_mail import QueuedMail, SignupMailMixin
from digest.store.subscribers import SubscribersMixin

__all__ = [
    "EDITION_CONTENT", "MIGRATIONS", "TERM_SEPARATOR", "BounceEvent", "BounceTally",
    "EditionEntry", "EditionTally", "Failure", "QueuedMail", "StorageError", "Store",
    "Unconfirmed", "storage_problem", "utcnow",
]


class Store(FeedsMixin, ArticlesMixin, EditionsMixin, SubscribersMixin, DeliveriesMixin,
            ReportsMixin, SignupMailMixin, BouncesMixin):
    """The digest's state in one SQLite file."""
