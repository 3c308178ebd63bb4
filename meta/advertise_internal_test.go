package meta

import (
	"net"
	"testing"
)

func TestAdvertiseAddr(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8089}
	wildcard := &net.TCPAddr{IP: net.IPv4zero, Port: 8089}
	tests := []struct {
		name       string
		configured string
		bound      net.Addr
		want       string
		wantErr    bool
	}{
		{name: "bound address", bound: bound, want: "127.0.0.1:8089"},
		{name: "wildcard needs advertise", bound: wildcard, wantErr: true},
		{name: "hostname kept as written", configured: "meta1:8089", bound: wildcard, want: "meta1:8089"},
		{name: "ip", configured: "10.1.2.3:9", bound: wildcard, want: "10.1.2.3:9"},
		{name: "no port", configured: "meta1", bound: wildcard, wantErr: true},
		{name: "bad port", configured: "meta1:http", bound: wildcard, wantErr: true},
		{name: "unspecified advertise", configured: "0.0.0.0:8089", bound: wildcard, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := advertiseAddr("raft", tc.configured, tc.bound)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("advertiseAddr(%q, %v) = %v; want an error", tc.configured, tc.bound, got)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("advertiseAddr(%q, %v) = %v, %v; want %s", tc.configured, tc.bound, got, err, tc.want)
			}
		})
	}
}
