package data

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/meta"
)

func TestParseCredentials(t *testing.T) {
	cases := []struct {
		name, query, header string
		want                credentials
		ok                  bool
	}{
		{"u/p", "u=al&p=pw", "", credentials{user: "al", password: "pw"}, true},
		{"u without p falls through", "u=al", "", credentials{}, false},
		{"basic", "", "Basic YWw6cHc=", credentials{user: "al", password: "pw"}, true},
		{"token", "", "Token al:pw", credentials{user: "al", password: "pw"}, true},
		{"token base64", "", "Token YWw6cHc=", credentials{user: "al", password: "pw"}, true},
		{"token with colon in password", "", "Token al:p:w", credentials{user: "al", password: "p:w"}, true},
		{"bearer", "", "Bearer abc.def.ghi", credentials{token: "abc.def.ghi", bearer: true}, true},
		{"bearer empty", "", "Bearer ", credentials{}, false},
		{"unknown scheme", "", "Digest x", credentials{}, false},
		{"none", "", "", credentials{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/query?"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := parseCredentials(r)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseCredentials(%q, %q) = %+v, %v; want %+v, ok=%v", tc.query, tc.header, got, err, tc.want, tc.ok)
			}
		})
	}
}

// FuzzParseCredentials feeds arbitrary query strings and Authorization
// headers: never a panic, and a bearer result always carries a token.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range [][2]string{{"u=a&p=b", ""}, {"", "Basic YTpi"}, {"", "Token a:b"}, {"", "Bearer x.y.z"}, {"", "Token !!!"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, query, header string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/query", RawQuery: query}, Header: http.Header{}}
		r.Header.Set("Authorization", header)
		c, err := parseCredentials(r)
		if err == nil && c.bearer && c.token == "" {
			t.Errorf("bearer credentials without a token from %q", header)
		}
	})
}

// FuzzAuthenticateToken feeds arbitrary bearer tokens: never a panic, and
// nothing but a token signed with the shared secret is accepted.
func FuzzAuthenticateToken(f *testing.F) {
	const secret = "fuzz-secret"
	good, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"username": "w", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "a.b.c", "", "eyJhbGciOiJub25lIn0.e30.", good[:len(good)-2]} {
		f.Add(s)
	}
	cfg := NewConfig()
	cfg.HTTP.SharedSecret = secret
	reg := prometheus.NewRegistry()
	h := newHandler(cfg, "test", &fakeMeta{}, &fakeWriter{}, reg, nil, newHTTPMetrics(reg))
	d := &meta.Data{Users: []meta.UserInfo{{Name: "w"}}}
	f.Fuzz(func(t *testing.T, raw string) {
		u, aerr := h.authenticateToken(d, raw)
		if aerr == nil {
			if _, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"})); err != nil || u == nil {
				t.Errorf("accepted token %q that does not verify: %v", raw, err)
			}
		} else if aerr.status != http.StatusUnauthorized {
			t.Errorf("token %q: status %d; want 401", raw, aerr.status)
		}
	})
}

// FuzzOperatorAuth feeds arbitrary internode-token and Authorization
// headers to an operator action on an auth-enabled node: never a panic,
// and nothing acts but a request signed with the internal shared secret or
// carrying the admin's credentials.
func FuzzOperatorAuth(f *testing.F) {
	const secret = "fuzz-internode-secret"
	const path = EntropyKillPath
	signer := nodeauth.New(secret)
	for _, s := range [][2]string{
		{signer.Token(http.MethodPost, path), ""},
		{nodeauth.New("other").Token(http.MethodPost, path), ""},
		{"v1.1.00112233445566778899aabbccddeeff.x", "Basic cm9vdDpyb290cHc="},
		{"", "Basic cmVhZGVyOnB3"},
		{"garbage", "Token root:wrong"},
	} {
		f.Add(s[0], s[1])
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("rootpw"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	readerHash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	cfg := NewConfig()
	cfg.HTTP.AuthEnabled = true
	reg := prometheus.NewRegistry()
	h := newHandler(cfg, "test", &fakeMeta{data: &meta.Data{Users: []meta.UserInfo{
		{Name: "root", Hash: string(hash), Admin: true}, {Name: "reader", Hash: string(readerHash)},
	}}}, &fakeWriter{}, reg, nil, newHTTPMetrics(reg))
	h.nodeKey = nodeauth.New(secret)
	oracle := nodeauth.New(secret) // its own nonce memory
	f.Fuzz(func(t *testing.T, token, authorization string) {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		r.Header.Set(nodeauth.Header, token)
		r.Header.Set("Authorization", authorization)
		signed := token != "" && oracle.VerifyToken(token, http.MethodPost, path) == nil
		creds, _ := parseCredentials(r)
		admin := !creds.bearer && creds.user == "root" && creds.password == "rootpw"
		w := httptest.NewRecorder()
		if ok := h.operator(w, r, true); ok && !signed && !admin {
			t.Errorf("token %q, Authorization %q: allowed to act; want 401 or 403", token, authorization)
		} else if !ok && w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden {
			t.Errorf("token %q, Authorization %q: refused with %d; want 401 or 403", token, authorization, w.Code)
		}
	})
}
