"""Evidence: the notary's append-only, hash-chained, signed ledger, operation logs, and their audit."""
