apt-get install -y python3 python3-psycopg2 python3-redis python3-pika python3-pymysql
