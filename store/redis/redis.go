// Package redis holds what Threadline replicas share through Redis: the
// send-rate budgets. Nothing here is a source of truth; PostgreSQL is.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Open connects to Redis and checks it answers. The URL may hold a
// password, so errors never echo it.
func Open(ctx context.Context, url string) (*goredis.Client, error) {
	c, err := Connect(url)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", c.Options().Addr, err)
	}
	return c, nil
}

// Connect returns a client without calling Redis: it connects on first
// use and reconnects by itself, so a Redis that is down at start is used
// once it is back.
func Connect(url string) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, errors.New("invalid THREADLINE_REDIS_URL")
	}
	// Redis only accelerates: when it is down, a call must fail fast so the
	// caller falls back to its local limits instead of waiting on retries.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	opts.DialerRetries, opts.MaxRetries = 1, 1
	return goredis.NewClient(opts), nil
}

// gcra spaces calls per key with the generic cell rate algorithm, using the
// server's clock so replicas with skewed clocks agree. It returns 0 when the
// call may go (and counts it) or the milliseconds to wait.
var gcra = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat > now then
  return tat - now
end
redis.call('SET', KEYS[1], now + interval, 'PX', interval + 1000)
return 0
`)

// Limiter is a ratelimit.Limiter shared by every replica.
type Limiter struct {
	client *goredis.Client
	prefix string
}

// NewLimiter returns a limiter whose keys start with prefix.
func NewLimiter(c *goredis.Client, prefix string) *Limiter {
	return &Limiter{client: c, prefix: prefix}
}

// Reserve implements ratelimit.Limiter.
func (l *Limiter) Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error) {
	ms := max(interval.Milliseconds(), 1)
	wait, err := gcra.Run(ctx, l.client, []string{l.prefix + key}, strconv.FormatInt(ms, 10)).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis limiter: %w", err)
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// block extends a key's time to live to ARGV[1] ms unless it already lasts
// longer: the key's presence is the block.
var block = goredis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[1])
if ttl < want then
  redis.call('SET', KEYS[1], '1', 'PX', want)
end
return 0
`)

// Blocker is a ratelimit.Blocker shared by every replica: a throttle one
// replica is told about holds the others back too.
type Blocker struct {
	client *goredis.Client
	prefix string
}

// NewBlocker returns a blocker whose keys start with prefix.
func NewBlocker(c *goredis.Client, prefix string) *Blocker {
	return &Blocker{client: c, prefix: prefix}
}

// Block implements ratelimit.Blocker.
func (b *Blocker) Block(ctx context.Context, key string, d time.Duration) error {
	ms := max(d.Milliseconds(), 1)
	if err := block.Run(ctx, b.client, []string{b.prefix + key}, strconv.FormatInt(ms, 10)).Err(); err != nil {
		return fmt.Errorf("redis blocker: %w", err)
	}
	return nil
}

// Blocked implements ratelimit.Blocker.
func (b *Blocker) Blocked(ctx context.Context, key string) (time.Duration, error) {
	ttl, err := b.client.PTTL(ctx, b.prefix+key).Result()
	if err != nil {
		return 0, fmt.Errorf("redis blocker: %w", err)
	}
	// -2: no key, -1: no expiry (never set so by Block).
	return max(ttl, 0), nil
}
