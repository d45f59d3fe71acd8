"""OCR backends: the contract in `base`, the registry in `registry`, one module per engine."""
