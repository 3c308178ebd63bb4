package data

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/meta"
)

// Client authentication follows InfluxDB 1.8's handler: credentials come
// from the u/p query parameters, "Authorization: Bearer <JWT>",
// "Authorization: Token user:password" or HTTP Basic, in that order. While
// no user exists, requests pass unauthenticated so the first admin can be
// created; /query then runs nothing but that CREATE USER … WITH ALL
// PRIVILEGES and /write refuses.

// authError is a refused request: the HTTP status and InfluxDB's message,
// plus the reason label it is counted under and the user it named (never
// the password).
type authError struct {
	status int
	msg    string
	reason string
	user   string
}

func (e *authError) Error() string { return e.msg }

// Reasons a request is refused, as counted in
// strata_http_auth_failures_total{reason}.
const (
	reasonNoCredentials = "no_credentials"
	reasonBadPassword   = "bad_password"
	reasonBadToken      = "bad_token"
	reasonForbidden     = "forbidden"
	reasonNoState       = "no_state"
	reasonBadSecret     = "bad_internode_token"
)

func unauthorized(reason, user, msg string) *authError {
	return &authError{status: http.StatusUnauthorized, msg: msg, reason: reason, user: user}
}

func forbidden(user, msg string) *authError {
	return &authError{status: http.StatusForbidden, msg: msg, reason: reasonForbidden, user: user}
}

// refuse answers a refused request with InfluxDB's error body, counts it
// and logs it.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, e *authError) {
	h.metrics.authFailures.WithLabelValues(e.reason).Inc()
	h.logger.Info("request refused", "reason", e.reason, "user", e.user, "remote_addr", r.RemoteAddr,
		"path", r.URL.Path, "status", e.status, "error", e.msg)
	httpError(w, e.status, e.msg)
}

// authCache remembers which bcrypt hash each presented user and password
// passed, so a busy client does not pay a bcrypt per request, nor once
// more after every meta change: an entry counts only while the user's hash
// in the current state is still the one it passed.
type authCache struct {
	mu     sync.Mutex // protects passed
	passed map[[sha256.Size]byte]string
}

// maxAuthCache bounds authCache; when full it starts over.
const maxAuthCache = 4096

func (c *authCache) check(d *meta.Data, name, password string) (*meta.UserInfo, error) {
	key := sha256.Sum256([]byte(name + "\x00" + password))
	u := d.User(name)
	c.mu.Lock()
	hash, ok := c.passed[key]
	c.mu.Unlock()
	if ok && u != nil && u.Hash == hash {
		return u, nil
	}
	u, err := d.Authenticate(name, password)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.passed == nil || len(c.passed) >= maxAuthCache {
		c.passed = make(map[[sha256.Size]byte]string)
	}
	c.passed[key] = u.Hash
	c.mu.Unlock()
	return u, nil
}

// credentials are what a request presents: a user and password, or a
// bearer token.
type credentials struct {
	user, password string
	token          string
	bearer         bool
}

// errNoCredentials is InfluxDB's answer to a request that presents none.
var errNoCredentials = errors.New("unable to parse authentication credentials")

// parseCredentials extracts the request's credentials the ways InfluxDB
// 1.8 accepts them.
func parseCredentials(r *http.Request) (credentials, error) {
	q := r.URL.Query()
	if u, p := q.Get("u"), q.Get("p"); u != "" && p != "" {
		return credentials{user: u, password: p}, nil
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return credentials{}, errNoCredentials
	}
	if scheme, rest, ok := strings.Cut(header, " "); ok {
		switch scheme {
		case "Bearer":
			if rest != "" && !strings.Contains(rest, " ") {
				return credentials{token: rest, bearer: true}, nil
			}
		case "Token":
			if u, p, ok := parseToken(rest); ok {
				return credentials{user: u, password: p}, nil
			}
		}
	}
	if u, p, ok := r.BasicAuth(); ok {
		return credentials{user: u, password: p}, nil
	}
	return credentials{}, errNoCredentials
}

// parseToken reads InfluxDB 2.x-style "Token user:password" (also base64
// encoded, as some clients send it).
func parseToken(tok string) (user, password string, ok bool) {
	if u, p, ok := strings.Cut(tok, ":"); ok {
		return u, p, true
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

// authenticate checks the request's credentials when auth is enabled and
// returns the user; nil with no error means auth is off or no user exists
// yet.
func (h *handler) authenticate(r *http.Request) (*meta.UserInfo, *authError) {
	if !h.cfg.HTTP.AuthEnabled {
		return nil, nil
	}
	d := h.meta.Data()
	if d == nil {
		return nil, &authError{status: http.StatusServiceUnavailable, msg: errNoState.Error(), reason: reasonNoState}
	}
	if len(d.Users) == 0 {
		return nil, nil
	}
	creds, err := parseCredentials(r)
	if err != nil {
		return nil, unauthorized(reasonNoCredentials, "", err.Error())
	}
	if creds.bearer {
		return h.authenticateToken(d, creds.token)
	}
	if creds.user == "" {
		return nil, unauthorized(reasonNoCredentials, "", "username required")
	}
	u, err := h.auth.check(d, creds.user, creds.password)
	if err != nil {
		return nil, unauthorized(reasonBadPassword, creds.user, "authorization failed")
	}
	return u, nil
}

// operator answers 401/403 and returns false unless the request may use
// an operator endpoint (/strata/v1/…): reading needs an authenticated user
// and acting (repairs, purges, copies) an admin, when auth is enabled. A
// request signed with the internal shared secret, as strata ctl signs
// them, may do both: whoever holds the secret commands the meta nodes
// anyway.
func (h *handler) operator(w http.ResponseWriter, r *http.Request, act bool) bool {
	if h.nodeKey != nil && r.Header.Get(nodeauth.Header) != "" {
		err := h.nodeKey.Verify(r)
		if err == nil {
			return true
		}
		if _, cerr := parseCredentials(r); cerr != nil && h.cfg.HTTP.AuthEnabled {
			h.refuse(w, r, unauthorized(reasonBadSecret, "", err.Error()))
			return false
		}
	}
	u, aerr := h.authenticate(r)
	if aerr != nil {
		h.refuse(w, r, aerr)
		return false
	}
	if act && u != nil && !u.Admin {
		h.refuse(w, r, forbidden(u.Name, "operator actions (repairs, purges, shard copies) need an admin user"))
		return false
	}
	return true
}

// authenticateToken checks a JWT signed with [http] shared-secret and
// returns the user its "username" claim names.
func (h *handler) authenticateToken(d *meta.Data, raw string) (*meta.UserInfo, *authError) {
	secret := h.cfg.HTTP.SharedSecret
	if secret == "" {
		return nil, unauthorized(reasonBadToken, "", "bearer auth disabled")
	}
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, unauthorized(reasonBadToken, "", "token expiration required")
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, unauthorized(reasonBadToken, "", "token expired")
	case err != nil:
		return nil, unauthorized(reasonBadToken, "", err.Error())
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	name, ok := claims["username"].(string)
	switch {
	case !ok:
		return nil, unauthorized(reasonBadToken, "", "username in token must be a string")
	case name == "":
		return nil, unauthorized(reasonBadToken, "", "token must contain a username")
	}
	u := d.User(name)
	if u == nil {
		return nil, unauthorized(reasonBadToken, name, "user not found")
	}
	return u, nil
}

// authorizeWrite checks that user may write to db (InfluxDB's messages).
func (h *handler) authorizeWrite(user *meta.UserInfo, db string) *authError {
	switch {
	case !h.cfg.HTTP.AuthEnabled:
		return nil
	case user == nil:
		return forbidden("", fmt.Sprintf("user is required to write to database %q", db))
	case !authorized(user, db, meta.PrivilegeWrite):
		return forbidden(user.Name, fmt.Sprintf("%q user is not authorized to write to database %q", user.Name, db))
	}
	return nil
}

// authorizeQuery checks that user may run every statement of q, as
// InfluxDB 1.8's QueryAuthorizer does: admin for DDL and user statements,
// READ for SELECT and SHOW, WRITE for SELECT INTO and deletes. While no
// user exists only a lone CREATE USER … WITH ALL PRIVILEGES runs.
func (h *handler) authorizeQuery(user *meta.UserInfo, q *influxql.Query, db string) *authError {
	if !h.cfg.HTTP.AuthEnabled {
		return nil
	}
	const prefix = "error authorizing query: "
	if d := h.meta.Data(); d != nil && len(d.Users) == 0 {
		if len(q.Statements) == 1 {
			if cu, ok := q.Statements[0].(*influxql.CreateUserStatement); ok && cu.Admin {
				return nil
			}
		}
		return forbidden("", prefix+"create admin user first or disable authentication")
	}
	switch {
	case user == nil:
		return forbidden("", prefix+"no user provided")
	case user.Admin:
		return nil
	}
	for _, stmt := range q.Statements {
		privs, err := stmt.RequiredPrivileges()
		if err != nil {
			return forbidden(user.Name, prefix+err.Error())
		}
		for _, p := range privs {
			if p.Admin {
				return forbidden(user.Name, fmt.Sprintf("%s%s not authorized to execute statement '%s', requires admin privilege", prefix, user.Name, stmt))
			}
			name := p.Name
			if name == "" {
				name = db
			}
			want, ok := privilegeOf(p.Privilege)
			if ok && !authorized(user, name, want) {
				return forbidden(user.Name, fmt.Sprintf("%s%s not authorized to execute statement '%s', requires %s on %s", prefix, user.Name, stmt, p.Privilege, name))
			}
		}
	}
	return nil
}

// authorized reports whether u may use privilege p on db (nil u means auth
// is off).
func authorized(u *meta.UserInfo, db string, p meta.Privilege) bool {
	if u == nil || u.Admin {
		return true
	}
	have, ok := u.Privileges[db]
	if !ok {
		return false
	}
	return have == meta.PrivilegeAll || have == p
}
