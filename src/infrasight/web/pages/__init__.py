"""One module per page; each has ``register(ctx)`` adding its routes to NiceGUI."""
