package loadgen

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidConfig is wrapped by every error Config.Validate and
	// CPUConfig.Validate return.
	ErrInvalidConfig = errors.New("invalid load generator config")

	// ErrWriteFailed is returned by Runner.Run when at least one batch was
	// not accepted by the server (after retries). The Summary is still
	// returned and says which statuses came back.
	ErrWriteFailed = errors.New("write failed")

	// ErrInterrupted is returned by Runner.Run when its context was
	// cancelled before every batch was sent. The Summary is still returned.
	ErrInterrupted = errors.New("interrupted before all batches were sent")

	// ErrEmptyWorkload is returned when a file or generator yields no lines.
	ErrEmptyWorkload = errors.New("workload has no lines")

	// ErrCompressed is returned by MeasureCeiling on a workload whose bodies
	// are already gzipped: measure before Compress.
	ErrCompressed = errors.New("workload is already compressed")
)

// HTTPError is an unexpected answer from the server: its status and the
// start of its body (InfluxDB puts the reason in a JSON "error" field).
type HTTPError struct {
	// Op is what was being done: "write" or "create database".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is at most maxErrorBody bytes of the response body.
	Body string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.StatusCode, e.Body)
}
