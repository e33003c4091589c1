"""Moving frames between parties: gRPC over mutual TLS, and an in-memory twin."""
