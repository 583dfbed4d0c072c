# T1496 Resource hijacking: a miner-named binary with stratum arguments
cp /bin/true /tmp/xmrig
/tmp/xmrig -o stratum+tcp://127.0.0.1:3333 -u wallet --donate-level 1 || true
