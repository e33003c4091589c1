"""A hospital node: trains on local data, sends back parameters, connects outbound only."""
