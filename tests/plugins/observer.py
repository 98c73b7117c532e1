"""Test plugin observing runs through the event hooks; appends to $RBK_OBSERVER_LOG."""

import json
import os

from rbk import hookimpl


def _log(**record):
    with open(os.environ["RBK_OBSERVER_LOG"], "a") as fh:
        fh.write(json.dumps(record) + "\n")


@hookimpl
def rbk_run_started(run):
    _log(hook="run_started", run=run["id"], inputs=run["inputs"])


@hookimpl
def rbk_step_finished(step):
    _log(hook="step_finished", step=step["id"], status=step["status"])


@hookimpl
def rbk_run_finished(run, report):
    _log(hook="run_finished", run=run["id"], status=report.status)
