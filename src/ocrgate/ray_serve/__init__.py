"""ocrgate on Ray Serve (`pip install ocrgate[ray]`): nothing outside this package imports Ray."""
