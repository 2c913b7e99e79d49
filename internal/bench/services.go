package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The chaos run restarts PostgreSQL and stops Redis, so it runs its own
// instances on spare ports, in a temporary folder: never the machine's
// shared services.

// privatePostgres is a PostgreSQL cluster of the harness's own.
type privatePostgres struct {
	root string
	bin  string // folder of initdb, pg_ctl
	dir  string // cluster data
	sock string // unix socket folder
	port int
	as   []string // run as the postgres user when we are root
	log  string
}

// postgresBin finds the newest installed server binaries.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl) found under /usr/lib/postgresql/*/bin or on PATH")
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startPostgres initdbs a cluster in a fresh temporary folder (in the
// system's, which the postgres user can reach) and starts it on a spare port.
func startPostgres(ctx context.Context) (*privatePostgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "threadline-pg-")
	if err != nil {
		return nil, err
	}
	p := &privatePostgres{root: root, bin: bin, dir: filepath.Join(root, "pg"), sock: filepath.Join(root, "pgsock"), port: port, log: filepath.Join(root, "postgres.log")}
	for _, d := range []string{p.dir, p.sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{root, p.dir, p.sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := p.run(ctx, "initdb", "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *privatePostgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	argv := append(append([]string{}, p.as...), filepath.Join(p.bin, tool))
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

func (p *privatePostgres) start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=32MB", p.port, p.sock)
	if out, err := p.run(ctx, "pg_ctl", "-D", p.dir, "-l", p.log, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// restart stops the server the hard way (immediate: no checkpoint, crash
// recovery on start, every connection cut) and starts it again after down.
func (p *privatePostgres) restart(ctx context.Context, down time.Duration) error {
	if out, err := p.run(ctx, "pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	if !sleepCtx(ctx, down) {
		return ctx.Err()
	}
	return p.start(ctx)
}

// close stops the server and removes its folder.
func (p *privatePostgres) close() {
	_, _ = p.run(context.Background(), "pg_ctl", "-D", p.dir, "-m", "fast", "-w", "stop")
	_ = os.RemoveAll(p.root)
}

// URL is the admin URL of the cluster's postgres database.
func (p *privatePostgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// privateRedis is a redis-server of the harness's own, without persistence.
type privateRedis struct {
	port int
	log  *os.File
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func startRedis(ctx context.Context, root string) (*privateRedis, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server is not installed")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(root, "redis.log"))
	if err != nil {
		return nil, err
	}
	r := &privateRedis{port: port, log: log}
	return r, r.start(ctx)
}

func (r *privateRedis) start(ctx context.Context) error {
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return nil
			}
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	return errors.New("redis-server did not come up")
}

// stop ends the server (SIGKILL: the limits it held are lost, as in a crash).
func (r *privateRedis) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func (r *privateRedis) close() {
	r.stop()
	r.log.Close()
}

func (r *privateRedis) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }
func (r *privateRedis) URL() string  { return "redis://" + r.addr() + "/0" }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
