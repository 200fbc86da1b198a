"""Event models, one module per stream; ``Envelope`` carries them on the wire."""

from herald.common.events.assets import AssetApproved
from herald.common.events.envelope import Envelope, Event, UnknownSchemaError
from herald.common.events.jobs import JobCancelled, JobRecovered, JobRetryRequested
from herald.common.events.publish import PublishFailed, PublishRequested, PublishSucceeded

__all__ = [
    "AssetApproved",
    "Envelope",
    "Event",
    "JobCancelled",
    "JobRecovered",
    "JobRetryRequested",
    "PublishFailed",
    "PublishRequested",
    "PublishSucceeded",
    "UnknownSchemaError",
]
