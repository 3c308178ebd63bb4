package chaos

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Outcome is what a writer learned about one write.
type Outcome int

// Outcomes of a write.
const (
	// Acked: the node answered 204.
	Acked Outcome = iota
	// Refused: the node answered with an error status; the points may or
	// may not have landed.
	Refused
	// Unknown: no answer (connection error or client timeout).
	Unknown
)

// Levels are the write consistency levels the campaign drives.
var Levels = []string{"any", "one", "quorum", "all"}

// pointsPerBatch is the size of one write.
const pointsPerBatch = 10

// batch is one write a writer sent.
type batch struct {
	first   int // seq of its first point
	outcome Outcome
}

// writer sends batches of its own series (m,w=<name>) to random data
// nodes at one consistency level and records every outcome. Point seq of
// a writer has time base+seq*pointSpacing and value pointValue(id, seq), so any
// point read back names the write it came from.
type writer struct {
	id    int
	name  string
	db    string
	level string
	base  int64

	mu      sync.Mutex // protects batches, next
	batches []batch
	next    int // seq of the next point to send
}

// pointValue is the value of a writer's point seq: unique in the campaign
// and exact in a float64.
func pointValue(id, seq int) float64 { return float64(id)*1e9 + float64(seq) }

// pointSpacing is the time between a writer's consecutive points: at the
// writers' pace the points cross into a new one-hour shard group every
// ten minutes or so, so shard groups are created while faults happen.
const pointSpacing = 100 * time.Millisecond

// pointTime is the timestamp (ns) of point seq.
func (w *writer) pointTime(seq int) int64 { return w.base + int64(seq)*int64(pointSpacing) }

func (w *writer) body(first int) string {
	var b strings.Builder
	for seq := first; seq < first+pointsPerBatch; seq++ {
		fmt.Fprintf(&b, "m,w=%s v=%v %d\n", w.name, pointValue(w.id, seq), w.pointTime(seq))
	}
	return b.String()
}

// run writes until stop closes, choosing entry nodes with rng.
func (w *writer) run(c *cluster, rng *rand.Rand, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	client := &http.Client{Timeout: 3 * WriteTimeout}
	for {
		select {
		case <-stop:
			return
		default:
		}
		w.mu.Lock()
		first := w.next
		w.next += pointsPerBatch
		w.mu.Unlock()
		entry := c.data[rng.IntN(len(c.data))]
		outcome := Unknown
		resp, err := client.Post("http://"+entry.httpAddr+"/write?db="+w.db+"&precision=ns&consistency="+w.level,
			"text/plain", strings.NewReader(w.body(first)))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			outcome = Refused
			if resp.StatusCode == http.StatusNoContent {
				outcome = Acked
			}
		}
		w.mu.Lock()
		w.batches = append(w.batches, batch{first: first, outcome: outcome})
		w.mu.Unlock()
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// snapshot returns the batches sent so far and the seq of the next point.
func (w *writer) snapshot() (batches []batch, next int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]batch(nil), w.batches...), w.next
}

// reader queries random data nodes until stop closes and counts answers.
type reader struct {
	mu       sync.Mutex // protects ok, failed, errs
	ok       int
	failed   int
	internal []string // 500 answers that look like a crash in the query path
}

func (r *reader) run(c *cluster, dbs []string, rng *rand.Rand, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
		entry := c.data[rng.IntN(len(c.data))]
		db := dbs[rng.IntN(len(dbs))]
		resp, err := client.Get("http://" + entry.httpAddr + "/query?db=" + db + "&q=SELECT+count(v)+FROM+m+GROUP+BY+w")
		r.mu.Lock()
		if err != nil {
			r.failed++
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				r.ok++
			} else {
				r.failed++
				if strings.Contains(string(b), "panic") {
					r.internal = append(r.internal, fmt.Sprintf("%s: %s", entry.Name, b))
				}
			}
		}
		r.mu.Unlock()
	}
}
