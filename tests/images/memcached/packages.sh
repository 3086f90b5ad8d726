apt-get install -y memcached
