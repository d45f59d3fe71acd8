"""Fake engine servers speaking the real engines' protocols, for tests (`python -m tests.fakes.X`)."""
