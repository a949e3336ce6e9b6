"""A simulated DynamoDB Streams service, an oracle for stream invariants, and crash hooks.

See ``service.py`` (the service and its virtual clock) and ``oracle.py`` (invariants I1-I5,
delivery logs, crash plans).
"""

from .oracle import (
    AFTER_FETCH,
    AFTER_HANDLE,
    AFTER_SAVE,
    BEFORE_HANDLE,
    BEFORE_SAVE,
    CRASH_POINTS,
    CrashPlan,
    DeliveryLog,
    LossReport,
    SessionLog,
    check_invariants,
    check_simulation,
    run_session,
    sequence_number_of,
)
from .service import (
    FaultSchedule,
    ScheduledFault,
    Settings,
    ShardState,
    SimulatedCrash,
    SimulatedStreams,
    SimulatedTable,
    StreamState,
    VirtualClock,
    WrittenRecord,
    service_error,
)

__all__ = [
    "AFTER_FETCH",
    "AFTER_HANDLE",
    "AFTER_SAVE",
    "BEFORE_HANDLE",
    "BEFORE_SAVE",
    "CRASH_POINTS",
    "CrashPlan",
    "DeliveryLog",
    "FaultSchedule",
    "LossReport",
    "ScheduledFault",
    "SessionLog",
    "Settings",
    "ShardState",
    "SimulatedCrash",
    "SimulatedStreams",
    "SimulatedTable",
    "StreamState",
    "VirtualClock",
    "WrittenRecord",
    "check_invariants",
    "check_simulation",
    "run_session",
    "sequence_number_of",
    "service_error",
]
