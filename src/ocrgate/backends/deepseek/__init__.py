"""DeepSeek-OCR: prompts, the grounding-output parser and two engines (vLLM server, transformers)."""
