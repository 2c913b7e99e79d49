// Package deploy_test checks deploy/compose.yaml the way `docker compose
// config` does: with compose-go, the loader Docker Compose v2 itself uses,
// which validates the file against the Compose Specification schema and
// resolves it. The docker client on the machines this is built on has no
// compose plugin and no engine, so nothing is built or started here.
package deploy_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/threadline/threadline/internal/config"
)

func TestComposeFileIsValid(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithName("threadline"), cli.WithWorkingDirectory("."))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load (what `docker compose config` would say): %v", err)
	}
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"migrate", "postgres", "redis", "threadline"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	tl := p.Services["threadline"]
	if tl.Deploy == nil || tl.Deploy.Replicas == nil || *tl.Deploy.Replicas < 2 {
		t.Errorf("threadline should run several replicas: %+v", tl.Deploy)
	}
	// Replicas start only after the migration finished and PostgreSQL is up.
	if d, ok := tl.DependsOn["migrate"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("threadline depends on migrate as %+v, want service_completed_successfully", d)
	}
	if d, ok := p.Services["migrate"].DependsOn["postgres"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate depends on postgres as %+v, want service_healthy", d)
	}
	if p.Services["postgres"].HealthCheck == nil {
		t.Error("postgres has no health check, so service_healthy never holds")
	}
	if got := strings.Join(tl.Command, " "); got != "serve" {
		t.Errorf("threadline command %q, want serve", got)
	}
	if got := strings.Join(p.Services["migrate"].Command, " "); got != "migrate" {
		t.Errorf("migrate command %q, want migrate", got)
	}
	// Every THREADLINE_ setting the file sets is one Threadline knows.
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Name] = true
	}
	for _, s := range p.Services {
		for k := range s.Environment {
			if strings.HasPrefix(k, "THREADLINE_") && !known[k] {
				t.Errorf("service %s sets %s, which Threadline does not know", s.Name, k)
			}
		}
	}
	if tl.Build == nil || tl.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("threadline build %+v, want deploy/Dockerfile", tl.Build)
	}
}
