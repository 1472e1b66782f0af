$ARGOT files upload /etc/hostname --purpose batch --expires-after soon
