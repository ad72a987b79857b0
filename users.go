package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"tenantgraph/identity"
)

func runUser(ctx context.Context, cfg Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("user: want create")
	}
	fs := newFlagSet("user create", stderr)
	cfg.bindCommon(fs)
	email := fs.String("email", "", "the user's email, used to sign in")
	name := fs.String("name", "", "the user's name")
	admin := fs.Bool("admin", false, "grant the global admin role")
	fs.rule("email", required(email))
	fs.rule("name", required(name))
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	generated := password == ""
	if generated {
		password = identity.GeneratePassword()
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := identity.NewStore(db).CreateUser(ctx, *email, *name, password, *admin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %d <%s>", u.ID, u.Email)
	if u.Admin {
		fmt.Fprint(stdout, " with the admin role")
	}
	fmt.Fprintln(stdout)
	if generated {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	return nil
}

// readPassword reads the password, a single line, from stdin, or "" when
// stdin is a terminal or empty, in which case a password is generated.
func readPassword(stdin io.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return "", nil
		}
	}
	r := bufio.NewReader(stdin)
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	// More after the first line is likely a file piped by mistake; taking
	// its first line silently would set a password nobody meant.
	if rest, _ := r.Peek(1); len(rest) > 0 {
		return "", errors.New("read password: stdin holds more than one line; give the password alone on one line")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
