package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations of a dialect ("postgres" or "sqlite") in
// version order.
func Migrations(dialect string) ([]Migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// TxRunner runs fn in one transaction of the backend.
type TxRunner func(ctx context.Context, fn func(ctx context.Context, ex Executor) error) error

const createVersions = `CREATE TABLE IF NOT EXISTS threadline_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`

// Migrate applies the migrations not yet applied, each in its own
// transaction. lockSQL, when set, serializes concurrent migrators.
func Migrate(ctx context.Context, run TxRunner, dialect, lockSQL string) (applied []string, err error) {
	ms, err := Migrations(dialect)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		err := run(ctx, func(ctx context.Context, ex Executor) error {
			if lockSQL != "" {
				if _, err := ex.Exec(ctx, lockSQL); err != nil {
					return fmt.Errorf("migration lock: %w", err)
				}
			}
			if _, err := ex.Exec(ctx, createVersions); err != nil {
				return fmt.Errorf("create schema table: %w", err)
			}
			var n int
			if err := ex.QueryRow(ctx, `SELECT count(*) FROM threadline_schema WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := ex.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", m.Name, err)
				}
			}
			applied = append(applied, m.Name)
			_, err := ex.Exec(ctx, `INSERT INTO threadline_schema (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UTC().Format(timeLayout))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate: %w", err)
		}
	}
	return applied, nil
}

// PendingMigrations lists the migrations the database lacks.
func PendingMigrations(ctx context.Context, run TxRunner, dialect string) ([]string, error) {
	ms, err := Migrations(dialect)
	if err != nil {
		return nil, err
	}
	have := map[int]bool{}
	err = run(ctx, func(ctx context.Context, ex Executor) error {
		if _, err := ex.Exec(ctx, createVersions); err != nil {
			return err
		}
		rows, err := ex.Query(ctx, `SELECT version FROM threadline_schema`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return err
			}
			have[v] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	var pending []string
	for _, m := range ms {
		if !have[m.Version] {
			pending = append(pending, m.Name)
		}
	}
	return pending, nil
}

// splitStatements splits a migration on semicolons at line ends; the
// migrations contain no procedural bodies.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
