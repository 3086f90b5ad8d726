apt-get install -y rabbitmq-server
