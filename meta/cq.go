package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxContinuousQueryLength bounds the text of a continuous query.
const MaxContinuousQueryLength = 64 << 10

// Continuous query errors (InfluxDB's messages).
var (
	// ErrContinuousQueryExists means a continuous query of that name exists
	// on the database with a different query.
	ErrContinuousQueryExists = errors.New("continuous query already exists")
	// ErrContinuousQueryNotFound means the named continuous query does not
	// exist (a run was recorded for a dropped query).
	ErrContinuousQueryNotFound = errors.New("continuous query not found")
)

// ContinuousQueryInfo is one continuous query of a database. Query is the
// whole CREATE CONTINUOUS QUERY statement, as SHOW CONTINUOUS QUERIES
// prints it. The run record lives here so a runner that takes over knows
// which intervals are done.
type ContinuousQueryInfo struct {
	Name  string `json:"name"`
	Query string `json:"query"`
	// CreatedAt is the leader's clock when it was created: the first run
	// covers the first interval that ends after it.
	CreatedAt time.Time `json:"created_at"`
	// LastRun is the end of the last run completed (its run time);
	// LastRunNode the data node that ran it. Zero before the first run.
	LastRun     time.Time `json:"last_run,omitzero"`
	LastRunNode uint64    `json:"last_run_node,omitempty"`
}

// CQLease says which data node runs the continuous queries, until when
// (the meta leader's clock).
type CQLease struct {
	Node  uint64    `json:"node"`
	Until time.Time `json:"until"`
}

// Payloads of the continuous query commands.
type (
	// CreateContinuousQueryPayload is the payload of CmdCreateContinuousQuery.
	CreateContinuousQueryPayload struct {
		Database string `json:"database"`
		Name     string `json:"name"`
		Query    string `json:"query"`
	}
	// DropContinuousQueryPayload is the payload of CmdDropContinuousQuery.
	DropContinuousQueryPayload struct {
		Database string `json:"database"`
		Name     string `json:"name"`
	}
	// RecordContinuousQueryRunPayload is the payload of
	// CmdRecordContinuousQueryRun: the run ending at RunTime completed on
	// Node. An older RunTime than the recorded one changes nothing.
	RecordContinuousQueryRunPayload struct {
		Database string    `json:"database"`
		Name     string    `json:"name"`
		RunTime  time.Time `json:"run_time"`
		Node     uint64    `json:"node"`
	}
	// AcquireCQLeasePayload is the payload of CmdAcquireCQLease: Node asks
	// to run the continuous queries for Duration from the command's time.
	// The result's Lease is the lease after the command, whoever holds it.
	AcquireCQLeasePayload struct {
		Node     uint64        `json:"node"`
		Duration time.Duration `json:"duration"`
	}
)

// ContinuousQuery returns the continuous query name of db, or nil.
func (d *Data) ContinuousQuery(db, name string) *ContinuousQueryInfo {
	di := d.Database(db)
	if di == nil {
		return nil
	}
	for i := range di.ContinuousQueries {
		if di.ContinuousQueries[i].Name == name {
			return &di.ContinuousQueries[i]
		}
	}
	return nil
}

// createContinuousQuery adds a continuous query. The same name with the
// same query (case-insensitive, as InfluxDB compares) is a no-op.
func (d *Data) createContinuousQuery(db, name, query string, now time.Time) error {
	if err := ValidateName("continuous query", name); err != nil {
		return err
	}
	if query == "" || len(query) > MaxContinuousQueryLength {
		return fmt.Errorf("continuous query text empty or over %d bytes: %w", MaxContinuousQueryLength, ErrInvalidCommand)
	}
	di, err := d.mustDatabase(db)
	if err != nil {
		return err
	}
	if cq := d.ContinuousQuery(db, name); cq != nil {
		if strings.EqualFold(cq.Query, query) {
			return nil
		}
		return ErrContinuousQueryExists
	}
	di.ContinuousQueries = append(di.ContinuousQueries, ContinuousQueryInfo{Name: name, Query: query, CreatedAt: now.UTC()})
	slices.SortFunc(di.ContinuousQueries, func(a, b ContinuousQueryInfo) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// dropContinuousQuery removes a continuous query; a missing one (or
// database) is a no-op, as in InfluxDB.
func (d *Data) dropContinuousQuery(db, name string) error {
	if di := d.Database(db); di != nil {
		di.ContinuousQueries = slices.DeleteFunc(di.ContinuousQueries, func(cq ContinuousQueryInfo) bool { return cq.Name == name })
	}
	return nil
}

// recordContinuousQueryRun moves a query's last run forward (never back).
func (d *Data) recordContinuousQueryRun(db, name string, runTime time.Time, node uint64) error {
	cq := d.ContinuousQuery(db, name)
	if cq == nil {
		return fmt.Errorf("%s on %s: %w", name, db, ErrContinuousQueryNotFound)
	}
	if runTime.After(cq.LastRun) {
		cq.LastRun, cq.LastRunNode = runTime.UTC(), node
	}
	return nil
}

// acquireCQLease grants node the lease when it holds it already, when the
// lease ended, or when its holder is no longer a data node.
func (d *Data) acquireCQLease(node uint64, dur time.Duration, now time.Time) error {
	if d.DataNode(node) == nil {
		return fmt.Errorf("node %d: %w", node, ErrDataNodeNotFound)
	}
	if dur <= 0 {
		return fmt.Errorf("lease duration %v: %w", dur, ErrInvalidDuration)
	}
	l := d.CQLease
	if l.Node == node || !now.Before(l.Until) || d.DataNode(l.Node) == nil {
		d.CQLease = CQLease{Node: node, Until: now.Add(dur).UTC()}
	}
	return nil
}

// CreateContinuousQuery stores a continuous query (query is the CREATE
// CONTINUOUS QUERY statement).
func (c *Client) CreateContinuousQuery(ctx context.Context, db, name, query string) error {
	_, err := c.exec(ctx, CmdCreateContinuousQuery, CreateContinuousQueryPayload{Database: db, Name: name, Query: query})
	return err
}

// DropContinuousQuery removes a continuous query (a missing one is not an
// error).
func (c *Client) DropContinuousQuery(ctx context.Context, db, name string) error {
	_, err := c.exec(ctx, CmdDropContinuousQuery, DropContinuousQueryPayload{Database: db, Name: name})
	return err
}

// RecordContinuousQueryRun records that the run of db's query name ending
// at runTime completed on node.
func (c *Client) RecordContinuousQueryRun(ctx context.Context, db, name string, runTime time.Time, node uint64) error {
	_, err := c.exec(ctx, CmdRecordContinuousQueryRun, RecordContinuousQueryRunPayload{Database: db, Name: name, RunTime: runTime, Node: node})
	return err
}

// AcquireCQLease asks for the continuous query lease for node and returns
// the lease as meta holds it afterwards (another node's while it lasts).
func (c *Client) AcquireCQLease(ctx context.Context, node uint64, dur time.Duration) (CQLease, error) {
	res, err := c.exec(ctx, CmdAcquireCQLease, AcquireCQLeasePayload{Node: node, Duration: dur})
	if err != nil {
		return CQLease{}, err
	}
	if res.Lease == nil {
		return CQLease{}, fmt.Errorf("acquire continuous query lease: no lease in the answer: %w", ErrInvalidCommand)
	}
	return *res.Lease, nil
}
