"""One log line for an activity's expected failure, the traceback only for a bug.

temporalio's activity worker logs every failed attempt as "Completing activity as failed" with
`exc_info`, so a provider's 404 (an `ActivityError` such as `ResourceNotFound`, turned into an
`ApplicationError` of that type by `activities.errors.as_application_error`) filled the log
with stack frames that say nothing a responder needs. `ExpectedFailures` rewrites exactly those
records to one line naming the activity, the error type and its message; anything else an
activity raises (a bug: `KeyError`, `TypeError`, an `ApplicationError` of another type) keeps
its traceback.
"""

from __future__ import annotations

import logging

from temporalio.exceptions import ApplicationError

from activities.errors import ActivityError

SDK_LOGGER = "temporalio.activity"
SDK_MESSAGE = "Completing activity as failed"


def _subclass_names(cls: type[ActivityError]) -> set[str]:
    names = {cls.__name__}
    for sub in cls.__subclasses__():
        names |= _subclass_names(sub)
    return names


class ExpectedFailures(logging.Filter):
    """Strips the traceback from the SDK's record of an expected activity failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not (
            isinstance(error, ApplicationError)
            and isinstance(record.msg, str)
            and record.msg.startswith(SDK_MESSAGE)
            and error.type in _subclass_names(ActivityError)
        ):
            return True
        details = getattr(record, "temporal_activity", None) or {}
        where = " ".join(
            f"{key}={details[key]}"
            for key in ("activity_type", "attempt", "workflow_id")
            if key in details
        )
        retry = "" if error.non_retryable else ", will retry"
        record.msg = f"activity failed{retry}: {error.type}: {error.message}" + (
            f" ({where})" if where else ""
        )
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def quiet_expected_failures() -> None:
    """Install the filter on the SDK's activity logger, once per process."""
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, ExpectedFailures) for f in logger.filters):
        logger.addFilter(ExpectedFailures())
