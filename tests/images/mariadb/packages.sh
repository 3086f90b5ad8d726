apt-get install -y mariadb-server mariadb-client
# The package's postinst created a data dir; the entrypoint initialises its own.
rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql /run/mysqld
chown mysql:mysql /var/lib/mysql /run/mysqld
