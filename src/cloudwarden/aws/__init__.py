"""AWS access at the edge: sessions and clients (retries, timeouts, endpoint override), credential
checks, enabled-region discovery, and AWS Organizations member accounts with assumed roles."""
