# Drives a Strata data node through Debian's python3-influxdb
# (InfluxDBClient, as used with InfluxDB 1.8): databases, retention
# policies, users, continuous queries, writes, bind params, epoch, chunked.
# Prints "ok" when every call
# answered as InfluxDB 1.8 answers; any failure raises.
import sys
from influxdb import InfluxDBClient

host, port = sys.argv[1], int(sys.argv[2])
c = InfluxDBClient(host=host, port=port, database="pyclient")
assert c.ping(), "ping"
c.create_database("pyclient")
assert {"name": "pyclient"} in c.get_list_database(), c.get_list_database()
c.create_retention_policy("week", "7d", 1, database="pyclient")
rps = {rp["name"]: rp for rp in c.get_list_retention_policies("pyclient")}
assert "week" in rps and rps["week"]["duration"] == "168h0m0s", rps
c.alter_retention_policy("week", database="pyclient", duration="14d")
assert c.write_points([
    {"measurement": "cpu", "tags": {"host": "a"}, "time": 1000000000, "fields": {"v": 1.0}},
    {"measurement": "cpu", "tags": {"host": "b"}, "time": 2000000000, "fields": {"v": 2.5}},
], time_precision="n")
pts = list(c.query("SELECT v FROM cpu WHERE host = $host", bind_params={"host": "b"}).get_points())
assert pts == [{"time": "1970-01-01T00:00:02Z", "v": 2.5}], pts
pts = list(c.query("SELECT v FROM cpu", epoch="s").get_points())
assert [p["time"] for p in pts] == [1, 2], pts
chunks = list(c.query("SELECT v FROM cpu", chunked=True, chunk_size=1))
assert sum(len(list(r.get_points())) for r in chunks) == 2, chunks
assert list(c.query("SHOW MEASUREMENTS").get_points()) == [{"name": "cpu"}]
cqs = c.get_list_continuous_queries()
assert {"pyclient": []} in cqs, cqs
c.create_user("pyuser", "secret")
assert {"user": "pyuser", "admin": False} in c.get_list_users(), c.get_list_users()
c.grant_privilege("read", "pyclient", "pyuser")
assert {"database": "pyclient", "privilege": "READ"} in c.get_list_privileges("pyuser")
c.drop_user("pyuser")
c.drop_retention_policy("week", database="pyclient")
c.drop_database("pyclient")
assert {"name": "pyclient"} not in c.get_list_database()
print("ok")
