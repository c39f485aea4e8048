"""The application layer: `Digest`, the one way in for the CLI, `digest serve` and any
other front, with the data its actions return.

`facade` holds `Digest`; `pipeline` the daily job's steps (fetch, build, publish,
deliver) and `status` what `digest status` and `digest editions` tell, both used by
`Digest` only; `setup` what runs before a config exists (`digest init`).
"""

from digest.app.facade import (
    Digest,
    FetchResult,
    InputError,
    NotFound,
    SubscriberChange,
    TokenAnswer,
)
from digest.app.pipeline import BuildResult, Preview, SendResult, TestSend
from digest.app.status import EditionDetail, EditionStatus, SourceHealth, Status
from digest.delivery import DeliveryReport
from digest.sources.check import FeedCheck
from digest.sources.gather import FeedReport, GatherReport
from digest.store import storage_problem
from digest.subscribers import ImportLine, subscriber_record

__all__ = [
    "BuildResult",
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
    "NotFound",
    "Preview",
    "SendResult",
    "SourceHealth",
    "Status",
    "SubscriberChange",
    "TestSend",
    "TokenAnswer",
    "storage_problem",
    "subscriber_record",
]
