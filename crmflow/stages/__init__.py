"""The stage contract (`contract`) and the stages a run is configured with (`registry`)."""
