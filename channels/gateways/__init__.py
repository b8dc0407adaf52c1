"""Gateway adapters: one small interface, one module per kind of provider."""
