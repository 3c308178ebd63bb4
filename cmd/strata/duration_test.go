package main

import (
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "INF", want: 0},
		{in: "inf", want: 0},
		{in: "0", want: 0},
		{in: "1h", want: time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "1w", want: 7 * 24 * time.Hour},
		{in: "1w2d3h", want: 9*24*time.Hour + 3*time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "", wantErr: true},
		{in: "h", wantErr: true},
		{in: "10", wantErr: true},
		{in: "10x", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "99999999999999999999h", wantErr: true},
		{in: "9999999999w", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRetention(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseRetention(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseRetention(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
			}
		})
	}
}
