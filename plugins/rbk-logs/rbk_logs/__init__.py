"""rbk-logs: ``logs.inspect`` (access logs) and ``logs.slow_queries`` (database slow logs)."""

from rbk import hookimpl


@hookimpl
def rbk_actions(register):
    from rbk_logs.actions import LogsInspect, SlowQueries

    register(LogsInspect)
    register(SlowQueries)


@hookimpl
def rbk_template_filters():
    def path_prefixes(paths):
        """Directory prefixes of URL paths, unique, in order: /static/a.js -> /static/."""
        out = []
        for p in paths or []:
            prefix = str(p).rsplit("/", 1)[0] + "/"
            if prefix != "/" and prefix not in out:
                out.append(prefix)
        return out

    return {"path_prefixes": path_prefixes}
