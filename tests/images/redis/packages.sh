apt-get install -y redis-server
