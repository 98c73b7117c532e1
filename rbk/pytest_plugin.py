"""pytest fixtures for runbook and plugin authors (entry point ``pytest11``).

Cheap to import, nothing autouse. ``rbk_runbook(path_or_yaml)`` returns a
:class:`rbk.testing.RunbookHarness` whose ``plan()``/``apply()`` give outcomes
with ``assert_changes(step=...)`` and ``assert_no_changes()``.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def rbk_state_dir(tmp_path, monkeypatch):
    state = tmp_path / "rbk-state"
    monkeypatch.setenv("RBK_STATE_DIR", str(state))
    return state


@pytest.fixture
def rbk_runbook(rbk_state_dir, tmp_path):
    from rbk import plugins
    from rbk.testing import RunbookHarness

    plugins.reset()

    def make(path_or_text, inventory=None):
        return RunbookHarness(path_or_text, state_dir=rbk_state_dir, workdir=tmp_path,
                              inventory=inventory)

    yield make
    plugins.reset()


@pytest.fixture
def rbk_ssh_fleet(tmp_path):
    """Five real sshd hosts on 127.0.0.10-14 (``fleet.inventory()``, ``fleet.hosts``)."""
    from rbk.hosts import ssh
    from rbk.testing_ssh import make_fleet, stop_fleet

    ssh._known_hosts_cache.clear()
    try:
        fleet = make_fleet(tmp_path / "fleet", 5)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield fleet
    stop_fleet(fleet)
