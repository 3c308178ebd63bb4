# Continuous queries and SELECT ... INTO through Debian's python3-influxdb,
# as a user would: prints one JSON document per step for the Go test.
import json
import sys
from urllib.parse import urlparse

from influxdb import InfluxDBClient

u = urlparse(sys.argv[1])
c = InfluxDBClient(host=u.hostname, port=u.port, database="pydb")
c.create_database("pydb")
c.write_points([
    {"measurement": "cpu", "tags": {"host": h}, "time": 1767225600 + s, "fields": {"v": float(s)}}
    for h in ("a", "b") for s in (0, 30, 90)
], time_precision="s")
c.query("CREATE CONTINUOUS QUERY pycq ON pydb BEGIN SELECT mean(v) INTO v_1m FROM cpu GROUP BY time(1m), * END", method="POST")
print(json.dumps(c.get_list_continuous_queries()))
into = c.query("SELECT mean(v) INTO v_copy FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z' GROUP BY time(1m), *", method="POST")
print(json.dumps(list(into.get_points())))
print(json.dumps(list(c.query("SELECT mean FROM v_copy WHERE host = 'a'").get_points())))
c.query("DROP CONTINUOUS QUERY pycq ON pydb", method="POST")
print(json.dumps(c.get_list_continuous_queries()))
