# Runs inside the chroot (sh -ex) after `apt-get update`; PG_MAJOR is set.
# No default cluster: the entrypoint runs initdb into $PGDATA itself.
apt-get install -y postgresql-common
sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf
apt-get install -y "postgresql-$PG_MAJOR"
test -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres"
