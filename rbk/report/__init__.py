"""One report model, several renderers (text, markdown, json, html)."""
