# T1548.001 Setuid: a setuid-root copy of a shell in /tmp, then run by an unprivileged user
cp /bin/dash /tmp/rootsh
chmod u+s /tmp/rootsh
setpriv --reuid=65534 --regid=65534 --clear-groups /tmp/rootsh -p -c 'id -u' || true
