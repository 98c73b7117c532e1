"""Run journal and history store."""
