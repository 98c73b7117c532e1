"""rbk-logs: ``logs.inspect`` (access logs) and ``logs.slow_queries`` (database slow logs)."""

from rbk import hookimpl


@hookimpl
def rbk_actions(register):
    from rbk_logs.actions import LogsInspect, SlowQueries

    register(LogsInspect)
    register(SlowQueries)
