// Module gguf: see docs/architecture.md.
