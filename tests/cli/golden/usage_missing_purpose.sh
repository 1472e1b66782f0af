$ARGOT files upload /etc/hostname
