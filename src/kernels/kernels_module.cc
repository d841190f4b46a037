// Module kernels: see docs/architecture.md.
