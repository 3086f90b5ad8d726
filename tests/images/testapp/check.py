#!/usr/bin/python3
"""Connect to the services an sdtui test stack wires into this container.

For each prefix P in CHECK_PREFIXES (comma separated; default: every P for
which P_URL is set) read P_URL and P_READONLY and check:

  postgres:// postgresql://  connect, SELECT 1; read-write: create, insert
                             into and drop a table; P_READONLY=true: CREATE
                             TABLE must be refused (permission denied /
                             read-only transaction)
  redis:// rediss://         AUTH from the URL, PING, SET/GET/DEL;
                             P_READONLY=true: GET works and SET is refused
  amqp:// amqps://           connect, declare a queue, publish and get back
                             a message, delete the queue
  mysql:// mariadb://        connect, SELECT 1; read-write: create, insert
                             into and drop a table; P_READONLY=true: CREATE
                             TABLE must be refused
  memcached://               set/get/delete (text protocol)
  http:// https://           GET answers with a status below 500

Prints one JSON line per prefix: {"prefix", "ok", "detail"}; exits 1 if any
check failed, 2 if there was nothing to check. Connection failures are
retried until CHECK_TIMEOUT seconds (default 30) have passed, so the
container may start before the services are ready.
"""

import json
import os
import socket
import sys
import time
import uuid
import urllib.error
import urllib.parse
import urllib.request


class CheckError(Exception):
    """A definite failure: retrying will not help."""


def truthy(value):
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def unique_name():
    return "sdtui_check_" + uuid.uuid4().hex[:10]


def check_postgres(url, readonly):
    import psycopg2
    import psycopg2.errors

    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SELECT 1, current_user, current_database(), version()")
        one, user, db, version = cur.fetchone()
        if one != 1:
            raise CheckError("SELECT 1 returned %r" % (one,))
        where = "user=%s db=%s %s" % (user, db, version.split(",")[0])
        table = unique_name()
        if readonly:
            try:
                cur.execute("CREATE TABLE %s (id int)" % table)
            except (psycopg2.errors.InsufficientPrivilege,
                    psycopg2.errors.ReadOnlySqlTransaction) as e:
                return "%s; write refused as expected: %s" % (
                    where, str(e).strip().splitlines()[0])
            cur.execute("DROP TABLE %s" % table)
            raise CheckError("%s; READONLY but CREATE TABLE succeeded" % where)
        cur.execute("CREATE TABLE %s (id int, note text)" % table)
        try:
            cur.execute("INSERT INTO %s VALUES (1, 'sdtui')" % table)
            cur.execute("SELECT note FROM %s WHERE id = 1" % table)
            (note,) = cur.fetchone()
            if note != "sdtui":
                raise CheckError("read back %r" % (note,))
        finally:
            cur.execute("DROP TABLE %s" % table)
        return "%s; create/insert/select/drop ok" % where
    finally:
        conn.close()


def check_redis(url, readonly):
    import redis

    r = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        if r.ping() is not True:
            raise CheckError("PING did not answer PONG")
        try:
            where = "redis %s" % r.info("server").get("redis_version")
        except redis.exceptions.ResponseError:  # an ACL user without +info
            where = "redis"
        key = unique_name()
        if readonly:
            r.get(key)
            try:
                r.set(key, "x", ex=60)
            except redis.exceptions.ResponseError as e:
                return "%s; GET ok, SET refused as expected: %s" % (where, e)
            r.delete(key)
            raise CheckError("%s; READONLY but SET succeeded" % where)
        r.set(key, "sdtui", ex=60)
        got = r.get(key)
        r.delete(key)
        if got != b"sdtui":
            raise CheckError("GET returned %r" % (got,))
        return "%s; PING/SET/GET ok" % where
    except redis.exceptions.AuthenticationError as e:
        raise CheckError("authentication failed: %s" % e)
    except redis.exceptions.ResponseError as e:
        # NOAUTH, WRONGPASS, NOPERM ...: the server answered, retrying won't help
        raise CheckError(str(e))
    finally:
        r.close()


def check_amqp(url, readonly):
    import pika
    import pika.exceptions

    params = pika.URLParameters(url)
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    try:
        conn = pika.BlockingConnection(params)
    except (pika.exceptions.ProbableAuthenticationError,
            pika.exceptions.ProbableAccessDeniedError) as e:
        raise CheckError("refused: %r" % (e,))
    try:
        ch = conn.channel()
        queue = unique_name()
        ch.queue_declare(queue=queue, auto_delete=True)
        body = uuid.uuid4().hex.encode()
        ch.basic_publish(exchange="", routing_key=queue, body=body)
        got = None
        for _ in range(50):
            method, _props, got = ch.basic_get(queue=queue, auto_ack=True)
            if method is not None:
                break
            time.sleep(0.1)
        ch.queue_delete(queue=queue)
        if got != body:
            raise CheckError("published %r, got %r" % (body, got))
        server = conn._impl.server_properties or {}
        version = server.get("version", b"")
        if isinstance(version, bytes):
            version = version.decode(errors="replace")
        note = "; READONLY not checked for amqp" if readonly else ""
        return "rabbitmq %s vhost=%s; declare/publish/get ok%s" % (
            version, params.virtual_host, note)
    finally:
        conn.close()


def check_mysql(url, readonly):
    import pymysql

    u = urllib.parse.urlsplit(url)
    conn = pymysql.connect(
        host=u.hostname or "localhost", port=u.port or 3306,
        user=urllib.parse.unquote(u.username or ""),
        password=urllib.parse.unquote(u.password or ""),
        database=urllib.parse.unquote(u.path.lstrip("/")) or None,
        connect_timeout=5, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1, CURRENT_USER(), DATABASE(), VERSION()")
        one, user, db, version = cur.fetchone()
        where = "user=%s db=%s %s" % (user, db, version)
        table = unique_name()
        if readonly:
            try:
                cur.execute("CREATE TABLE %s (id int)" % table)
            except pymysql.err.MySQLError as e:
                return "%s; write refused as expected: %s" % (where, e)
            cur.execute("DROP TABLE %s" % table)
            raise CheckError("%s; READONLY but CREATE TABLE succeeded" % where)
        cur.execute("CREATE TABLE %s (id int, note text)" % table)
        try:
            cur.execute("INSERT INTO %s VALUES (1, 'sdtui')" % table)
            cur.execute("SELECT note FROM %s WHERE id = 1" % table)
            (note,) = cur.fetchone()
            if note != "sdtui":
                raise CheckError("read back %r" % (note,))
        finally:
            cur.execute("DROP TABLE %s" % table)
        return "%s; create/insert/select/drop ok" % where
    except pymysql.err.OperationalError as e:
        if e.args and e.args[0] in (1044, 1045, 1049):  # access denied, unknown db
            raise CheckError(str(e))
        raise
    finally:
        conn.close()


def check_memcached(url, readonly):
    u = urllib.parse.urlsplit(url)
    key = unique_name()
    with socket.create_connection((u.hostname, u.port or 11211), timeout=5) as s:
        f = s.makefile("rwb")

        def cmd(line, data=None):
            f.write(line.encode() + b"\r\n")
            if data is not None:
                f.write(data + b"\r\n")
            f.flush()
            return f.readline().rstrip(b"\r\n")

        version = cmd("version").decode()
        if not version.startswith("VERSION"):
            raise CheckError("version answered %r" % version)
        if cmd("set %s 0 60 5" % key, b"sdtui") != b"STORED":
            raise CheckError("set not STORED")
        f.write(("get %s\r\n" % key).encode())
        f.flush()
        header = f.readline()
        value = f.readline().rstrip(b"\r\n")
        f.readline()  # END
        cmd("delete %s" % key)
        if not header.startswith(b"VALUE") or value != b"sdtui":
            raise CheckError("get returned %r %r" % (header, value))
        return "memcached %s; set/get/delete ok" % version.split()[-1]


def check_http(url, readonly):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return "HTTP %d" % resp.status
    except urllib.error.HTTPError as e:
        if e.code < 500:
            return "HTTP %d" % e.code
        raise


CHECKS = {
    "postgres": check_postgres, "postgresql": check_postgres,
    "redis": check_redis, "rediss": check_redis,
    "amqp": check_amqp, "amqps": check_amqp,
    "mysql": check_mysql, "mariadb": check_mysql,
    "memcached": check_memcached, "memcache": check_memcached,
    "http": check_http, "https": check_http,
}


def redact(url):
    u = urllib.parse.urlsplit(url)
    if u.password is None:
        return url
    netloc = u.netloc.rsplit("@", 1)[1]
    user = u.username or ""
    return urllib.parse.urlunsplit((u.scheme, "%s:***@%s" % (user, netloc), u.path, u.query, u.fragment))


def run_one(prefix, deadline):
    url = os.environ.get(prefix + "_URL", "")
    readonly = truthy(os.environ.get(prefix + "_READONLY"))
    result = {"prefix": prefix, "ok": False, "detail": "", "url": redact(url),
              "readonly": readonly}
    if not url:
        result["detail"] = "%s_URL is not set" % prefix
        return result
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    check = CHECKS.get(scheme)
    if check is None:
        result["detail"] = "no check for scheme %r" % scheme
        return result
    attempt = 0
    while True:
        attempt += 1
        try:
            result["detail"] = check(url, readonly)
            result["ok"] = True
            break
        except CheckError as e:
            result["detail"] = str(e)
            break
        except Exception as e:  # connection refused, DNS, timeouts ...
            result["detail"] = "%s: %s" % (type(e).__name__, str(e).strip() or repr(e))
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
    result["attempts"] = attempt
    return result


def main():
    raw = os.environ.get("CHECK_PREFIXES", "")
    prefixes = [p.strip() for p in raw.split(",") if p.strip()]
    if not prefixes:
        prefixes = sorted(k[:-4] for k in os.environ if k.endswith("_URL") and len(k) > 4)
    if not prefixes:
        print(json.dumps({"prefix": None, "ok": False,
                          "detail": "nothing to check: set CHECK_PREFIXES or some P_URL"}),
              flush=True)
        return 2
    deadline = time.monotonic() + float(os.environ.get("CHECK_TIMEOUT", "30"))
    failed = 0
    for prefix in prefixes:
        result = run_one(prefix, deadline)
        failed += not result["ok"]
        print(json.dumps(result, sort_keys=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
