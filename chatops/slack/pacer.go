package slack

import (
	"sync"
	"time"

	"github.com/threadline/threadline/bridge"
)

// postQueue orders the posts waiting for one channel's budget. Slack allows
// about one post per second per channel; in a flood hundreds of
// conversations want that second. The queue lets the most urgent go first
// (P1 before everything else), then the longest waiting, and tells the
// others how far away their turn is, so their jobs step aside (snooze)
// instead of holding workers: only a few conversations per channel contend
// for the next slot at once, and a worker is always free to pick up an
// urgent conversation as soon as it arrives.
//
// The queue is per process. With several replicas each orders its own
// waiters while the shared limiter (Redis) still spaces the channel's posts;
// an urgent post then competes with the heads of other replicas' queues,
// not with their whole backlog.
type postQueue struct {
	clock bridge.Clock
	// contenders is how many conversations of the best waiting priority may
	// ask the limiter at once.
	contenders int
	// grace keeps a conversation's place while its job is away (snoozed
	// until its turn, or between retries).
	grace time.Duration

	mu    sync.Mutex
	chans map[string]*waitList
}

type waitList struct {
	next    uint64
	waiters map[bridge.ConversationID]*waiter
}

type waiter struct {
	prio    bridge.Priority
	ticket  uint64
	expires time.Time
}

func newPostQueue(clock bridge.Clock, contenders int, grace time.Duration) *postQueue {
	return &postQueue{clock: clock, contenders: contenders, grace: grace, chans: map[string]*waitList{}}
}

// place returns how many conversations wait ahead of conv to post in
// channel: every waiter of higher priority and those of the same priority
// that were turned away first. conv may ask the limiter when no higher
// priority waits and fewer than contenders of its own are ahead. Only
// conversations that were turned away (hold) wait: while the channel keeps
// up, everyone goes straight to the limiter.
func (q *postQueue) place(channel string, conv bridge.ConversationID, prio bridge.Priority) (ahead int, contend bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.chans[channel]
	if l == nil {
		return 0, true
	}
	now := q.clock.Now()
	myTicket := uint64(1 << 63)
	if me := l.waiters[conv]; me != nil && now.Before(me.expires) {
		prio, myTicket = min(me.prio, prio), me.ticket
	}
	higher, same := 0, 0
	for id, w := range l.waiters {
		switch {
		case id == conv:
		case !now.Before(w.expires):
			delete(l.waiters, id)
		case w.prio < prio:
			higher++
		case w.prio == prio && w.ticket < myTicket:
			same++
		}
	}
	return higher + same, higher == 0 && same < q.contenders
}

// peek finds the channel conv is queued for, if any, and its place there.
func (q *postQueue) peek(conv bridge.ConversationID, prio bridge.Priority) (channel string, ahead int, contend, queued bool) {
	q.mu.Lock()
	now := q.clock.Now()
	for ch, l := range q.chans {
		if w := l.waiters[conv]; w != nil && now.Before(w.expires) {
			channel, queued = ch, true
			break
		}
	}
	q.mu.Unlock()
	if !queued {
		return "", 0, true, false
	}
	ahead, contend = q.place(channel, conv, prio)
	return channel, ahead, contend, true
}

// hold keeps (or gives) conv a place in channel's queue until its job comes
// back after wait.
func (q *postQueue) hold(channel string, conv bridge.ConversationID, prio bridge.Priority, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	l := q.chans[channel]
	if l == nil {
		l = &waitList{waiters: map[bridge.ConversationID]*waiter{}}
		q.chans[channel] = l
	}
	w := l.waiters[conv]
	if w == nil || !now.Before(w.expires) {
		l.next++
		w = &waiter{prio: prio, ticket: l.next}
		l.waiters[conv] = w
	}
	w.prio = min(w.prio, prio)
	w.expires = now.Add(wait + q.grace)
}

// done removes conv: it got its slot. Its next post queues afresh behind
// the others, so in a flood every conversation surfaces before any gets
// its second post.
func (q *postQueue) done(channel string, conv bridge.ConversationID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.chans[channel]; l != nil {
		delete(l.waiters, conv)
		if len(l.waiters) == 0 {
			delete(q.chans, channel)
		}
	}
}

// waiting reports how many conversations wait for channel.
func (q *postQueue) waiting(channel string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.chans[channel]; l != nil {
		return len(l.waiters)
	}
	return 0
}
