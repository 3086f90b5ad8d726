apt-get install -y caddy
