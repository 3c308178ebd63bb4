package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestProxyModes(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("pass: got %q, %v; want the echo", got, err)
	}
	p.SetMode(Refuse)
	if got, err := roundTrip(p.Addr(), time.Second); err == nil {
		t.Fatalf("refuse: got %q; want an error", got)
	}
	p.SetMode(Blackhole)
	if got, err := roundTrip(p.Addr(), 200*time.Millisecond); err == nil {
		t.Fatalf("blackhole: got %q; want a timeout", got)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("blackhole: got %v; want a timeout", err)
	}
	p.SetMode(Pass)
	p.SetDelay(100 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("delay: got %q, %v; want the echo", got, err)
	}
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond {
		t.Errorf("delay: round trip took %v; want at least 2×100ms", elapsed)
	}
}
