// Module policy: see docs/architecture.md.
