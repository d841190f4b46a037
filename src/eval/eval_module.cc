// Module eval: see docs/architecture.md.
