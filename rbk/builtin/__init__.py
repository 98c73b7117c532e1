"""Generic actions every runbook needs, registered exactly like third-party plugins."""
