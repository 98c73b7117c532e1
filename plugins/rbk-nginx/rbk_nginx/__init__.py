"""rbk-nginx: limits, blocks, caching and upstream pools on nginx, with safe reload."""

from rbk import hookimpl


@hookimpl
def rbk_actions(register):
    from rbk_nginx.actions import ACTIONS

    for action in ACTIONS:
        register(action)
