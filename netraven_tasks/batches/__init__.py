"""Fleet runs: one launch over many devices, tracked as one batch row with counters."""
