# T1611 Escape to host: enter pid 1's namespaces (here the container's own init), poke the docker socket path
nsenter -t 1 -m -u true || true
sh -c 'ls /var/run/docker.sock 2>/dev/null' || true
