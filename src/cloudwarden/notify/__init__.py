"""Notifications: Slack incoming webhooks, HMAC-signed generic webhooks, email over SMTP.

`routing.py` decides which channel gets which alert (pure), `digest.py` turns a burst into one message
(pure), `channels.py` sends (I/O), `dispatcher.py` runs the bounded queue, grouping window, per-channel
rate limit and retries in one background thread. `store.py` keeps channels added from the dashboard.
"""
