"""The gateway: durable multi-page jobs and what serves them."""
