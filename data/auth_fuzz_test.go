package data

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

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
