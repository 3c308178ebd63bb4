package meta

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// User commands carry a bcrypt hash computed by the caller (Client hashes
// the password), never a password, so Apply stays deterministic and cheap.

func validPrivilege(p Privilege) error {
	switch p {
	case PrivilegeRead, PrivilegeWrite, PrivilegeAll:
		return nil
	}
	return fmt.Errorf("privilege %q (want read, write or all): %w", p, ErrInvalidPrivilege)
}

func validHash(user, hash string) error {
	if !strings.HasPrefix(hash, "$2") {
		return fmt.Errorf("user %q: password hash is not bcrypt: %w", user, ErrInvalidCommand)
	}
	return nil
}

func (d *Data) mustUser(name string) (*UserInfo, error) {
	if err := ValidateName("user", name); err != nil {
		return nil, err
	}
	u := d.User(name)
	if u == nil {
		return nil, fmt.Errorf("user %q: %w", name, ErrUserNotFound)
	}
	return u, nil
}

// createUser adds a user; an existing user with the same hash and admin flag
// is a no-op.
func (d *Data) createUser(name, hash string, admin bool) error {
	if err := ValidateName("user", name); err != nil {
		return err
	}
	if err := validHash(name, hash); err != nil {
		return err
	}
	if u := d.User(name); u != nil {
		if u.Hash != hash || u.Admin != admin {
			return fmt.Errorf("user %q: %w", name, ErrUserExists)
		}
		return nil
	}
	i, _ := slices.BinarySearchFunc(d.Users, name, func(u UserInfo, n string) int { return strings.Compare(u.Name, n) })
	d.Users = slices.Insert(d.Users, i, UserInfo{Name: name, Hash: hash, Admin: admin})
	return nil
}

func (d *Data) dropUser(name string) error {
	if _, err := d.mustUser(name); err != nil {
		return err
	}
	d.Users = slices.DeleteFunc(d.Users, func(u UserInfo) bool { return u.Name == name })
	return nil
}

func (d *Data) setPassword(name, hash string) error {
	u, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := validHash(name, hash); err != nil {
		return err
	}
	u.Hash = hash
	return nil
}

func (d *Data) setAdmin(name string, admin bool) error {
	u, err := d.mustUser(name)
	if err != nil {
		return err
	}
	u.Admin = admin
	return nil
}

func (d *Data) grantPrivilege(name, db string, p Privilege) error {
	u, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := validPrivilege(p); err != nil {
		return err
	}
	if _, err := d.mustDatabase(db); err != nil {
		return err
	}
	if u.Privileges == nil {
		u.Privileges = make(map[string]Privilege)
	}
	u.Privileges[db] = p
	return nil
}

func (d *Data) revokePrivilege(name, db string) error {
	u, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := ValidateName("database", db); err != nil {
		return err
	}
	delete(u.Privileges, db)
	return nil
}

// Authenticate checks a user's password against its bcrypt hash and
// returns the user, or an error wrapping ErrAuthenticationFailed (the same
// for an unknown user and a wrong password).
func (d *Data) Authenticate(name, password string) (*UserInfo, error) {
	u := d.User(name)
	if u == nil {
		return nil, fmt.Errorf("user %q: %w", name, ErrAuthenticationFailed)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)); err != nil {
		return nil, fmt.Errorf("user %q: %w", name, ErrAuthenticationFailed)
	}
	return u, nil
}
