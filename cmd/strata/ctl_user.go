package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/meta"
)

// newCtlUserCommand groups the user commands: the same users and
// privileges InfluxQL's CREATE USER, GRANT, … manage through /query, set
// directly through meta (the way back in when no admin can log in).
func newCtlUserCommand(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Short:   "Manage users and their privileges",
		Example: "  strata ctl user create alice --password s3cret\n  strata ctl user grant alice read telegraf\n  strata ctl user list",
	}
	cmd.AddCommand(
		newCtlUserCreateCommand(o),
		newCtlUserDropCommand(o),
		newCtlUserPasswordCommand(o),
		newCtlUserGrantCommand(o),
		newCtlUserRevokeCommand(o),
		newCtlUserListCommand(o),
		newCtlUserShowCommand(o),
	)
	return cmd
}

// readPassword returns --password, or else the first line of stdin (so
// the password stays out of the process list).
func readPassword(cmd *cobra.Command, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("no password: pass --password or write it on stdin")
	}
	return pw, nil
}

// passwordCommand is a user command taking NAME and a password (from
// --password or stdin) and calling run with them.
func passwordCommand(o *ctlOptions, use, short, action, done string,
	run func(ctx context.Context, c *meta.Client, name, password string) error) *cobra.Command {
	var password string
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  strata ctl user " + strings.Fields(use)[0] + " alice --password s3cret\n  echo s3cret | strata ctl user " + strings.Fields(use)[0] + " alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd, password)
			if err != nil {
				return err
			}
			ctx, c, release := o.session(cmd)
			defer release()
			if err := run(ctx, c, args[0], pw); err != nil {
				return failed(fmt.Sprintf("%s %q", action, args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), done+" "+args[0])
		},
	}
	cmd.Flags().StringVar(&password, "password", "", "the password (default: read one line from stdin)")
	return cmd
}

func newCtlUserCreateCommand(o *ctlOptions) *cobra.Command {
	var admin bool
	cmd := passwordCommand(o, "create NAME", "Create a user (password from --password or stdin)", "create user", "created user",
		func(ctx context.Context, c *meta.Client, name, pw string) error {
			return c.CreateUser(ctx, name, pw, admin)
		})
	cmd.Flags().BoolVar(&admin, "admin", false, "make the user an admin (WITH ALL PRIVILEGES)")
	return cmd
}

func newCtlUserDropCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "drop NAME",
		Short:   "Drop a user",
		Example: "  strata ctl user drop alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.DropUser(ctx, args[0]); err != nil {
				return failed(fmt.Sprintf("drop user %q", args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "dropped user "+args[0])
		},
	}
}

func newCtlUserPasswordCommand(o *ctlOptions) *cobra.Command {
	return passwordCommand(o, "set-password NAME", "Change a user's password (from --password or stdin)", "set password of", "changed password of",
		func(ctx context.Context, c *meta.Client, name, pw string) error { return c.SetPassword(ctx, name, pw) })
}

// parsePrivilege reads read, write, all or admin.
func parsePrivilege(s string) (p meta.Privilege, admin bool, err error) {
	switch strings.ToLower(s) {
	case "read", "write", "all":
		return meta.Privilege(strings.ToLower(s)), false, nil
	case "admin":
		return "", true, nil
	}
	return "", false, fmt.Errorf("invalid privilege %q: want read, write, all (on a database) or admin", s)
}

func newCtlUserGrantCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "grant NAME read|write|all DATABASE | grant NAME admin",
		Short:   "Grant a privilege on a database, or admin (ALL PRIVILEGES)",
		Example: "  strata ctl user grant alice read telegraf\n  strata ctl user grant bob admin",
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, admin, err := parsePrivilege(args[1])
			if err != nil {
				return err
			}
			if admin != (len(args) == 2) {
				return fmt.Errorf("name a database for read, write or all, and none for admin")
			}
			ctx, c, done := o.session(cmd)
			defer done()
			if admin {
				err = c.SetAdmin(ctx, args[0], true)
			} else {
				err = c.GrantPrivilege(ctx, args[0], args[2], p)
			}
			if err != nil {
				return failed(fmt.Sprintf("grant %s to %q", strings.Join(args[1:], " on "), args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("granted %s to %s", strings.Join(args[1:], " on "), args[0]))
		},
	}
}

func newCtlUserRevokeCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke NAME DATABASE | revoke NAME admin",
		Short:   "Revoke a user's privilege on a database, or its admin flag",
		Example: "  strata ctl user revoke alice telegraf\n  strata ctl user revoke bob admin",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			var err error
			if strings.EqualFold(args[1], "admin") {
				err = c.SetAdmin(ctx, args[0], false)
			} else {
				err = c.RevokePrivilege(ctx, args[0], args[1])
			}
			if err != nil {
				return failed(fmt.Sprintf("revoke %s from %q", args[1], args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("revoked %s from %s", args[1], args[0]))
		},
	}
}

func newCtlUserListCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List users (SHOW USERS)",
		Example: "  strata ctl user list\n  strata ctl user list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			type userView struct {
				Name  string `json:"user"`
				Admin bool   `json:"admin"`
			}
			views := make([]userView, 0, len(d.Users))
			for _, u := range d.Users {
				views = append(views, userView{u.Name, u.Admin})
			}
			return o.output(cmd.OutOrStdout(), views, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "USER\tADMIN")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%t\n", v.Name, v.Admin)
				}
			})
		},
	}
}

func newCtlUserShowCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "grants NAME",
		Short:   "Show a user's privileges (SHOW GRANTS FOR)",
		Example: "  strata ctl user grants alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			u := d.User(args[0])
			if u == nil {
				return fmt.Errorf("user not found: %s", args[0])
			}
			type grantView struct {
				Database  string         `json:"database"`
				Privilege meta.Privilege `json:"privilege"`
			}
			views := make([]grantView, 0, len(u.Privileges))
			for _, db := range slices.Sorted(maps.Keys(u.Privileges)) {
				views = append(views, grantView{db, u.Privileges[db]})
			}
			return o.output(cmd.OutOrStdout(), views, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "DATABASE\tPRIVILEGE")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%s\n", v.Database, v.Privilege)
				}
			})
		},
	}
}
