package data_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/meta"
)

// shutdownTimeout is the data nodes' shutdown-timeout in these tests, far
// below the time their in-flight requests would take on their own.
const shutdownTimeout = 2 * time.Second

// TestCloseCancelsInFlightRequests checks that Close stops within
// shutdown-timeout, without an error, while requests are still in flight
// (issue 9: Ctrl-C of strata local during a long write waited 30 s and
// exited 1 with "context deadline exceeded"): a write waiting for a
// black-holed replica is cancelled and answered; a request whose body
// never finishes has its connection closed.
func TestCloseCancelsInFlightRequests(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2, Configure: func(_ int, cfg *data.Config) {
		cfg.ShutdownTimeout = meta.Duration(shutdownTimeout)
		cfg.Coordinator.WriteTimeout = meta.Duration(time.Minute)
		cfg.Coordinator.RPCTimeout = meta.Duration(time.Minute)
	}})
	c.CreateDatabase("db", 2)
	c.SetLink(1, faultproxy.Blackhole)

	// A request whose body never finishes.
	stalled, err := net.Dial("tcp", strings.TrimPrefix(c.URL(0), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "POST /write?db=db HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\ncpu v=")

	answered := make(chan string, 1)
	go func() {
		resp, err := http.Post(c.URL(0)+"/write?db=db&consistency=all", "text/plain", strings.NewReader("cpu v=1"))
		if err != nil {
			answered <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	// The write is in its handler once its copy for node 1 is in flight.
	// A fixed pause may end first on a loaded machine: Close would then
	// refuse the write's connection and no 5xx would come. The stalled
	// request went first, so it reaches its handler meanwhile.
	gauge := fmt.Sprintf(`strata_coordinator_remote_write_in_flight_bytes{node="%d"} `, c.NodeID(1))
	c.WaitFor("the write's copy for the black-holed node in flight", func() bool {
		resp, err := http.Get(c.URL(0) + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		line := grepLines(string(b), gauge)
		return line != "" && line != gauge+"0"
	})

	start := time.Now()
	err = c.Server(0).Close()
	took := time.Since(start)
	if err != nil {
		t.Errorf("Close with requests in flight: %v; want nil", err)
	}
	// Generous slack for a loaded machine: the point is that Close does not
	// wait for the requests (a minute), not how fast it is.
	if took > shutdownTimeout+5*time.Second {
		t.Errorf("Close took %v; want about shutdown-timeout (%v)", took, shutdownTimeout)
	}
	select {
	case got := <-answered:
		if !strings.HasPrefix(got, "5") {
			t.Errorf("the cancelled write was answered %q; want a 5xx answer", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("the write waiting for the black-holed replica got no answer")
	}
}
