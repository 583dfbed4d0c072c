"""Event sources of the agent. Each one runs in its own thread and hands HostEvents to `emit`."""
