#!/usr/bin/env python3
"""Differential run of InfluxQL statements against InfluxDB 1.8 and Strata.

    scripts/influx18-diff.py STRATA_BINARY [INFLUXD_BINARY]

Starts influxd (default $INFLUXD or /work/bin/influxd) and a Strata
cluster (1 meta + 2 data, replication 1) on free loopback ports in a temp
dir, writes the same data to both (one-hour shards, so partial aggregates
of one bucket merge across shards and nodes; a field with a different type
in different shards), runs every statement against influxd and against
both Strata data nodes, and prints each one whose answers differ. This is
how coordinator/query/DESIGN.md's "Answers pinned to InfluxDB 1.8" were
found; pin a fixed one in influx18_golden_test.go.
"""
import atexit, json, os, re, socket, subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request

work = tempfile.mkdtemp(prefix="influx18-diff-")
procs = []


def cleanup():
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


atexit.register(cleanup)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, log, ready):
    procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, log), "w")))
    for _ in range(300):
        try:
            urllib.request.urlopen(ready, timeout=2)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit("timeout waiting for " + ready)


def start_influxd(binary):
    http, rpc = free_port(), free_port()
    conf = os.path.join(work, "influxd.conf")
    with open(conf, "w") as f:
        f.write(f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc}"\n[meta]\n  dir = "{work}/influx/meta"\n'
                f'[data]\n  dir = "{work}/influx/data"\n  wal-dir = "{work}/influx/wal"\n  query-log-enabled = false\n'
                f'[http]\n  bind-address = "127.0.0.1:{http}"\n  log-enabled = false\n')
    start([binary, "-config", conf], "influxd.log", f"http://127.0.0.1:{http}/ping")
    return f"http://127.0.0.1:{http}"


def start_strata(binary, data_nodes=2):
    mh, mr = free_port(), free_port()
    start([binary, "meta", "--dir", f"{work}/meta", "--http-addr", f"127.0.0.1:{mh}", "--raft-addr", f"127.0.0.1:{mr}",
           "--log-level", "warn"], "meta.log", f"http://127.0.0.1:{mh}/health")
    urls = []
    for i in range(data_nodes):
        dh, dr = free_port(), free_port()
        start([binary, "data", "--dir", f"{work}/data{i}", "--meta", f"127.0.0.1:{mh}", "--http-addr", f"127.0.0.1:{dh}",
               "--rpc-addr", f"127.0.0.1:{dr}", "--log-level", "warn"], f"data{i}.log", f"http://127.0.0.1:{dh}/health")
        urls.append(f"http://127.0.0.1:{dh}")
    return urls


def query(url, q, db="db"):
    body = urllib.parse.urlencode({"q": q, "db": db}).encode()
    try:
        return json.loads(urllib.request.urlopen(url + "/query", data=body, timeout=60).read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")


def write(url, lines):
    """Writes line by line: a type conflict refuses only its own line."""
    for line in lines:
        req = urllib.request.Request(url + "/write?db=db&precision=s", data=(line + "\n").encode(), method="POST")
        try:
            urllib.request.urlopen(req, timeout=60).read()
        except urllib.error.HTTPError:
            pass


T = 1767225600  # 2026-01-01T00:00:00Z


def data():
    lines = []
    # Buckets of 10 minutes cycle through: two fields; one field only;
    # strings only; nothing; a boolean only; values that cancel to 0.
    for k in range(18):
        b = T + 600 * k
        lines += [[f"m,host=h1 f=1.5,i=3i {b+10}", f"m,host=h2 f=-1.5 {b+20}", f"m,host=h1 f=2.5,i=-3i {b+300}"],
                  [f"m,host=h1 i=7i {b+10}", f'm,host=h2 s="x" {b+20}'],
                  [f'm,host=h1 s="y" {b+10}', f'm,host=h3 s="z",b=true {b+40}'],
                  [],
                  [f"m,host=h3 b=false {b+100}"],
                  [f"m,host=h1 f=-2,i=0i {b+5}", f"m,host=h2 f=2,i=0i {b+500}", f"m,host=h3 i=5i {b+550}"]][k % 6]
        lines.append(f"m2,host=h1 g={k}.5 {b+30}")
        if k % 3 == 0:
            lines.append(f"m2,host=h2 f=9 {b+60}")
    # Field v: float, integer, string, boolean in four one-hour shards.
    for k in range(48):
        v = ["1.5", "2i", '"s"', "true"][k // 12]
        lines.append(f"mixed,host=h1 v={v},w={k}.0 {T+300*k}")
        if k % 2 == 0:
            lines.append(f"mixed,host=h2 v={v} {T+300*k+10}")
    return lines


def statements():
    w = "time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T04:00:00Z'"
    out = []
    for fill in ["", " fill(null)", " fill(none)", " fill(0)", " fill(previous)", " fill(linear)"]:
        for f in ["f", "i"]:
            for gb in ["time(10m)", "time(30m)", "time(10m), host", "time(10m), *", "time(10m, 5m)"]:
                out.append(f"SELECT mean({f}), sum({f}), max({f}) FROM m WHERE {w} GROUP BY {gb}{fill}")
            out += [
                f"SELECT mean(f), mean(i), sum(i), max(f) FROM m WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT mean({f}) FROM (SELECT f, i FROM m WHERE {w}) WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT mean({f}), sum({f}), max({f}) FROM (SELECT * FROM m WHERE {w}) WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT mean(x), sum(x), max(x) FROM (SELECT mean({f}) AS x FROM m WHERE {w} GROUP BY time(10m), host) WHERE {w} GROUP BY time(30m){fill}",
                f"SELECT mean({f}), sum({f}), max({f}) FROM m WHERE {w} AND s = 'x' GROUP BY time(10m){fill}",
                f"SELECT mean({f}), sum({f}), max({f}) FROM /m.*/ WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT mean({f}) * 2, sum({f}) + 1, max({f}) FROM m WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT mean({f}), mean(g), sum(g), max(g) FROM m, m2 WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT non_negative_derivative(mean({f}), 1s), sum({f}) FROM m WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT median({f}), mean({f}), sum({f}), max({f}), stddev({f}), spread({f}) FROM m WHERE {w} GROUP BY time(10m){fill}",
            ]
        out += [f"SELECT mean(*), sum(*), max(*) FROM m WHERE {w} GROUP BY time(10m){fill}",
                f"SELECT mean(s), sum(s), max(s) FROM m WHERE {w} GROUP BY time(10m){fill}"]
        for gb in ["time(10m)", "time(1h)", "time(10m), host"]:
            out += [f"SELECT mean(v), sum(v), max(v), count(v) FROM mixed WHERE {w} GROUP BY {gb}{fill}",
                    f"SELECT mean(v), mean(w), sum(v) FROM mixed WHERE {w} GROUP BY {gb}{fill}"]
    return out + ["SELECT v FROM mixed", "SELECT mean(v), sum(v) FROM mixed GROUP BY host", f"SELECT mean(*) FROM m WHERE {w}"]


def rounded(x):
    if isinstance(x, float):
        return round(x, 9)
    if isinstance(x, list):
        return [rounded(v) for v in x]
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    return x


def comparable(answer):
    """InfluxDB 1.8 builds a statement's iterators concurrently: with
    several functions that refuse a field's type, the one its error names
    varies between runs, so such errors compare without that name."""
    for r in answer.get("results", []):
        if "error" in r:
            r["error"] = re.sub(r"^unsupported .+ iterator type: ", "unsupported <function> iterator type: ", r["error"])
    return answer


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    influx = start_influxd(sys.argv[2] if len(sys.argv) > 2 else os.environ.get("INFLUXD", "/work/bin/influxd"))
    strata = start_strata(sys.argv[1])
    for url in (influx, strata[0]):
        query(url, "CREATE DATABASE db WITH DURATION INF SHARD DURATION 1h NAME rp", db="")
        write(url, data())
    time.sleep(1)
    qs, differ = statements(), 0
    for q in qs:
        want = comparable(rounded(query(influx, q)))
        got = [comparable(rounded(query(u, q))) for u in strata]
        if any(g != want for g in got):
            differ += 1
            print("DIFF:", q)
            print("  influxd:", json.dumps(want)[:2000])
            for i, g in enumerate(got):
                if g != want:
                    print(f"  strata data{i}:", json.dumps(g)[:2000])
    print(f"{len(qs)} statements, {differ} answered differently")


if __name__ == "__main__":
    main()
