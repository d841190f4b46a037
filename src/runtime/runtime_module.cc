// Module runtime: see docs/architecture.md.
