"""Alert intake for ``rbk serve``: sources, authentication, routing, dedup, queue."""
