// Package nodeauth proves, on every internode HTTP call (data↔data RPC,
// data→meta, meta→meta forwarding, ctl→meta), that the caller holds the
// cluster's shared secret, without sending the secret.
//
// # Token
//
// The caller adds one header to each request:
//
//	X-Strata-Node-Auth: v1.<unix-ms>.<nonce>.<mac>
//
//	unix-ms  decimal milliseconds since the epoch when the request was signed
//	nonce    32 hex digits (16 random bytes), fresh for every request
//	mac      base64url (no padding) of HMAC-SHA256(secret,
//	         "strata-node-auth-v1\n" + method + "\n" + request-target + "\n" +
//	         unix-ms + "\n" + nonce)
//
// The request-target is the path and raw query as sent on the request line
// (so a token for /rpc/v1/shard/write?shard=1 is worthless for shard 2 or
// for a read). The verifier accepts a token whose time is within MaxSkew
// of its own clock and whose nonce it has not seen within that window: a
// captured token cannot be replayed, and an old one has expired. Nonces
// are remembered in two generations of MaxSkew each, so memory is bounded
// by the request rate.
//
// The body is not covered: run internode links over TLS where an attacker
// may sit on the path and rewrite requests.
//
// # Identity
//
// A caller that is a cluster node may also say which one, in a second
// header bound to the token:
//
//	X-Strata-Node-Identity: <identity>.<mac>
//
//	identity  1 to 64 of [A-Za-z0-9_-] (a data node sends its id)
//	mac       base64url (no padding) of HMAC-SHA256(secret,
//	          "strata-node-identity-v1\n" + identity + "\n" + nonce)
//
// where nonce is the token's. Only a holder of the secret can name an
// identity, and the header cannot be moved to another request (its token's
// nonce is used once). Verifiers that predate it ignore it, so it needs no
// new token version. The receiving data node keys its per-peer connection
// limit by it (see data/limits.go).
package nodeauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-db/strata/internal/clock"
)

// Header carries the token.
const Header = "X-Strata-Node-Auth"

// IdentityHeader carries the caller's node identity, bound to the token.
const IdentityHeader = "X-Strata-Node-Identity"

// maxIdentityLen bounds an identity.
const maxIdentityLen = 64

// DefaultMaxSkew is how far a token's time may be from the verifier's
// clock, either way.
const DefaultMaxSkew = 30 * time.Second

const (
	version            = "v1"
	macContext         = "strata-node-auth-v1\n"
	identityMACContext = "strata-node-identity-v1\n"
	nonceLen           = 16
	// maxTokenLen bounds what the verifier parses.
	maxTokenLen = 128
)

// Errors a verification fails with; every one wraps ErrUnauthenticated.
var (
	// ErrUnauthenticated means the request does not prove the secret.
	ErrUnauthenticated = errors.New("internode authentication failed")
	errMissing         = fmt.Errorf("%w: no %s header (is internal-shared-secret set on every node?)", ErrUnauthenticated, Header)
	errMalformed       = fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	errBadMAC          = fmt.Errorf("%w: token not signed with this cluster's secret", ErrUnauthenticated)
	errExpired         = fmt.Errorf("%w: token time outside the allowed clock skew", ErrUnauthenticated)
	errReplayed        = fmt.Errorf("%w: token already used", ErrUnauthenticated)
)

// Key signs and verifies tokens for one shared secret. Safe for
// concurrent use.
type Key struct {
	secret  []byte
	maxSkew time.Duration
	now     func() time.Time

	mu sync.Mutex // protects cur, prev, rotated
	// cur and prev are the nonces seen in the current and the previous
	// window of maxSkew.
	cur, prev map[[nonceLen]byte]struct{}
	rotated   time.Time
}

// New returns a Key for secret, or nil when secret is empty (no
// authentication: Sign, Verify and the wrappers then pass everything).
func New(secret string) *Key {
	if secret == "" {
		return nil
	}
	return &Key{secret: []byte(secret), maxSkew: DefaultMaxSkew, now: clock.Now,
		cur: make(map[[nonceLen]byte]struct{}), prev: make(map[[nonceLen]byte]struct{})}
}

// GenerateSecret returns a random secret (32 bytes, hex).
func GenerateSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func (k *Key) mac(method, target, ts, nonce string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(macContext + method + "\n" + target + "\n" + ts + "\n" + nonce))
	return m.Sum(nil)
}

// Token returns a fresh token for a request with method and
// request-target (path?query).
func (k *Key) Token(method, target string) string {
	var n [nonceLen]byte
	_, _ = rand.Read(n[:])
	nonce := hex.EncodeToString(n[:])
	ts := strconv.FormatInt(k.now().UnixMilli(), 10)
	return version + "." + ts + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(k.mac(method, target, ts, nonce))
}

// Sign sets r's token header. A nil Key does nothing.
func (k *Key) Sign(r *http.Request) {
	k.SignAs(r, "")
}

// SignAs sets r's token header and, when identity is valid (1 to 64 of
// [A-Za-z0-9_-]; see ValidIdentity), the identity header naming it. A nil
// Key does nothing.
func (k *Key) SignAs(r *http.Request, identity string) {
	if k == nil {
		return
	}
	tok := k.Token(r.Method, r.URL.RequestURI())
	r.Header.Set(Header, tok)
	if ValidIdentity(identity) {
		nonce := strings.Split(tok, ".")[2]
		r.Header.Set(IdentityHeader, identity+"."+base64.RawURLEncoding.EncodeToString(k.identityMAC(identity, nonce)))
	}
}

func (k *Key) identityMAC(identity, nonce string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(identityMACContext + identity + "\n" + nonce))
	return m.Sum(nil)
}

// ValidIdentity reports whether id can be sent as an identity.
func ValidIdentity(id string) bool {
	if id == "" || len(id) > maxIdentityLen {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Identity returns the node identity r names in IdentityHeader, or "" when
// it names none or its proof does not match r's token and this secret. It
// does not verify the token itself: call it on a request Verify (or
// Handler) accepted. A nil Key trusts no identity and returns "".
func (k *Key) Identity(r *http.Request) string {
	if k == nil {
		return ""
	}
	h := r.Header.Get(IdentityHeader)
	id, macB64, ok := strings.Cut(h, ".")
	if !ok || !ValidIdentity(id) {
		return ""
	}
	parts := strings.Split(r.Header.Get(Header), ".")
	if len(parts) != 4 {
		return ""
	}
	got, err := base64.RawURLEncoding.DecodeString(macB64)
	if err != nil || !hmac.Equal(got, k.identityMAC(id, parts[2])) {
		return ""
	}
	return id
}

// Verify checks r's token; the error wraps ErrUnauthenticated. A nil Key
// accepts everything.
func (k *Key) Verify(r *http.Request) error {
	if k == nil {
		return nil
	}
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	return k.VerifyToken(r.Header.Get(Header), r.Method, target)
}

// VerifyToken checks one token for method and target.
func (k *Key) VerifyToken(tok, method, target string) error {
	if tok == "" {
		return errMissing
	}
	if len(tok) > maxTokenLen {
		return errMalformed
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != version {
		return errMalformed
	}
	ts, nonceHex, macB64 := parts[1], parts[2], parts[3]
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms < 0 {
		return errMalformed
	}
	var nonce [nonceLen]byte
	if len(nonceHex) != 2*nonceLen {
		return errMalformed
	}
	if _, err := hex.Decode(nonce[:], []byte(nonceHex)); err != nil {
		return errMalformed
	}
	got, err := base64.RawURLEncoding.DecodeString(macB64)
	if err != nil {
		return errMalformed
	}
	if !hmac.Equal(got, k.mac(method, target, ts, nonceHex)) {
		return errBadMAC
	}
	now := k.now()
	if d := now.Sub(time.UnixMilli(ms)); d > k.maxSkew || d < -k.maxSkew {
		return errExpired
	}
	return k.remember(nonce, now)
}

// remember records nonce, refusing one seen within the last two windows.
func (k *Key) remember(nonce [nonceLen]byte, now time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.rotated) >= k.maxSkew {
		// A token older than maxSkew is refused by its time, so nonces
		// from before the previous window need not be kept.
		k.prev, k.cur, k.rotated = k.cur, make(map[[nonceLen]byte]struct{}, len(k.cur)), now
	}
	if _, ok := k.cur[nonce]; ok {
		return errReplayed
	}
	if _, ok := k.prev[nonce]; ok {
		return errReplayed
	}
	k.cur[nonce] = struct{}{}
	return nil
}

// Handler refuses, with 401 and a JSON body {"error", "code":
// "unauthenticated"}, every request to next that does not carry a valid
// token, except those exempt reports true for (nil: none). A nil Key
// returns next unchanged.
func (k *Key) Handler(next http.Handler, exempt func(*http.Request) bool) http.Handler {
	if k == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt == nil || !exempt(r) {
			if err := k.Verify(r); err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": "unauthenticated"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Transport signs every request sent through base (nil: http.DefaultTransport).
// A nil Key returns base unchanged.
func (k *Key) Transport(base http.RoundTripper) http.RoundTripper {
	return k.TransportAs(base, "")
}

// TransportAs is Transport with every request also naming identity (see
// SignAs; "" names none).
func (k *Key) TransportAs(base http.RoundTripper, identity string) http.RoundTripper {
	if k == nil {
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{key: k, base: base, identity: identity}
}

type transport struct {
	key      *Key
	base     http.RoundTripper
	identity string
}

// RoundTrip implements http.RoundTripper on a copy of r (a RoundTripper
// must not change its request).
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	t.key.SignAs(r2, t.identity)
	return t.base.RoundTrip(r2)
}

// CloseIdleConnections passes the call on to the wrapped transport, so
// http.Client.CloseIdleConnections keeps working.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
