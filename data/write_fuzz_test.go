package data

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// FuzzWrite drives arbitrary bodies through POST /write. It must never
// panic, must answer 204 or 400 (413 past the size limit), and must hand
// the writer exactly the lines that parse on their own: bad lines cost
// only themselves.
func FuzzWrite(f *testing.F) {
	for _, seed := range []string{
		"cpu,host=a v=1 1\n",
		"cpu v=1\nbad\ncpu v=2 2\n",
		"m,t=a\\ b f=\"s\\\"q\",i=1i,u=2u,b=t 10\r\n# comment\n\n",
		"m f=1 99999999999999999999\n",
		"\xff\xfe v=1\n",
		"m,a=1,a=2 f=1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, _, fw := newTestHandler(t, func(c *Config) { c.HTTP.MaxBodySize = 1 << 16 })
		req := httptest.NewRequest(http.MethodPost, "/write?db=db0", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var wantLines int
		for line := range bytes.Lines(body) {
			var p models.Parser
			pts, err := p.Parse(line, 1, 0)
			if err == nil {
				wantLines += len(pts)
			}
		}
		var gotLines int
		for _, c := range fw.calls {
			gotLines += len(c.lines)
		}
		switch rec.Code {
		case http.StatusNoContent, http.StatusBadRequest:
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 1<<16 {
				t.Fatalf("413 for a %d-byte body under the limit", len(body))
			}
			return
		default:
			t.Fatalf("status %d (%s) for body %q", rec.Code, rec.Body, body)
		}
		// A quoted string field may span lines, so the line-by-line oracle
		// only holds for bodies without quotes.
		if !bytes.Contains(body, []byte{'"'}) && gotLines != wantLines {
			t.Fatalf("writer got %d points, want %d (the lines that parse alone) for body %q", gotLines, wantLines, body)
		}
		if rec.Code == http.StatusBadRequest && gotLines == wantLines && wantLines > 0 && !bytes.Contains(rec.Body.Bytes(), []byte("partial write")) {
			t.Fatalf("400 without a partial-write message after writing the good lines: %s", rec.Body)
		}
	})
}
