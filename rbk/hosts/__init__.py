"""Targets: inventory, host patterns and transports (local now; SSH plugs in behind the same interface)."""
