"""Privacy mechanisms: secure aggregation, differential privacy and privacy accounting.

Pure and network-free; the dispatcher and the nodes drive them.
"""
