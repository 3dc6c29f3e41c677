"""AtomicPusher: pushes a blessed model as a new version, atomically, keeping the last N."""
