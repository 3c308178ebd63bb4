package query

import (
	"errors"
	"fmt"
)

var (
	// ErrNotHandled marks a statement the executor does not run (DDL,
	// cluster-state SHOWs, deletes): the caller runs it against meta or the
	// write path. It comes wrapped in a Result's Err.
	ErrNotHandled = errors.New("statement not handled by the query executor")
	// ErrNotExecuted is the error of every statement after one that failed,
	// as InfluxDB answers ("not executed").
	ErrNotExecuted = errors.New("not executed")
	// ErrDatabaseRequired is returned when neither the statement nor the
	// request names a database.
	ErrDatabaseRequired = errors.New("database name required")
	// ErrQueryTimeout is returned when a query runs past Config.QueryTimeout.
	ErrQueryTimeout = errors.New("query-timeout limit exceeded")
	// ErrQueryKilled is returned when KILL QUERY stopped the query.
	ErrQueryKilled = errors.New("query killed")
	// ErrMaxConcurrentQueries is returned when Config.MaxConcurrentQueries
	// queries already run.
	ErrMaxConcurrentQueries = errors.New("max-concurrent-queries limit exceeded")
	// ErrQueryNotFound is returned by KILL QUERY for an unknown id.
	ErrQueryNotFound = errors.New("no such query id")
	// ErrUnsupported is returned for InfluxQL the executor does not
	// implement.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalidQuery marks a statement that InfluxDB would reject at
	// compile time (the message follows InfluxDB's).
	ErrInvalidQuery = errors.New("invalid query")
)

// MaxSeriesError is returned when a SELECT would produce more series than
// Config.MaxSelectSeriesN.
type MaxSeriesError struct {
	N, Limit int
}

// Error returns InfluxDB's message.
func (e *MaxSeriesError) Error() string {
	return fmt.Sprintf("max-select-series limit exceeded: (%d/%d)", e.N, e.Limit)
}

// MaxBucketsError is returned when a GROUP BY time query would produce
// more windows than Config.MaxSelectBucketsN.
type MaxBucketsError struct {
	N, Limit int64
}

// Error returns InfluxDB's message.
func (e *MaxBucketsError) Error() string {
	return fmt.Sprintf("max-select-buckets limit exceeded: (%d/%d)", e.N, e.Limit)
}

// MaxPointsError is returned when a SELECT reads more values than
// Config.MaxSelectPointN.
type MaxPointsError struct {
	N, Limit int64
}

// Error returns InfluxDB's message, its spelling included (clients match
// on it).
func (e *MaxPointsError) Error() string {
	return fmt.Sprintf("max-select-point limit exceeed: (%d/%d)", e.N, e.Limit)
}

// invalidf returns an ErrInvalidQuery whose text is exactly msg, the way
// InfluxDB words it (the sentinel is only for errors.Is).
func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalidQuery }
