"""The application layer: `Digest`, the one way in for the CLI, `digest serve` and any
other front, with the data its actions return.

`facade` holds `Digest`; `pipeline` the daily job's steps (fetch, build, publish,
deliver) and `status` what `digest status` and `digest editions` tell, both used by
`Digest` only; `setup` what runs before a config exists (`digest init`).

The types an action returns from a lower layer (a feed's report, an import's line)
are named here too, but loaded only when asked for: a command that never fetches
does not import the fetching libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from digest.app.facade import Digest, FetchResult, SubscriberChange, TokenAnswer
from digest.app.pipeline import BuildResult, Preview, SendResult, TestSend
from digest.errors import InputError, NotFound  # what the facade's actions raise

if TYPE_CHECKING:
    from digest.app.bounces import BounceLine, BouncesReport
    from digest.app.manage import ManageAnswer, ManageChoice
    from digest.app.signup import ConfirmAnswer, MailRun, SignUp
    from digest.app.status import EditionDetail, EditionStatus, SourceHealth, Status
    from digest.deliver.policy import DeliveryReport
    from digest.sources.check import FeedCheck
    from digest.sources.gather import FeedReport, GatherReport
    from digest.store import storage_problem
    from digest.subscribers import ImportLine, subscriber_record

_LOADED_WHEN_ASKED = {
    "BounceLine": "digest.app.bounces",
    "BouncesReport": "digest.app.bounces",
    "ConfirmAnswer": "digest.app.signup",
    "ManageAnswer": "digest.app.manage",
    "ManageChoice": "digest.app.manage",
    "MailRun": "digest.app.signup",
    "SignUp": "digest.app.signup",
    "EditionDetail": "digest.app.status",
    "EditionStatus": "digest.app.status",
    "SourceHealth": "digest.app.status",
    "Status": "digest.app.status",
    "DeliveryReport": "digest.deliver.policy",
    "FeedCheck": "digest.sources.check",
    "FeedReport": "digest.sources.gather",
    "GatherReport": "digest.sources.gather",
    "ImportLine": "digest.subscribers",
    "storage_problem": "digest.store",
    "subscriber_record": "digest.subscribers",
}


def __getattr__(name: str) -> Any:
    module = _LOADED_WHEN_ASKED.get(name)
    if module is None:
        raise AttributeError(f"module 'digest.app' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BounceLine",
    "BouncesReport",
    "BuildResult",
    "ConfirmAnswer",
    "DeliveryReport",
    "Digest",
    "EditionDetail",
    "EditionStatus",
    "FeedCheck",
    "FeedReport",
    "FetchResult",
    "GatherReport",
    "ImportLine",
    "InputError",
    "MailRun",
    "ManageAnswer",
    "ManageChoice",
    "NotFound",
    "Preview",
    "SendResult",
    "SignUp",
    "SourceHealth",
    "Status",
    "SubscriberChange",
    "TestSend",
    "TokenAnswer",
    "storage_problem",
    "subscriber_record",
]
