// Module tokenizer: see docs/architecture.md.
