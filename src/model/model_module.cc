// Module model: see docs/architecture.md.
