// Package testenv gives integration tests real PostgreSQL databases and Redis
// connections. A missing server skips the test on a developer's machine and
// fails it in CI (CI=true or THREADLINE_TEST_REQUIRE_SERVICES=1).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("THREADLINE_TEST_REQUIRE_SERVICES") == "1"
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if required() {
		t.Fatalf("%s is required here but unavailable: %v (scripts/test starts it)", what, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

// PostgresURL creates an empty database for this test and returns its URL.
// The database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("THREADLINE_TEST_DATABASE_URL")
	if admin == "" {
		admin = defaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "threadline_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse THREADLINE_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisURL returns the test Redis URL.
func RedisURL() string {
	if u := os.Getenv("THREADLINE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RequireRedis skips or fails the test as PostgresURL does when ping fails.
func RequireRedis(t testing.TB, ping func() error) {
	t.Helper()
	if err := ping(); err != nil {
		unavailable(t, "Redis", err)
	}
}
