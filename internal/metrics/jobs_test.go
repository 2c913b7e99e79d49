package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/metrics"
)

func TestJobStates(t *testing.T) {
	r := metrics.New()
	scrape := func() string {
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	r.JobStates([]metrics.JobState{
		{Kind: "threadline_drain", State: "available", Count: 7, Oldest: 3 * time.Second},
		{Kind: "threadline_drain", State: "scheduled", Count: 2, Oldest: time.Minute},
	})
	body := scrape()
	for _, want := range []string{
		`threadline_jobs{kind="threadline_drain",state="available"} 7`,
		`threadline_jobs{kind="threadline_drain",state="scheduled"} 2`,
		`threadline_jobs_oldest_seconds{kind="threadline_drain",state="available"} 3`,
		`threadline_jobs_oldest_seconds{kind="threadline_drain",state="scheduled"} 60`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	// The scheduled jobs ran: their series goes.
	r.JobStates([]metrics.JobState{{Kind: "threadline_drain", State: "available", Count: 1}})
	if body := scrape(); strings.Contains(body, `state="scheduled"`) || !strings.Contains(body, `threadline_jobs{kind="threadline_drain",state="available"} 1`) {
		t.Errorf("after the second report:\n%s", body)
	}
}
