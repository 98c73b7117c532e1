"""rbk-cdn: cdn.cache_rule, cdn.rate_limit, cdn.block, cdn.purge over a provider interface."""

from rbk import hookimpl


@hookimpl
def rbk_actions(register):
    from rbk_cdn.actions import ACTIONS

    for action in ACTIONS:
        register(action)
