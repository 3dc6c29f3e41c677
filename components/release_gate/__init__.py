"""ReleaseGate: the checks a candidate passes before the Pusher may push it."""
