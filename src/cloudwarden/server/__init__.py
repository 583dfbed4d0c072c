"""The server: HTTP API, dashboard, scheduler, live compliance, in one process (`cloudwarden serve`)."""
