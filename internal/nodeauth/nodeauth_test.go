package nodeauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/clock"
)

func fixedKey(secret string, now *time.Time) *Key {
	k := New(secret)
	k.now = func() time.Time { return *now }
	return k
}

func TestVerifyToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := fixedKey("s3cret", &now)
	const method, target = http.MethodPost, "/rpc/v1/shard/write?shard=1"
	if err := k.VerifyToken(k.Token(method, target), method, target); err != nil {
		t.Fatalf("fresh token: %v; want nil", err)
	}
	cases := []struct {
		name string
		tok  func() string
		m, p string
		want error
	}{
		{"other secret", func() string { return fixedKey("other", &now).Token(method, target) }, method, target, errBadMAC},
		{"other shard", func() string { return k.Token(method, target) }, method, "/rpc/v1/shard/write?shard=2", errBadMAC},
		{"other method", func() string { return k.Token(method, target) }, http.MethodGet, target, errBadMAC},
		{"missing", func() string { return "" }, method, target, errMissing},
		{"garbage", func() string { return "v1.x.y.z" }, method, target, errMalformed},
		{"other version", func() string { return "v2" + k.Token(method, target)[2:] }, method, target, errMalformed},
		{"too long", func() string { return strings.Repeat("a", 500) }, method, target, errMalformed},
		{"expired", func() string {
			old := now.Add(-DefaultMaxSkew - time.Second)
			return fixedKey("s3cret", &old).Token(method, target)
		}, method, target, errExpired},
		{"from the future", func() string {
			later := now.Add(DefaultMaxSkew + time.Second)
			return fixedKey("s3cret", &later).Token(method, target)
		}, method, target, errExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k.VerifyToken(tc.tok(), tc.m, tc.p)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("got %v; want %v (wrapping ErrUnauthenticated)", err, tc.want)
			}
		})
	}
}

// TestReplay checks that a token is accepted once, and refused again for
// as long as its time is within the skew window.
func TestReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := fixedKey("s3cret", &now)
	tok := k.Token(http.MethodGet, "/data")
	if err := k.VerifyToken(tok, http.MethodGet, "/data"); err != nil {
		t.Fatalf("first use: %v", err)
	}
	for _, step := range []time.Duration{0, DefaultMaxSkew / 2, DefaultMaxSkew / 2, DefaultMaxSkew / 2} {
		now = now.Add(step)
		err := k.VerifyToken(tok, http.MethodGet, "/data")
		if !errors.Is(err, errReplayed) && !errors.Is(err, errExpired) {
			t.Fatalf("replay after %v: %v; want replayed or expired", step, err)
		}
	}
	// Memory is bounded: old generations are dropped.
	for range 3 {
		now = now.Add(DefaultMaxSkew)
		if err := k.VerifyToken(k.Token(http.MethodGet, "/data"), http.MethodGet, "/data"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(k.cur) + len(k.prev); n > 2 {
		t.Errorf("nonces kept after three windows: %d; want at most 2", n)
	}
}

// TestHandlerAndTransport checks the server wrapper against the client
// wrapper: signed requests pass, unsigned and wrongly signed ones get 401
// and never reach the handler, exempt paths pass unsigned.
func TestHandlerAndTransport(t *testing.T) {
	var reached int
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })
	k := New("s3cret")
	srv := httptest.NewServer(k.Handler(inner, func(r *http.Request) bool { return r.URL.Path == "/ping" }))
	defer srv.Close()
	get := func(c *http.Client, path string) int {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	signed := &http.Client{Transport: k.Transport(nil)}
	wrong := &http.Client{Transport: New("other").Transport(nil)}
	if got := get(signed, "/rpc/v1/x?shard=3"); got != 200 {
		t.Errorf("signed: %d; want 200", got)
	}
	if got := get(http.DefaultClient, "/rpc/v1/x"); got != 401 {
		t.Errorf("unsigned: %d; want 401", got)
	}
	if got := get(wrong, "/rpc/v1/x"); got != 401 {
		t.Errorf("wrong secret: %d; want 401", got)
	}
	if got := get(http.DefaultClient, "/ping"); got != 200 {
		t.Errorf("exempt /ping unsigned: %d; want 200", got)
	}
	if reached != 2 {
		t.Errorf("requests that reached the handler: %d; want 2", reached)
	}
	var none *Key
	if none.Transport(http.DefaultTransport) != http.DefaultTransport || none.Handler(inner, nil) == nil {
		t.Errorf("a nil Key must leave transport and handler unchanged")
	}
	signed.CloseIdleConnections()
	wrong.CloseIdleConnections()
}

// FuzzVerifyToken feeds arbitrary tokens: never a panic, and nothing but
// a token made with the secret for that request is accepted.
func FuzzVerifyToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	k := fixedKey("s3cret", &now)
	f.Add(k.Token("POST", "/rpc/v1/shard/write?shard=1"), "POST", "/rpc/v1/shard/write?shard=1")
	f.Add("v1.1.2.3", "GET", "/")
	f.Add("v1..."+strings.Repeat("0", 32)+".", "GET", "/data")
	f.Fuzz(func(t *testing.T, tok, method, target string) {
		if err := fixedKey("s3cret", &now).VerifyToken(tok, method, target); err == nil {
			parts := strings.Split(tok, ".")
			if len(parts) != 4 || !strings.HasPrefix(tok, "v1.") {
				t.Errorf("accepted malformed token %q", tok)
			}
		} else if !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("error %v does not wrap ErrUnauthenticated", err)
		}
	})
}

// TestClockJump moves the process clock (internal/clock, the chaos
// campaign's clock-jump fault) beyond the skew window: tokens signed
// across the jump are refused, and once the clock is back, fresh tokens
// pass again (a jump does not lock peers out for good).
func TestClockJump(t *testing.T) {
	t.Cleanup(func() { clock.SetOffset(0) })
	signer, verifier := New("s3cret"), New("s3cret")
	const method, target = http.MethodPost, "/rpc/v1/shard/write?shard=1"
	clock.SetOffset(DefaultMaxSkew + 15*time.Second)
	ahead := signer.Token(method, target)
	clock.SetOffset(0)
	if err := verifier.VerifyToken(ahead, method, target); !errors.Is(err, errExpired) {
		t.Fatalf("token signed %v ahead: %v; want %v", DefaultMaxSkew+15*time.Second, err, errExpired)
	}
	before := signer.Token(method, target)
	clock.SetOffset(-2 * time.Minute)
	if err := verifier.VerifyToken(before, method, target); !errors.Is(err, errExpired) {
		t.Fatalf("token verified 2m behind: %v; want %v", err, errExpired)
	}
	clock.SetOffset(20 * time.Second) // within the window
	if err := verifier.VerifyToken(before, method, target); err != nil {
		t.Fatalf("token verified 20s ahead: %v; want nil", err)
	}
	clock.SetOffset(0)
	for i := range 3 {
		if err := verifier.VerifyToken(signer.Token(method, target), method, target); err != nil {
			t.Fatalf("fresh token %d after the clock came back: %v", i, err)
		}
	}
}

// TestIdentity checks that a node identity signed with the token is read
// back, and that one not proven with this secret for this very token is
// ignored.
func TestIdentity(t *testing.T) {
	k := New("s3cret")
	signed := func(key *Key, identity string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/rpc/v1/shard/write?shard=1", nil)
		key.SignAs(r, identity)
		return r
	}
	if got := k.Identity(signed(k, "3")); got != "3" {
		t.Fatalf("identity of a request signed as 3: got %q, want %q", got, "3")
	}
	if r := signed(k, "3"); k.Verify(r) != nil {
		t.Fatalf("a request signed with an identity does not verify: %v", k.Verify(r))
	}
	moved := signed(k, "")
	moved.Header.Set(IdentityHeader, signed(k, "3").Header.Get(IdentityHeader))
	tampered := signed(k, "3")
	tampered.Header.Set(IdentityHeader, "4"+tampered.Header.Get(IdentityHeader)[1:])
	for name, r := range map[string]*http.Request{
		"none":                           signed(k, ""),
		"invalid identity":               signed(k, "a.b"),
		"other secret":                   signed(New("other"), "3"),
		"identity of another token":      moved,
		"identity changed after signing": tampered,
	} {
		if got := k.Identity(r); got != "" {
			t.Errorf("%s: got identity %q, want none", name, got)
		}
	}
	var none *Key
	if got := none.Identity(signed(k, "3")); got != "" {
		t.Errorf("without a secret: got identity %q, want none (nothing proves it)", got)
	}
}
