"""Stand-ins for engines whose model weights cannot be downloaded here; each speaks the real protocol."""
