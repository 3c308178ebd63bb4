package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

// The deployment files checked against the binary.
const (
	kubernetesDir     = "../../deploy/kubernetes"
	composeFile       = "../../docker-compose.yml"
	prometheusConfig  = "../../configs/prometheus.yml"
	grafanaDashboard  = "../../deploy/grafana/strata-cluster.json"
	grafanaDatasource = "../../deploy/grafana/provisioning/datasources/strata.yml"
)

// defaultPorts are the ports of the binary's default addresses, by role
// and flag: what every deployment file must use.
func defaultPorts(t *testing.T) map[string]map[string]int {
	t.Helper()
	port := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("default address %q: %v", addr, err)
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	return map[string]map[string]int{
		"meta": {"http-addr": port(meta.DefaultHTTPAddr), "raft-addr": port(meta.DefaultRaftAddr)},
		"data": {"http-addr": port(data.DefaultHTTPAddr), "rpc-addr": port(data.DefaultRPCAddr)},
	}
}

// advertiseFlag names the advertise flag of each listen flag.
var advertiseFlag = map[string]string{"http-addr": "http-advertise-addr", "raft-addr": "raft-advertise-addr", "rpc-addr": "rpc-advertise-addr"}

// node is one strata process a deployment file runs.
type node struct {
	where string   // file and object, for messages
	args  []string // subcommand first
	// env maps each environment variable to its literal value; "" when it
	// comes from elsewhere (a Kubernetes secret or field).
	env map[string]string
	// ports maps each declared container port to its name ("" in Compose).
	ports map[int]string
}

// checkedNode is what checkNode learnt about a node.
type checkedNode struct {
	role   string
	flags  map[string]string // flag → value as the binary parsed it
	listen map[string]int    // listen flag → port
	// advertised maps each listen flag to its advertised host:port, with
	// Kubernetes $(VAR) references left in place.
	advertised map[string]string
}

// checkNode checks n against the binary: its subcommand exists, the
// subcommand parses every flag, every STRATA_<ROLE>_* variable names a
// flag (and its value parses), every other variable is used in the args,
// the listen ports are the binary's defaults and the declared ports, and
// each advertised port is the one listened on.
func checkNode(t *testing.T, n node) checkedNode {
	t.Helper()
	out := checkedNode{flags: map[string]string{}, listen: map[string]int{}, advertised: map[string]string{}}
	if len(n.args) == 0 {
		t.Errorf("%s: no command", n.where)
		return out
	}
	out.role = n.args[0]
	want, ok := defaultPorts(t)[out.role]
	if !ok {
		t.Errorf("%s: runs %q, want the meta or data subcommand", n.where, out.role)
		return out
	}
	cmd, _, err := newRootCommand().Find(n.args[:1])
	if err != nil || cmd.Name() != out.role {
		t.Errorf("%s: the binary has no %q command: %v", n.where, out.role, err)
		return out
	}
	fs := cmd.Flags()
	if err := fs.Parse(n.args[1:]); err != nil {
		t.Errorf("%s: strata %s rejects its arguments: %v", n.where, out.role, err)
	}
	if fs.NArg() > 0 {
		t.Errorf("%s: strata %s takes no arguments, given %q", n.where, out.role, fs.Args())
	}
	prefix := "STRATA_" + strings.ToUpper(out.role) + "_"
	for name, value := range n.env {
		flagName, isFlag := strings.CutPrefix(name, prefix)
		if !isFlag {
			if !strings.Contains(strings.Join(n.args, " "), "$("+name+")") {
				t.Errorf("%s: environment variable %s is neither %s<FLAG> nor used in the arguments", n.where, name, prefix)
			}
			continue
		}
		flagName = strings.ToLower(strings.ReplaceAll(flagName, "_", "-"))
		if fs.Lookup(flagName) == nil {
			t.Errorf("%s: environment variable %s names no flag of strata %s (--%s)", n.where, name, out.role, flagName)
		} else if value != "" {
			if err := fs.Set(flagName, value); err != nil {
				t.Errorf("%s: environment variable %s=%q: %v", n.where, name, value, err)
			}
		}
	}
	fs.VisitAll(func(f *pflag.Flag) { out.flags[f.Name] = f.Value.String() })

	declared := make(map[int]bool)
	for p := range n.ports {
		declared[p] = true
	}
	for listen, wantPort := range want {
		_, p, err := net.SplitHostPort(out.flags[listen])
		port, _ := strconv.Atoi(p)
		if err != nil || port != wantPort {
			t.Errorf("%s: --%s=%q, want port %d (the binary's default)", n.where, listen, out.flags[listen], wantPort)
			continue
		}
		out.listen[listen] = port
		if !declared[port] {
			t.Errorf("%s: listens on %d (--%s) but does not declare the port", n.where, port, listen)
		}
		delete(declared, port)
		adv := out.flags[advertiseFlag[listen]]
		out.advertised[listen] = adv
		if _, ap, err := net.SplitHostPort(adv); err != nil || ap != p {
			t.Errorf("%s: --%s=%q, want the listen port %d of --%s", n.where, advertiseFlag[listen], adv, port, listen)
		}
	}
	for p := range declared {
		t.Errorf("%s: declares port %d but listens on no such port", n.where, p)
	}
	return out
}

// yamlDocs reads every YAML document of path.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks maps by key and lists by index ("0"); nil when absent.
func dig(v any, path ...string) any {
	for _, k := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func list(v any) []any { l, _ := v.([]any); return l }

func stringMap(v any) map[string]string {
	out := make(map[string]string)
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			out[k] = str(x)
		}
	}
	return out
}

// subset reports whether every label of sel is in labels (and sel has some).
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// k8sWorkload is one StatefulSet with what was checked of its container.
type k8sWorkload struct {
	name, service string
	replicas      int
	labels        map[string]string
	node          checkedNode
	ports         map[string]int // container port name → number
}

// TestKubernetesManifestsMatchBinary parses deploy/kubernetes and checks
// the StatefulSets, Services and PodDisruptionBudgets against the binary
// and each other.
func TestKubernetesManifestsMatchBinary(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(kubernetesDir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", kubernetesDir)
	}
	var sets []*k8sWorkload
	var services, pdbs []map[string]any
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			where := fmt.Sprintf("%s %s %s", filepath.Base(f), str(doc["kind"]), str(dig(doc, "metadata", "name")))
			switch doc["kind"] {
			case "Service":
				services = append(services, doc)
			case "PodDisruptionBudget":
				pdbs = append(pdbs, doc)
			case "StatefulSet":
				sets = append(sets, checkStatefulSet(t, where, doc))
			default:
				t.Errorf("%s: unexpected kind", where)
			}
		}
	}
	roles := map[string]*k8sWorkload{}
	for _, w := range sets {
		roles[w.node.role] = w
	}
	if roles["meta"] == nil || roles["data"] == nil {
		t.Fatalf("want a meta and a data StatefulSet, got %d StatefulSets", len(sets))
	}
	if m := roles["meta"]; m.replicas != 3 {
		t.Errorf("meta StatefulSet has %d replicas, want 3 raft voters", m.replicas)
	}

	// Services: each selects one StatefulSet's pods and targets its ports;
	// each StatefulSet's serviceName is a headless Service selecting it.
	headless := map[string]bool{}
	for _, svc := range services {
		name := str(dig(svc, "metadata", "name"))
		sel := stringMap(dig(svc, "spec", "selector"))
		var target *k8sWorkload
		for _, w := range sets {
			if subset(sel, w.labels) {
				target = w
			}
		}
		if target == nil {
			t.Errorf("Service %s selects no StatefulSet's pods (selector %v)", name, sel)
			continue
		}
		if str(dig(svc, "spec", "clusterIP")) == "None" && target.service == name {
			headless[target.name] = true
			if dig(svc, "spec", "publishNotReadyAddresses") != true {
				t.Errorf("headless Service %s must publish not-ready pods: peers must reach each other before they are ready", name)
			}
		}
		for _, p := range list(dig(svc, "spec", "ports")) {
			tp := str(dig(p, "targetPort"))
			num, ok := target.ports[tp]
			if !ok {
				if n, err := strconv.Atoi(tp); err == nil && slices.Contains(mapValues(target.ports), n) {
					num, ok = n, true
				}
			}
			if !ok {
				t.Errorf("Service %s port %v targets %q, not a port of StatefulSet %s", name, dig(p, "name"), tp, target.name)
			} else if str(dig(p, "port")) != strconv.Itoa(num) {
				t.Errorf("Service %s exposes %v as %v; keep the node's own port %d", name, tp, dig(p, "port"), num)
			}
		}
	}
	for _, w := range sets {
		if !headless[w.name] {
			t.Errorf("StatefulSet %s: serviceName %q is not a headless Service selecting its pods", w.name, w.service)
		}
		// Every advertised host is the pod's stable name in that Service.
		for flag, adv := range w.node.advertised {
			host, _, _ := net.SplitHostPort(adv)
			if host != "$(POD_NAME)."+w.service {
				t.Errorf("StatefulSet %s: --%s host %q, want $(POD_NAME).%s (stable across restarts)", w.name, advertiseFlag[flag], host, w.service)
			}
		}
	}

	// Meta addresses: every pod joins the first pod (which bootstraps);
	// data nodes name every meta pod.
	m, d := roles["meta"], roles["data"]
	metaPod := func(i int) string {
		return fmt.Sprintf("%s-%d.%s:%d", m.name, i, m.service, m.node.listen["http-addr"])
	}
	if got := m.node.flags["join"]; got != "["+metaPod(0)+"]" {
		t.Errorf("meta --join=%s, want [%s]: pod 0 finds itself there and bootstraps, the others join it", got, metaPod(0))
	}
	var all []string
	for i := range m.replicas {
		all = append(all, metaPod(i))
	}
	if got := d.node.flags["meta"]; got != "["+strings.Join(all, ",")+"]" {
		t.Errorf("data --meta=%s, want every meta pod [%s]", got, strings.Join(all, ","))
	}

	// The meta PodDisruptionBudget keeps a raft majority.
	var metaPDB bool
	for _, pdb := range pdbs {
		if !subset(stringMap(dig(pdb, "spec", "selector", "matchLabels")), m.labels) {
			continue
		}
		metaPDB = true
		up := m.replicas
		if v := dig(pdb, "spec", "maxUnavailable"); v != nil {
			n, _ := v.(int)
			up -= n
			if n < 1 {
				t.Errorf("meta PodDisruptionBudget maxUnavailable %v blocks every drain", v)
			}
		} else if v := dig(pdb, "spec", "minAvailable"); v != nil {
			up, _ = v.(int)
		}
		if up < m.replicas/2+1 {
			t.Errorf("meta PodDisruptionBudget leaves %d of %d voters up, below a majority", up, m.replicas)
		}
	}
	if !metaPDB {
		t.Error("no PodDisruptionBudget selects the meta pods")
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// checkStatefulSet checks one StatefulSet's pod template.
func checkStatefulSet(t *testing.T, where string, doc map[string]any) *k8sWorkload {
	t.Helper()
	w := &k8sWorkload{name: str(dig(doc, "metadata", "name")), service: str(dig(doc, "spec", "serviceName")),
		labels: stringMap(dig(doc, "spec", "template", "metadata", "labels")), ports: map[string]int{}}
	w.replicas, _ = dig(doc, "spec", "replicas").(int)
	if !subset(stringMap(dig(doc, "spec", "selector", "matchLabels")), w.labels) {
		t.Errorf("%s: selector does not match the pod labels", where)
	}
	containers := list(dig(doc, "spec", "template", "spec", "containers"))
	if len(containers) != 1 {
		t.Fatalf("%s: want one container, got %d", where, len(containers))
	}
	c := containers[0]
	n := node{where: where, env: map[string]string{}, ports: map[int]string{}}
	for _, a := range list(dig(c, "args")) {
		n.args = append(n.args, str(a))
	}
	for _, e := range list(dig(c, "env")) {
		n.env[str(dig(e, "name"))] = str(dig(e, "value"))
	}
	for _, p := range list(dig(c, "ports")) {
		num, _ := dig(p, "containerPort").(int)
		n.ports[num] = str(dig(p, "name"))
		w.ports[str(dig(p, "name"))] = num
	}
	w.node = checkNode(t, n)
	http := w.node.listen["http-addr"]

	probe := dig(c, "readinessProbe", "httpGet")
	if str(dig(probe, "path")) != "/health" {
		t.Errorf("%s: readiness probe path %q, want /health", where, str(dig(probe, "path")))
	}
	if pp := str(dig(probe, "port")); pp != strconv.Itoa(http) && w.ports[pp] != http {
		t.Errorf("%s: readiness probe port %q is not the HTTP port %d", where, pp, http)
	}
	if got := str(dig(doc, "spec", "template", "metadata", "annotations", "prometheus.io/port")); got != strconv.Itoa(http) {
		t.Errorf("%s: prometheus.io/port %q, want the HTTP port %d (where /metrics is)", where, got, http)
	}
	// The --dir lies on a volume claimed per pod.
	claims := map[string]bool{}
	for _, v := range list(dig(doc, "spec", "volumeClaimTemplates")) {
		claims[str(dig(v, "metadata", "name"))] = true
	}
	var persisted bool
	for _, m := range list(dig(c, "volumeMounts")) {
		mp := str(dig(m, "mountPath"))
		if claims[str(dig(m, "name"))] && strings.HasPrefix(w.node.flags["dir"]+"/", strings.TrimSuffix(mp, "/")+"/") {
			persisted = true
		}
	}
	if !persisted {
		t.Errorf("%s: --dir=%s is not on a volumeClaimTemplates volume", where, w.node.flags["dir"])
	}
	return w
}

// TestComposeFileMatchesBinary checks docker-compose.yml's strata
// services against the binary, and its monitoring profile's Prometheus
// targets and Grafana files against the services.
func TestComposeFileMatchesBinary(t *testing.T) {
	docs := yamlDocs(t, composeFile)
	if len(docs) != 1 {
		t.Fatalf("%s: want one document", composeFile)
	}
	services, _ := docs[0]["services"].(map[string]any)
	httpOf := map[string]int{} // service → HTTP port
	metaHTTP := map[string]bool{}
	for name, svc := range services {
		where := composeFile + " service " + name
		if !strings.Contains(str(dig(svc, "image")), "STRATA_IMAGE") {
			continue
		}
		n := node{where: where, env: stringMap(dig(svc, "environment")), ports: map[int]string{}}
		for _, a := range list(dig(svc, "command")) {
			n.args = append(n.args, str(a))
		}
		for _, p := range list(dig(svc, "ports")) {
			parts := strings.Split(str(p), ":")
			num, err := strconv.Atoi(parts[len(parts)-1])
			if err != nil {
				t.Errorf("%s: port %q", where, str(p))
			}
			n.ports[num] = ""
		}
		// Ports are published only where the host needs them; the others
		// are reached on the Compose network. Declare those the node
		// listens on so checkNode compares the rest.
		cn := node{where: n.where, args: n.args, env: n.env, ports: map[int]string{}}
		for k, v := range n.ports {
			cn.ports[k] = v
		}
		for _, listen := range defaultPorts(t)[str(dig(svc, "command", "0"))] {
			cn.ports[listen] = ""
		}
		got := checkNode(t, cn)
		http := got.listen["http-addr"]
		httpOf[name] = http
		if got.role == "meta" {
			metaHTTP[fmt.Sprintf("%s:%d", name, http)] = true
		}
		for flag, adv := range got.advertised {
			if host, _, _ := net.SplitHostPort(adv); host != name && host != str(dig(svc, "hostname")) {
				t.Errorf("%s: --%s host %q is not the service's name", where, advertiseFlag[flag], host)
			}
		}
		test := list(dig(svc, "healthcheck", "test"))
		if len(test) != 4 || str(test[1]) != "/strata" || str(test[2]) != "healthcheck" || str(test[3]) != fmt.Sprintf("http://127.0.0.1:%d/health", http) {
			t.Errorf("%s: healthcheck %v, want [CMD /strata healthcheck http://127.0.0.1:%d/health]", where, test, http)
		}
	}
	if len(httpOf) < 4 {
		t.Fatalf("%s: found %d strata services", composeFile, len(httpOf))
	}
	for name, svc := range services {
		for _, flag := range []string{"--meta", "--join"} {
			args := list(dig(svc, "command"))
			for i, a := range args {
				if str(a) != flag || i+1 >= len(args) {
					continue
				}
				for _, addr := range strings.Split(str(args[i+1]), ",") {
					if !metaHTTP[addr] {
						t.Errorf("%s service %s: %s names %s, not a meta service's HTTP address", composeFile, name, flag, addr)
					}
				}
			}
		}
	}

	// The monitoring profile: Prometheus scrapes every strata service's
	// HTTP port once; Grafana gets the dashboard and the datasource it names.
	for _, svc := range []string{"prometheus", "grafana"} {
		if !slices.Contains(list(dig(services, svc, "profiles")), any("monitoring")) {
			t.Errorf("%s: service %s is not in the monitoring profile", composeFile, svc)
		}
	}
	scraped := map[string]int{}
	for _, job := range list(dig(yamlDocs(t, prometheusConfig)[0], "scrape_configs")) {
		for _, sc := range list(dig(job, "static_configs")) {
			for _, target := range list(dig(sc, "targets")) {
				scraped[str(target)]++
			}
		}
	}
	for name, http := range httpOf {
		if target := fmt.Sprintf("%s:%d", name, http); scraped[target] != 1 {
			t.Errorf("%s scrapes %s %d times, want once", prometheusConfig, target, scraped[target])
		}
		delete(scraped, fmt.Sprintf("%s:%d", name, http))
	}
	for target := range scraped {
		t.Errorf("%s scrapes %s, not a strata service's HTTP address", prometheusConfig, target)
	}
	for _, v := range append(list(dig(services, "grafana", "volumes")), list(dig(services, "prometheus", "volumes"))...) {
		src := strings.Split(str(v), ":")[0]
		if _, err := os.Stat(filepath.Join(filepath.Dir(composeFile), src)); err != nil {
			t.Errorf("%s: volume source %s: %v", composeFile, src, err)
		}
	}
	var uid string
	for _, ds := range list(dig(yamlDocs(t, grafanaDatasource)[0], "datasources")) {
		uid = str(dig(ds, "uid"))
	}
	dash := readDashboard(t)
	for _, p := range dashboardPanels(dash) {
		if got := str(dig(p, "datasource", "uid")); p["type"] != "row" && got != uid {
			t.Errorf("dashboard panel %q uses datasource %q, the provisioned one is %q", str(p["title"]), got, uid)
		}
	}
}

// TestPrometheusConfigValid runs promtool check config on the Compose
// monitoring profile's Prometheus config.
func TestPrometheusConfigValid(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIPPED: promtool is not installed (Debian package prometheus)")
	}
	if out, err := exec.Command(promtool, "check", "config", prometheusConfig).CombinedOutput(); err != nil {
		t.Errorf("promtool check config %s: %v\n%s", prometheusConfig, err, out)
	}
}

// TestGrafanaDashboardQueriesParse has promtool parse every query of the
// dashboard (as the expressions of recording rules).
func TestGrafanaDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIPPED: promtool is not installed (Debian package prometheus)")
	}
	var rules []map[string]string
	for _, p := range dashboardPanels(readDashboard(t)) {
		for _, target := range list(p["targets"]) {
			// Grafana's own variable, which Prometheus never sees.
			expr := strings.ReplaceAll(str(dig(target, "expr")), "$__rate_interval", "1m")
			rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query%d", len(rules)), "expr": expr})
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's %d queries: %v\n%s", len(rules), err, out)
	}
}

func readDashboard(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(grafanaDashboard)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("parse %s: %v", grafanaDashboard, err)
	}
	return dash
}

// dashboardPanels lists every panel, those inside rows too.
func dashboardPanels(dash map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		for _, p := range list(v) {
			if m, ok := p.(map[string]any); ok {
				out = append(out, m)
				walk(m["panels"])
			}
		}
	}
	walk(dash["panels"])
	return out
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlGroups   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// promqlMetricNames returns the metric names a PromQL expression reads:
// its identifiers outside strings, label matchers, ranges and grouping
// clauses that are not function calls or keywords.
func promqlMetricNames(expr string) []string {
	expr = promqlStrings.ReplaceAllString(expr, " ")
	expr = promqlGroups.ReplaceAllString(expr, " ")
	expr = promqlMatchers.ReplaceAllString(expr, " ")
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		if loc[0] > 0 && (expr[loc[0]-1] >= '0' && expr[loc[0]-1] <= '9' || expr[loc[0]-1] == '.') {
			continue // the exponent or unit of a number
		}
		if rest := strings.TrimLeft(expr[loc[1]:], " "); strings.HasPrefix(rest, "(") || promqlKeywords[strings.ToLower(name)] {
			continue
		}
		names = append(names, name)
	}
	return names
}

// TestGrafanaDashboardUsesExportedMetrics checks that every metric the
// dashboard's queries read is one a meta or data node exports, and that
// it covers ingest, query latency, hinted handoff, anti-entropy and raft.
func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	if got := promqlMetricNames(`histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y"}[5m]))) - max(b) / 1e3`); !slices.Equal(got, []string{"a_bucket", "b"}) {
		t.Fatalf("promqlMetricNames = %v, want [a_bucket b]", got)
	}
	exported := exportedMetricNames(t)
	used := map[string]bool{}
	for _, p := range dashboardPanels(readDashboard(t)) {
		for _, target := range list(p["targets"]) {
			expr := str(dig(target, "expr"))
			names := promqlMetricNames(expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q reads no metric", str(p["title"]), expr)
			}
			for _, name := range names {
				used[name] = true
				if !exported[name] {
					t.Errorf("panel %q: query %q reads %s, which no node exports", str(p["title"]), expr, name)
				}
			}
		}
	}
	for _, area := range []string{"strata_http_points_written_total", "strata_query_duration_seconds_bucket", "strata_hh_queue_bytes",
		"strata_ae_points_repaired_total", "strata_meta_raft_state"} {
		if !used[area] {
			t.Errorf("the dashboard does not show %s", area)
		}
	}
}
