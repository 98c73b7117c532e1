"""rbk-hosts: hosts.facts, hosts.upload and hosts.service."""

from rbk import hookimpl


@hookimpl
def rbk_actions(register):
    from rbk_hosts.actions import ACTIONS

    for action in ACTIONS:
        register(action)
