"""Event models, one module per stream; ``Envelope`` carries them on the wire."""

from herald.common.events.alerts import AlertEscalated, AlertRaised, AlertResolved, AlertSnapshot
from herald.common.events.assets import AssetApproved
from herald.common.events.changes import AlertChanged, JobChanged
from herald.common.events.envelope import Envelope, Event, UnknownSchemaError
from herald.common.events.jobs import JobCancelled, JobRecovered, JobRetryRequested
from herald.common.events.publish import PublishFailed, PublishRequested, PublishSucceeded
from herald.common.events.system import ChannelAuthFailed, ConditionReported

__all__ = [
    "AlertChanged",
    "AlertEscalated",
    "AlertRaised",
    "AlertResolved",
    "AlertSnapshot",
    "AssetApproved",
    "ChannelAuthFailed",
    "ConditionReported",
    "Envelope",
    "Event",
    "JobCancelled",
    "JobChanged",
    "JobRecovered",
    "JobRetryRequested",
    "PublishFailed",
    "PublishRequested",
    "PublishSucceeded",
    "UnknownSchemaError",
]
