"""Running the embedded stack: the Temporal dev server, ports, and the all-in-one process."""
