package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/testenv"
	tlredis "github.com/threadline/threadline/store/redis"
)

func prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "threadline:test:" + hex.EncodeToString(b[:]) + ":"
}

func TestSharedBudgetAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	c, err := tlredis.Open(ctx, testenv.RedisURL())
	testenv.RequireRedis(t, func() error { return err })
	defer c.Close()
	p := prefix()
	replicas := []*tlredis.Limiter{tlredis.NewLimiter(c, p), tlredis.NewLimiter(c, p)}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait, err := replicas[i%2].Reserve(ctx, "slack:post:C1", 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			if wait == 0 {
				allowed.Add(1)
			} else if wait > 10*time.Second || wait < 9*time.Second {
				t.Errorf("wait %v, want about 10s", wait)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 1 {
		t.Errorf("%d calls allowed across two replicas, want 1", allowed.Load())
	}
	if w, err := replicas[0].Reserve(ctx, "slack:post:C2", 10*time.Second); err != nil || w != 0 {
		t.Errorf("other key: %v %v", w, err)
	}
	ttl, err := c.PTTL(ctx, p+"slack:post:C1").Result()
	if err != nil || ttl <= 0 || ttl > 11*time.Second {
		t.Errorf("key ttl %v %v: keys must expire", ttl, err)
	}
	c.Del(ctx, p+"slack:post:C1", p+"slack:post:C2")
}

func TestOpenNeverEchoesTheURL(t *testing.T) {
	_, err := tlredis.Open(context.Background(), "redis://:hunter2@127.0.0.1:1/0")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if s := err.Error(); strings.Contains(s, "hunter2") {
		t.Errorf("err = %q", s)
	}
	if _, err := tlredis.Open(context.Background(), "::hunter2"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URL err = %v", err)
	}
}

func BenchmarkRedisLimiter(b *testing.B) {
	ctx := context.Background()
	c, err := tlredis.Open(ctx, testenv.RedisURL())
	if err != nil {
		b.Skip(err)
	}
	defer c.Close()
	l := tlredis.NewLimiter(c, prefix())
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := l.Reserve(ctx, "bench:"+string(rune('a'+i%26)), time.Millisecond); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reservations/s")
}

// TestSharedBlocks: a throttle one replica records holds the other back,
// a shorter one never shortens it, and keys expire with the block.
func TestSharedBlocks(t *testing.T) {
	ctx := context.Background()
	c, err := tlredis.Open(ctx, testenv.RedisURL())
	testenv.RequireRedis(t, func() error { return err })
	defer c.Close()
	p := prefix()
	a, b := tlredis.NewBlocker(c, p), tlredis.NewBlocker(c, p)
	defer c.Del(ctx, p+"meta:throttle:1")
	if w, err := b.Blocked(ctx, "meta:throttle:1"); err != nil || w != 0 {
		t.Fatalf("before any block: %v %v", w, err)
	}
	steps := []struct {
		block    time.Duration
		min, max time.Duration
	}{
		{10 * time.Second, 9 * time.Second, 10 * time.Second},
		{time.Second, 9 * time.Second, 10 * time.Second},
		{20 * time.Second, 19 * time.Second, 20 * time.Second},
	}
	for i, s := range steps {
		if err := a.Block(ctx, "meta:throttle:1", s.block); err != nil {
			t.Fatal(err)
		}
		if w, err := b.Blocked(ctx, "meta:throttle:1"); err != nil || w < s.min || w > s.max {
			t.Errorf("step %d: the other replica waits %v (%v), want %v..%v", i, w, err, s.min, s.max)
		}
	}
	if w, err := b.Blocked(ctx, "meta:throttle:2"); err != nil || w != 0 {
		t.Errorf("another account: %v %v", w, err)
	}
}
