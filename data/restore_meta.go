package data

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/meta"
)

// ErrRestoreUserExists is returned by a full restore for users the target
// cluster already has, unless RestoreOptions.Force is set.
var ErrRestoreUserExists = errors.New("user already exists")

// metaRestore is what a full restore brings back besides the data: the
// backup's users, with their privileges on the restored databases under
// the new names, and those databases' continuous queries, rewritten for
// the new names.
type metaRestore struct {
	users []meta.UserInfo
	// exists names the users the target cluster has already.
	exists map[string]bool
	cqs    []restoredCQ
	// warnings are left-outs the operator should read.
	warnings []string
}

// restoredCQ is one continuous query to create on the target.
type restoredCQ struct {
	database, name, query string
}

// planMetaRestore works out a full restore's users and continuous queries
// for the databases renamed as names says (backed-up name → new name),
// refusing existing users without opts.Force. It writes nothing, so a
// refusal leaves the target untouched.
func planMetaRestore(snap, target *meta.Data, names map[string]string, opts RestoreOptions) (*metaRestore, error) {
	plan := &metaRestore{exists: map[string]bool{}}
	var clash []string
	for _, u := range snap.Users {
		if target.User(u.Name) != nil {
			plan.exists[u.Name] = true
			clash = append(clash, u.Name)
		}
		privileges := map[string]meta.Privilege{}
		for db, p := range u.Privileges {
			if to, ok := names[db]; ok {
				privileges[to] = p
			} else {
				plan.warnings = append(plan.warnings, fmt.Sprintf("user %q: privilege %s on database %q not restored (the restore does not bring that database)", u.Name, p, db))
			}
		}
		plan.users = append(plan.users, meta.UserInfo{Name: u.Name, Hash: u.Hash, Admin: u.Admin, Privileges: privileges})
	}
	if len(clash) > 0 && !opts.Force {
		return nil, fmt.Errorf("users %q: %w in the target cluster; restore --full refuses to overwrite their passwords and privileges without --force", clash, ErrRestoreUserExists)
	}
	for _, db := range snap.Databases {
		to, ok := names[db.Name]
		if !ok {
			continue
		}
		for _, cq := range db.ContinuousQueries {
			q, others, err := renameContinuousQuery(cq.Query, db.Name, to)
			if err != nil {
				return nil, fmt.Errorf("continuous query %q on %q: %w", cq.Name, db.Name, err)
			}
			for _, other := range others {
				if _, restored := names[other]; !restored && target.Database(other) == nil {
					plan.warnings = append(plan.warnings, fmt.Sprintf("continuous query %q on %q uses database %q, which the target cluster does not have", cq.Name, to, other))
				}
			}
			plan.cqs = append(plan.cqs, restoredCQ{database: to, name: cq.Name, query: q})
		}
	}
	slices.Sort(plan.warnings)
	plan.warnings = slices.Compact(plan.warnings)
	return plan, nil
}

// renameContinuousQuery rewrites a stored CREATE CONTINUOUS QUERY
// statement of database from for database to: its ON clause and every
// measurement qualified with from. It also returns the other databases
// the statement names.
func renameContinuousQuery(q, from, to string) (string, []string, error) {
	stmt, err := influxql.ParseStatement(q)
	if err != nil {
		return "", nil, fmt.Errorf("parse %q: %w", q, err)
	}
	cq, ok := stmt.(*influxql.CreateContinuousQueryStatement)
	if !ok {
		return "", nil, fmt.Errorf("%q is not a CREATE CONTINUOUS QUERY statement", q)
	}
	cq.Database = to
	others := map[string]bool{}
	influxql.WalkFunc(cq, func(n influxql.Node) {
		m, ok := n.(*influxql.Measurement)
		if !ok {
			return
		}
		switch m.Database {
		case from:
			m.Database = to
		case "", to:
		default:
			others[m.Database] = true
		}
	})
	return cq.String(), slices.Sorted(maps.Keys(others)), nil
}

// restoreUsers creates the plan's users with their password hashes, admin
// flags and privileges; an existing user (allowed by --force) gets the
// backed-up hash and admin flag, and the restored privileges are granted
// on top of those it holds.
func restoreUsers(ctx context.Context, opts RestoreOptions, plan *metaRestore) error {
	for _, u := range plan.users {
		if _, err := withTimeout(ctx, opts.MetaTimeout, func(ctx context.Context) (any, error) {
			if !plan.exists[u.Name] {
				return nil, opts.Meta.CreateUserWithHash(ctx, u.Name, u.Hash, u.Admin)
			}
			if err := opts.Meta.SetPasswordHash(ctx, u.Name, u.Hash); err != nil {
				return nil, err
			}
			return nil, opts.Meta.SetAdmin(ctx, u.Name, u.Admin)
		}); err != nil {
			return fmt.Errorf("restore user %q: %w", u.Name, err)
		}
		for _, db := range slices.Sorted(maps.Keys(u.Privileges)) {
			if _, err := withTimeout(ctx, opts.MetaTimeout, func(ctx context.Context) (any, error) {
				return nil, opts.Meta.GrantPrivilege(ctx, u.Name, db, u.Privileges[db])
			}); err != nil {
				return fmt.Errorf("grant %s on %q to user %q: %w", u.Privileges[db], db, u.Name, err)
			}
		}
	}
	return nil
}

// restoreContinuousQueries creates the plan's continuous queries; one of
// the same name with another query (only in a database written into with
// --force) is replaced.
func restoreContinuousQueries(ctx context.Context, opts RestoreOptions, plan *metaRestore) error {
	for _, cq := range plan.cqs {
		_, err := withTimeout(ctx, opts.MetaTimeout, func(ctx context.Context) (any, error) {
			err := opts.Meta.CreateContinuousQuery(ctx, cq.database, cq.name, cq.query)
			if errors.Is(err, meta.ErrContinuousQueryExists) && opts.Force {
				if err := opts.Meta.DropContinuousQuery(ctx, cq.database, cq.name); err != nil {
					return nil, err
				}
				err = opts.Meta.CreateContinuousQuery(ctx, cq.database, cq.name, cq.query)
			}
			return nil, err
		})
		if err != nil {
			return fmt.Errorf("restore continuous query %q on %q: %w", cq.name, cq.database, err)
		}
	}
	return nil
}
