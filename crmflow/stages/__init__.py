"""The tunable stages of a run, in the order they run."""
