package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/postgres"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/sqlite"
)

// defaultDatabase is the SQLite file used when DATABASE_URL is not set.
const defaultDatabase = "rechargekit.db"

// keyValueDSN matches a libpq key=value connection string ("host=db
// user=u ..."): it begins with a keyword and "=", which no file path
// written out for a database does.
var keyValueDSN = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

// openStore opens the Store that DATABASE_URL names: a postgres:// or
// postgresql:// URL, or else a SQLite file path. Opening applies migrations.
func openStore(ctx context.Context, databaseURL string) (rechargekit.Store, error) {
	if databaseURL == "" {
		databaseURL = defaultDatabase
	}
	if isPostgres(databaseURL) {
		s, err := postgres.Open(ctx, databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open the PostgreSQL database: %w", err)
		}
		return s, nil
	}
	if strings.Contains(databaseURL, "://") || keyValueDSN.MatchString(databaseURL) {
		// Neither a postgres URL nor a plain path (a key=value DSN, another
		// scheme): refuse it rather than create a SQLite file named after
		// it, and never echo it, since it may hold a password. A path may
		// hold spaces ("Application Support") and is opened as it is.
		return nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL or a SQLite file path")
	}
	s, err := sqlite.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open the SQLite database %s: %w", databaseURL, err)
	}
	return s, nil
}

// describeDatabase names a DATABASE_URL for people without its password:
// "PostgreSQL database rechargekit on db:5432", or "SQLite /abs/path.db" so
// that an admin sees which file a command wrote to whatever directory it
// ran in.
func describeDatabase(databaseURL string) string {
	if databaseURL == "" {
		databaseURL = defaultDatabase
	}
	if isPostgres(databaseURL) {
		u, err := url.Parse(databaseURL)
		if err != nil || u.Host == "" {
			return "PostgreSQL"
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			return "PostgreSQL database " + db + " on " + u.Host
		}
		return "PostgreSQL on " + u.Host
	}
	if abs, err := filepath.Abs(databaseURL); err == nil {
		databaseURL = abs
	}
	return "SQLite " + databaseURL
}

// adminDatabase returns DATABASE_URL for the admin commands (migrate, user,
// token). Unlike serve they have no default: one run in the wrong directory
// would create a stray ./rechargekit.db that no server reads, and a user or
// token added there would then be refused as unknown.
func (m *Main) adminDatabase() (string, error) {
	u := strings.TrimSpace(m.Getenv("DATABASE_URL"))
	if u == "" {
		return "", errors.New("DATABASE_URL is not set: set it to the database the server uses (a SQLite file path or postgres://...); 'rechargekit demo' prints its own")
	}
	return u, nil
}

// openAdminStore opens DATABASE_URL's store for an admin command (see
// adminDatabase) and returns it with the URL.
func (m *Main) openAdminStore(ctx context.Context) (rechargekit.Store, string, error) {
	dbURL, err := m.adminDatabase()
	if err != nil {
		return nil, "", err
	}
	store, err := openStore(ctx, dbURL)
	if err != nil {
		return nil, "", err
	}
	return store, dbURL, nil
}

// isPostgres reports whether a DATABASE_URL names PostgreSQL.
func isPostgres(databaseURL string) bool {
	u := strings.ToLower(databaseURL)
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// migrateCommand brings the database schema up to date and exits.
type migrateCommand struct{ m *Main }

func (c *migrateCommand) parseFlags(args []string) error {
	return c.m.newFlagSet("migrate", "(the database comes from $DATABASE_URL)").Parse(args)
}

func (c *migrateCommand) run(ctx context.Context) error {
	store, dbURL, err := c.m.openAdminStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(c.m.Stdout, "%s is up to date\n", describeDatabase(dbURL))
	return nil
}

// userCommand manages console users: rechargekit user add --email E --role R.
type userCommand struct {
	m     *Main
	email string
	role  string
}

func (c *userCommand) parseFlags(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("usage: rechargekit user add --email E --role admin|agent")
	}
	fs := c.m.newFlagSet("user add", "--email E --role admin|agent (the database comes from $DATABASE_URL)")
	fs.StringVar(&c.email, "email", "", "the user's email, used to sign in")
	fs.StringVar(&c.role, "role", rechargekit.RoleAgent, "agent (view, search, link, unlink) or admin (also settings, users, tokens)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.email == "" {
		return errors.New("--email is required")
	}
	if c.role != rechargekit.RoleAgent && c.role != rechargekit.RoleAdmin {
		return fmt.Errorf("--role must be agent or admin, not %q", c.role)
	}
	return nil
}

func (c *userCommand) run(ctx context.Context) error {
	store, dbURL, err := c.m.openAdminStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	password, err := addUser(ctx, store, c.email, c.role)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Added %s %s to %s. Their password, shown this once:\n%s\n", c.role, c.email, describeDatabase(dbURL), password)
	return nil
}

// addUser creates a user with a generated password and returns it.
func addUser(ctx context.Context, store rechargekit.Store, email, role string) (string, error) {
	password := server.GeneratePassword()
	hash, err := server.HashPassword(password)
	if err != nil {
		return "", err
	}
	if err := store.CreateUser(ctx, &rechargekit.User{Email: email, Role: role, PasswordHash: hash}, "cli"); err != nil {
		if rechargekit.ErrorCode(err) == rechargekit.ECONFLICT {
			return "", fmt.Errorf("a user with the email %s already exists", email)
		}
		return "", describe(err)
	}
	return password, nil
}

// tokenCommand manages JSON API tokens: rechargekit token add --name NAME
// [--role agent|admin].
type tokenCommand struct {
	m    *Main
	name string
	role string
}

func (c *tokenCommand) parseFlags(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("usage: rechargekit token add --name NAME [--role agent|admin]")
	}
	fs := c.m.newFlagSet("token add", "--name NAME [--role agent|admin] (the database comes from $DATABASE_URL)")
	fs.StringVar(&c.name, "name", "", "what the token is for, e.g. the desk that uses it")
	fs.StringVar(&c.role, "role", rechargekit.RoleAgent, "agent or admin: which subscription actions the token may take (the admin settings say which each role may)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.name == "" {
		return errors.New("--name is required")
	}
	if c.role != rechargekit.RoleAgent && c.role != rechargekit.RoleAdmin {
		return fmt.Errorf("--role must be agent or admin, not %q", c.role)
	}
	return nil
}

func (c *tokenCommand) run(ctx context.Context) error {
	store, dbURL, err := c.m.openAdminStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	token, err := addAPIToken(ctx, store, c.name, c.role, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Added %s API token %q to %s. Send it as 'Authorization: Bearer <token>'; it is shown this once:\n%s\n",
		c.role, c.name, describeDatabase(dbURL), token)
	return nil
}

// addAPIToken creates a JSON API token named name and returns it; only its
// hash is stored.
func addAPIToken(ctx context.Context, store rechargekit.Store, name, role, by string) (string, error) {
	token, hash := server.NewAPIToken()
	if err := store.CreateAPIToken(ctx, &rechargekit.APIToken{Name: name, Role: role, Hash: hash}, by); err != nil {
		if rechargekit.ErrorCode(err) == rechargekit.ECONFLICT {
			return "", fmt.Errorf("an API token named %q already exists", name)
		}
		return "", describe(err)
	}
	return token, nil
}
