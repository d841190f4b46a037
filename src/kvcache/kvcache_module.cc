// Module kvcache: see docs/architecture.md.
