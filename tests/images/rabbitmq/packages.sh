apt-get install -y rabbitmq-server
# The postinst made an Erlang cookie; each container must make its own.
rm -f /var/lib/rabbitmq/.erlang.cookie
