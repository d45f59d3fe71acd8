"""ocrgate on Ray Serve, on a local Ray cluster of two nodes (CPU only, two GPUs declared)."""
