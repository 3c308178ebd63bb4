package data

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// userAdmin is what the user statements need from the meta client.
type userAdmin interface {
	CreateUser(ctx context.Context, name, password string, admin bool) error
	DropUser(ctx context.Context, name string) error
	SetPassword(ctx context.Context, name, password string) error
	SetAdmin(ctx context.Context, name string, admin bool) error
	GrantPrivilege(ctx context.Context, user, db string, p meta.Privilege) error
	RevokePrivilege(ctx context.Context, user, db string) error
}

// InfluxDB 1.8's answers to user statements that name a missing user or
// recreate one with other settings.
var (
	errUserNotFound = &influxError{msg: "user not found", err: meta.ErrUserNotFound}
	errUserExists   = &influxError{msg: "user already exists", err: meta.ErrUserExists}
)

// influxError is an error worded as InfluxDB 1.8 words it that still
// unwraps to the cause.
type influxError struct {
	msg string
	err error
}

func (e *influxError) Error() string { return e.msg }
func (e *influxError) Unwrap() error { return e.err }

// executeUserStatement runs the user and privilege statements through
// meta, answering in InfluxDB 1.8's shapes. It reports whether stmt was
// one of them.
func (h *handler) executeUserStatement(ctx context.Context, stmt influxql.Statement, res *query.Result) (bool, error) {
	switch stmt.(type) {
	case *influxql.CreateUserStatement, *influxql.DropUserStatement, *influxql.SetPasswordUserStatement,
		*influxql.GrantStatement, *influxql.GrantAdminStatement, *influxql.RevokeStatement,
		*influxql.RevokeAdminStatement, *influxql.ShowUsersStatement, *influxql.ShowGrantsForUserStatement:
	default:
		return false, nil
	}
	if h.users == nil {
		return true, fmt.Errorf("%w: %s", query.ErrUnsupported, statementKind(stmt))
	}
	return true, userError(h.userStatement(ctx, stmt, res))
}

func (h *handler) userStatement(ctx context.Context, stmt influxql.Statement, res *query.Result) error {
	switch s := stmt.(type) {
	case *influxql.CreateUserStatement:
		return h.createUser(ctx, s)
	case *influxql.DropUserStatement:
		return h.users.DropUser(ctx, s.Name)
	case *influxql.SetPasswordUserStatement:
		return h.users.SetPassword(ctx, s.Name, s.Password)
	case *influxql.GrantAdminStatement:
		return h.users.SetAdmin(ctx, s.User, true)
	case *influxql.RevokeAdminStatement:
		return h.users.SetAdmin(ctx, s.User, false)
	case *influxql.GrantStatement:
		p, ok := privilegeOf(s.Privilege)
		if !ok {
			return fmt.Errorf("%w: %s", meta.ErrInvalidPrivilege, s.Privilege)
		}
		return h.users.GrantPrivilege(ctx, s.User, s.On, p)
	case *influxql.RevokeStatement:
		return h.revoke(ctx, s)
	case *influxql.ShowUsersStatement:
		d, err := h.state()
		if err != nil {
			return err
		}
		row := &query.Row{Columns: []string{"user", "admin"}}
		for _, u := range d.Users {
			row.Values = append(row.Values, []any{u.Name, u.Admin})
		}
		res.Series = []*query.Row{row}
		return nil
	case *influxql.ShowGrantsForUserStatement:
		u, err := h.freshUser(ctx, s.Name)
		if err != nil {
			return err
		}
		row := &query.Row{Columns: []string{"database", "privilege"}}
		for _, db := range slices.Sorted(maps.Keys(u.Privileges)) {
			row.Values = append(row.Values, []any{db, privilegeName(u.Privileges[db])})
		}
		res.Series = []*query.Row{row}
		return nil
	}
	return nil
}

// createUser is InfluxDB's CREATE USER: recreating a user with the same
// password and admin flag is a no-op, with another is "user already
// exists". The password is checked here because meta only sees hashes.
func (h *handler) createUser(ctx context.Context, s *influxql.CreateUserStatement) error {
	if d := h.meta.Data(); d != nil && d.User(s.Name) != nil {
		u, err := d.Authenticate(s.Name, s.Password)
		if err != nil || u.Admin != s.Admin {
			return errUserExists
		}
		return nil
	}
	return h.users.CreateUser(ctx, s.Name, s.Password, s.Admin)
}

// revoke is InfluxDB's REVOKE: the revoked privilege is cleared from the
// user's (REVOKE READ from ALL leaves WRITE); nothing left drops the grant.
func (h *handler) revoke(ctx context.Context, s *influxql.RevokeStatement) error {
	revoked, ok := privilegeOf(s.Privilege)
	if !ok {
		return fmt.Errorf("%w: %s", meta.ErrInvalidPrivilege, s.Privilege)
	}
	u, err := h.freshUser(ctx, s.User)
	if err != nil {
		return err
	}
	left := clearPrivilege(u.Privileges[s.On], revoked)
	if left == "" {
		return h.users.RevokePrivilege(ctx, s.User, s.On)
	}
	return h.users.GrantPrivilege(ctx, s.User, s.On, left)
}

// freshUser returns the named user from the current meta state.
func (h *handler) freshUser(ctx context.Context, name string) (*meta.UserInfo, error) {
	d, err := h.meta.Refresh(ctx)
	if err != nil {
		if d, err = h.state(); err != nil {
			return nil, err
		}
	}
	u := d.User(name)
	if u == nil {
		return nil, errUserNotFound
	}
	return u, nil
}

// clearPrivilege is have without revoked ("" when nothing is left).
func clearPrivilege(have, revoked meta.Privilege) meta.Privilege {
	switch {
	case revoked == meta.PrivilegeAll || have == revoked:
		return ""
	case have == meta.PrivilegeAll && revoked == meta.PrivilegeRead:
		return meta.PrivilegeWrite
	case have == meta.PrivilegeAll && revoked == meta.PrivilegeWrite:
		return meta.PrivilegeRead
	}
	return have
}

// privilegeOf maps an InfluxQL privilege to meta's.
func privilegeOf(p influxql.Privilege) (meta.Privilege, bool) {
	switch p {
	case influxql.ReadPrivilege:
		return meta.PrivilegeRead, true
	case influxql.WritePrivilege:
		return meta.PrivilegeWrite, true
	case influxql.AllPrivileges:
		return meta.PrivilegeAll, true
	}
	return "", false
}

// privilegeName is how SHOW GRANTS prints a privilege (InfluxQL's words).
func privilegeName(p meta.Privilege) string {
	switch p {
	case meta.PrivilegeRead:
		return influxql.ReadPrivilege.String()
	case meta.PrivilegeWrite:
		return influxql.WritePrivilege.String()
	case meta.PrivilegeAll:
		return influxql.AllPrivileges.String()
	}
	return influxql.NoPrivileges.String()
}

// userError words meta's user errors as InfluxDB 1.8 does, keeping the
// chain for errors.Is.
func userError(err error) error {
	var ie *influxError
	switch {
	case err == nil || errors.As(err, &ie):
		return err
	case errors.Is(err, meta.ErrUserNotFound):
		return &influxError{msg: errUserNotFound.msg, err: err}
	case errors.Is(err, meta.ErrUserExists):
		return &influxError{msg: errUserExists.msg, err: err}
	}
	return err
}
