# T1070.003 / T1070.002: clear shell history, delete system logs
bash -c 'history -c; unset HISTFILE' || true
rm -f /var/log/dpkg.log
