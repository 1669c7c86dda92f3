"""Training recipes that produce the bundled models (they compose the built-in plugins)."""
