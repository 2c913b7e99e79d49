// Package config reads Threadline's settings from the environment and an
// optional YAML file with the same keys; the environment wins. Every key is
// declared once in the table below, which also feeds --help and the README
// check, so a setting cannot exist without being documented.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/businesshours"
)

// Secret holds a credential. Every way of printing it prints a placeholder,
// so a secret cannot reach a log line, an error or --help by accident.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}
func (s Secret) GoString() string             { return s.String() }
func (s Secret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, s.String()) }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.String()) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }
func (s Secret) Reveal() string               { return string(s) }
func (s Secret) Set() bool                    { return s != "" }

var _ interface{ LogValue() slog.Value } = Secret("")

// Config is the whole configuration of one process.
type Config struct {
	Addr            string
	DatabaseURL     Secret // postgres:// URL; empty selects the embedded store
	DataDir         string
	RedisURL        Secret
	LogLevel        slog.Level
	LogFormat       string
	ReopenWindow    time.Duration
	ShutdownTimeout time.Duration
	MaxBodyBytes    int64
	// DeliveryLease bounds how long a dead worker blocks a conversation's
	// deliveries.
	DeliveryLease time.Duration
	// Jobs tunes the job workers and the database connections they share
	// with webhooks.
	Jobs Jobs
	// UrgentKeywords mark a customer message P1 at ingest.
	UrgentKeywords []string
	// Roles name the supervisors, managers and admins by chat user or
	// group id; everyone else is an agent.
	Roles Roles
	// ClaimOnReply assigns an unassigned conversation to the agent who
	// replies to it.
	ClaimOnReply bool
	// DMHandoff words the dm command (move a public comment to a private
	// conversation).
	DMHandoff bridge.DMHandoff
	Telegram  Telegram
	Slack     Slack
	// Teams settings (issue #9).
	Teams Teams
	// DefaultSurface is where new conversations' threads go when Slack and
	// Teams are both connected, unless a SurfaceRoute says otherwise.
	DefaultSurface string
	SurfaceRoutes  []SurfaceRoute
	Meta           Meta
	SLA            SLA
	// OTLPEndpoint turns tracing on: the OTLP/HTTP collector spans go to.
	OTLPEndpoint string
}

// Jobs tunes job pickup and concurrency; zero values mean the store's
// defaults (see Keys).
type Jobs struct {
	Workers       int
	MaxConns      int
	PollInterval  time.Duration
	FetchCooldown time.Duration
	// IngestBatch and IngestConcurrency size group commit (bridge.Options).
	IngestBatch       int
	IngestConcurrency int
}

// Meta configures the Meta adapter (Messenger, Instagram); it is off
// without accounts.
type Meta struct {
	AppSecret   Secret
	VerifyToken Secret
	// Accounts is the setting as given ("id:token,id:token", or the YAML
	// list): it holds Page access tokens. AccountList is it parsed.
	Accounts      Secret
	AccountList   []MetaAccount
	APIURL        string
	GraphVersion  string
	HumanAgentTag bool
}

// SLA holds the response and resolution targets and the calendar they
// count in.
type SLA struct {
	FirstResponse, NextResponse, Resolution bridge.SLATargets
	// WarnAt is the share of a target at which a warning goes out; 0: none.
	WarnAt   float64
	Location *time.Location
	// Hours is built from BusinessHours, Location and Holidays.
	Hours         *businesshours.Schedule
	BusinessHours string
	Holidays      []businesshours.Date
	// TeamHours are the teams with a calendar of their own; Teams holds
	// their schedules, by bridge.TeamKey.
	TeamHours []TeamCalendar
	Teams     map[string]*businesshours.Schedule
	// AlertChannel receives breach alerts (a Slack channel id); empty: none.
	AlertChannel string
	// CheckInterval is how often each replica looks for deadlines due.
	CheckInterval time.Duration
	// EscalateOnBreach is empty (off) or an escalation level.
	EscalateOnBreach bridge.EscalationLevel
	// Survey sends a satisfaction survey on resolve, asking Question.
	Survey   bool
	Question string
}

// CSAT is the bridge's survey setting; nil when off.
func (s SLA) CSAT() *bridge.CSATOptions {
	if !s.Survey {
		return nil
	}
	return &bridge.CSATOptions{Question: s.Question}
}

// Policy is the bridge's SLA policy.
func (s SLA) Policy() *bridge.SLAPolicy {
	return &bridge.SLAPolicy{FirstResponse: s.FirstResponse, NextResponse: s.NextResponse, Resolution: s.Resolution, WarnAt: s.WarnAt, Hours: s.Hours,
		Teams: s.Teams, EscalateOnBreach: s.EscalateOnBreach}
}

// Roles lists chat user ids or user group ids per role (Slack U.../S...,
// Teams ids); each surface matches the ids it knows.
type Roles struct {
	Supervisors, Managers, Admins []string
}

// Telegram configures the Telegram adapter; it is off without a token.
type Telegram struct {
	BotToken      Secret
	Mode          string // poll or webhook
	WebhookSecret Secret
	APIURL        string
	// ChatInterval paces sends to one chat.
	ChatInterval time.Duration
}

// Slack configures the Slack surface; it is off without a bot token.
type Slack struct {
	BotToken      Secret
	SigningSecret Secret
	AppToken      Secret // xapp- token: Socket Mode
	Channel       string
	APIURL        string
	ReplyMode     string // auto or explicit
	// PostInterval paces posts per channel; UpdateInterval chat.update per workspace.
	PostInterval, UpdateInterval time.Duration
	// BacklogDigest is how many conversations waiting for the inbox channel
	// make a digest message appear (0: never); DigestInterval how often it
	// is refreshed.
	BacklogDigest  int
	DigestInterval time.Duration
	// EscalationChannel receives critical escalation alerts.
	EscalationChannel string
}

// Teams configures the Microsoft Teams surface; it is off without an app id.
type Teams struct {
	AppID       string
	AppPassword Secret
	TenantID    string
	Channel     string // inbox channel id, 19:...@thread.tacv2
	ServiceURL  string
	// OpenIDMetadataURL and TokenURL are the Bot Framework's and Entra
	// ID's; tests point them at teamstest.
	OpenIDMetadataURL string
	TokenURL          string // empty: the tenant's token endpoint
	ReplyMode         string // auto or explicit
}

// SurfaceRoute sends the conversations of a platform, or of one account
// on it, to a chat surface.
type SurfaceRoute struct {
	Platform string
	Account  string // the account's platform id; empty: every account
	Surface  string
}

func surfaceRoutes(c *Config, v string) error {
	c.SurfaceRoutes = nil
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		who, surface, ok := strings.Cut(item, "=")
		platform, account, _ := strings.Cut(strings.TrimSpace(who), ":")
		surface = strings.TrimSpace(surface)
		if !ok || platform == "" || (surface != "slack" && surface != "teams") {
			return fmt.Errorf("must be a list like telegram=teams,messenger:1234567=slack (got %q)", item)
		}
		c.SurfaceRoutes = append(c.SurfaceRoutes, SurfaceRoute{Platform: platform, Account: account, Surface: surface})
	}
	return nil
}

// Key describes one setting.
type Key struct {
	Name    string
	Default string
	Secret  bool
	Meaning string
	set     func(c *Config, v string) error
}

// InvalidError names the key that is wrong and why, never its value when
// the key is a secret.
type InvalidError struct {
	Key    string
	Reason string
}

func (e *InvalidError) Error() string { return "config: " + e.Key + ": " + e.Reason }

func oneOf(options ...string) func(string) error {
	return func(v string) error {
		for _, o := range options {
			if v == o {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s (got %q)", strings.Join(options, ", "), v)
	}
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func str(dst func(*Config) *string, check func(string) error) func(*Config, string) error {
	return func(c *Config, v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		*dst(c) = v
		return nil
	}
}

func secret(dst func(*Config) *Secret, check func(string) error) func(*Config, string) error {
	return func(c *Config, v string) error {
		if check != nil && v != "" {
			if err := check(v); err != nil {
				return err
			}
		}
		*dst(c) = Secret(v)
		return nil
	}
}

func duration(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("must be a positive duration such as 30s or 168h (got %q)", v)
		}
		*dst(c) = d
		return nil
	}
}

func durationOrZero(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("must be a duration such as 200ms, or 0s for the default (got %q)", v)
		}
		*dst(c) = d
		return nil
	}
}

func nonNegative(dst func(*Config) *int) func(*Config, string) error {
	return atLeast(0, "must be a whole number, 0 for the default", dst)
}

func positive(dst func(*Config) *int) func(*Config, string) error {
	return atLeast(1, "must be a whole number of at least 1", dst)
}

func atLeast(least int, hint string, dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < least {
			return fmt.Errorf("%s (got %q)", hint, v)
		}
		*dst(c) = n
		return nil
	}
}

func slaTargets(dst func(*Config) *bridge.SLATargets) func(*Config, string) error {
	return func(c *Config, v string) error {
		t, err := bridge.ParseSLATargets(v)
		if err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), bridge.ErrInvalidInput.Error()+": "))
		}
		*dst(c) = t
		return nil
	}
}

func httpURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL (got %q)", v)
	}
	return nil
}

func schemes(what string, allowed ...string) func(string) error {
	return func(v string) error {
		u, err := url.Parse(v)
		if err == nil {
			for _, s := range allowed {
				if u.Scheme == s {
					return nil
				}
			}
		}
		// The value may hold a password: say what is expected, not what was given.
		return fmt.Errorf("must be a %s URL starting with %s://", what, strings.Join(allowed, ":// or "))
	}
}

func list(dst func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*dst(c) = nil
		for _, w := range strings.Split(v, ",") {
			if w = strings.TrimSpace(w); w != "" {
				*dst(c) = append(*dst(c), w)
			}
		}
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false (got %q)", v)
		}
		*dst(c) = b
		return nil
	}
}

func prefixed(p string) func(string) error {
	return func(v string) error {
		if !strings.HasPrefix(v, p) {
			return fmt.Errorf("must start with %s", p)
		}
		return nil
	}
}

// Keys lists every setting with its default and meaning.
func Keys() []Key {
	return []Key{
		{"THREADLINE_ADDR", ":8080", false, "HTTP listen address (webhooks, Slack requests, health checks, metrics).",
			str(func(c *Config) *string { return &c.Addr }, nil)},
		{"THREADLINE_DATABASE_URL", "", true, "PostgreSQL URL (postgres://...). Empty: the embedded SQLite store in THREADLINE_DATA_DIR.",
			secret(func(c *Config) *Secret { return &c.DatabaseURL }, schemes("PostgreSQL", "postgres", "postgresql"))},
		{"THREADLINE_DATA_DIR", "./data", false, "Folder of the embedded store.",
			str(func(c *Config) *string { return &c.DataDir }, nil)},
		{"THREADLINE_REDIS_URL", "", true, "Redis URL (redis://...) for limits shared by replicas. Optional: without it limits are per process.",
			secret(func(c *Config) *Secret { return &c.RedisURL }, schemes("Redis", "redis", "rediss"))},
		{"THREADLINE_LOG_LEVEL", "info", false, "debug, info, warn or error.",
			func(c *Config, v string) error {
				if err := oneOf("debug", "info", "warn", "error")(v); err != nil {
					return err
				}
				return c.LogLevel.UnmarshalText([]byte(v))
			}},
		{"THREADLINE_LOG_FORMAT", "text", false, "text or json.",
			str(func(c *Config) *string { return &c.LogFormat }, oneOf("text", "json"))},
		{"THREADLINE_REOPEN_WINDOW", "168h", false, "A customer message this soon after resolve reopens the conversation; later it starts a new one.",
			duration(func(c *Config) *time.Duration { return &c.ReopenWindow })},
		{"THREADLINE_SHUTDOWN_TIMEOUT", "20s", false, "How long SIGTERM waits for in-flight requests and jobs.",
			duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"THREADLINE_MAX_BODY_BYTES", "1048576", false, "Largest accepted request body; larger ones get 413.",
			func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1024 {
					return fmt.Errorf("must be a number of bytes of at least 1024 (got %q)", v)
				}
				c.MaxBodyBytes = n
				return nil
			}},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "", false, "OpenTelemetry collector (OTLP over HTTP, e.g. http://localhost:4318) to send traces to; empty: no tracing. The standard variable, read as OpenTelemetry SDKs read it.",
			str(func(c *Config) *string { return &c.OTLPEndpoint }, schemes("OTLP", "http", "https"))},
		{"THREADLINE_DELIVERY_LEASE", "15s", false, "How long a conversation's deliveries wait when the worker sending them dies; live workers renew it while a send is in flight.",
			duration(func(c *Config) *time.Duration { return &c.DeliveryLease })},
		{"THREADLINE_WORKERS", "0", false, "Jobs (deliveries to chat and platforms) worked at once by this process; 0: 50 on PostgreSQL, 8 on the embedded store.",
			nonNegative(func(c *Config) *int { return &c.Jobs.Workers })},
		{"THREADLINE_DATABASE_MAX_CONNS", "0", false, "PostgreSQL connections of this process, shared by webhooks and job workers; 0: 16 (or the URL's pool_max_conns when larger).",
			nonNegative(func(c *Config) *int { return &c.Jobs.MaxConns })},
		{"THREADLINE_JOB_POLL_INTERVAL", "0s", false, "How often idle workers look for jobs; 0: 200ms on PostgreSQL (which also notifies them on insert), 50ms on the embedded store.",
			durationOrZero(func(c *Config) *time.Duration { return &c.Jobs.PollInterval })},
		{"THREADLINE_JOB_FETCH_COOLDOWN", "5ms", false, "Least time between two job fetches: about the most a job waits for pickup while jobs keep coming (PostgreSQL notifies workers of new jobs at most every 20 ms per replica, and they poll).",
			duration(func(c *Config) *time.Duration { return &c.Jobs.FetchCooldown })},
		{"THREADLINE_INGEST_BATCH", "64", false, "Most customer messages, arriving at once, stored in one transaction (group commit); 1 stores each in its own.",
			positive(func(c *Config) *int { return &c.Jobs.IngestBatch })},
		{"THREADLINE_INGEST_CONCURRENCY", "2", false, "Ingest transactions run at once by this process; messages that arrive meanwhile wait and are stored together in the next.",
			positive(func(c *Config) *int { return &c.Jobs.IngestConcurrency })},
		{"THREADLINE_URGENT_KEYWORDS", "hacked,fraud,scam,stolen,safety,emergency", false, "Comma-separated words that make a customer message P1 (urgent) at ingest; empty turns the rule off.",
			func(c *Config, v string) error {
				c.UrgentKeywords = nil
				for _, w := range strings.Split(v, ",") {
					if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
						c.UrgentKeywords = append(c.UrgentKeywords, w)
					}
				}
				return nil
			}},
		{"THREADLINE_ROLE_SUPERVISORS", "", false, "Comma-separated chat user ids or user group ids (Slack U.../S...) of supervisors: they may act on any conversation, receive supervisor escalations and see audit trails.",
			list(func(c *Config) *[]string { return &c.Roles.Supervisors })},
		{"THREADLINE_ROLE_MANAGERS", "", false, "Comma-separated user or group ids of managers: what supervisors may, and they receive manager and critical escalations.",
			list(func(c *Config) *[]string { return &c.Roles.Managers })},
		{"THREADLINE_ROLE_ADMINS", "", false, "Comma-separated user or group ids of admins: every permission. Everyone not named in a role is an agent.",
			list(func(c *Config) *[]string { return &c.Roles.Admins })},
		{"THREADLINE_CLAIM_ON_REPLY", "true", false, "An agent's reply to an unassigned conversation assigns it to them (false: it stays in the queue).",
			boolean(func(c *Config) *bool { return &c.ClaimOnReply })},
		{"THREADLINE_DM_PUBLIC_REPLY", bridge.DefaultDMHandoff.PublicReply, false, "The public reply under a comment that the dm command (Move to DM) moves to a private conversation; may hold {customer.name} {agent.name} {platform} {conversation.id}.",
			str(func(c *Config) *string { return &c.DMHandoff.PublicReply }, nonEmpty)},
		{"THREADLINE_DM_PRIVATE_MESSAGE", bridge.DefaultDMHandoff.PrivateMessage, false, "The private message the dm command sends the commenter when the agent wrote none; same variables.",
			str(func(c *Config) *string { return &c.DMHandoff.PrivateMessage }, nonEmpty)},
		{"THREADLINE_TELEGRAM_BOT_TOKEN", "", true, "Telegram bot token from @BotFather. Empty: Telegram is off.",
			secret(func(c *Config) *Secret { return &c.Telegram.BotToken }, func(v string) error {
				if !strings.Contains(v, ":") {
					return errors.New("must look like 123456:ABC... as @BotFather gives it")
				}
				return nil
			})},
		{"THREADLINE_TELEGRAM_MODE", "poll", false, "poll (getUpdates, no public URL needed) or webhook (POST /webhooks/telegram).",
			str(func(c *Config) *string { return &c.Telegram.Mode }, oneOf("poll", "webhook"))},
		{"THREADLINE_TELEGRAM_WEBHOOK_SECRET", "", true, "Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; required in webhook mode.",
			secret(func(c *Config) *Secret { return &c.Telegram.WebhookSecret }, nil)},
		{"THREADLINE_TELEGRAM_API_URL", "https://api.telegram.org", false, "Telegram Bot API base URL.",
			str(func(c *Config) *string { return &c.Telegram.APIURL }, httpURL)},
		{"THREADLINE_TELEGRAM_CHAT_INTERVAL", "1s", false, "Least time between two messages to one Telegram chat (Telegram allows about one per second).",
			duration(func(c *Config) *time.Duration { return &c.Telegram.ChatInterval })},
		{"THREADLINE_SLACK_BOT_TOKEN", "", true, "Slack bot token (xoxb-...). Empty: Slack is off.",
			secret(func(c *Config) *Secret { return &c.Slack.BotToken }, prefixed("xoxb-"))},
		{"THREADLINE_SLACK_SIGNING_SECRET", "", true, "Slack signing secret, verifies /slack/* requests (HTTP mode).",
			secret(func(c *Config) *Secret { return &c.Slack.SigningSecret }, nil)},
		{"THREADLINE_SLACK_APP_TOKEN", "", true, "Slack app-level token (xapp-...): switches Slack to Socket Mode, no public URL needed.",
			secret(func(c *Config) *Secret { return &c.Slack.AppToken }, prefixed("xapp-"))},
		{"THREADLINE_SLACK_CHANNEL", "", false, "Inbox channel id (C...) where new conversations appear.",
			str(func(c *Config) *string { return &c.Slack.Channel }, nil)},
		{"THREADLINE_SLACK_API_URL", "https://slack.com/api/", false, "Slack Web API base URL.",
			str(func(c *Config) *string { return &c.Slack.APIURL }, httpURL)},
		{"THREADLINE_SLACK_REPLY_MODE", "auto", false, "auto: thread messages go to the customer unless they start with note: or mention a teammate; explicit: only messages starting with reply: go.",
			str(func(c *Config) *string { return &c.Slack.ReplyMode }, oneOf("auto", "explicit"))},
		{"THREADLINE_SLACK_POST_INTERVAL", "1s", false, "Least time between two posts to one Slack channel (Slack allows about one per second).",
			duration(func(c *Config) *time.Duration { return &c.Slack.PostInterval })},
		{"THREADLINE_SLACK_UPDATE_INTERVAL", "1.2s", false, "Least time between two message updates in the workspace (chat.update allows about 50 a minute).",
			duration(func(c *Config) *time.Duration { return &c.Slack.UpdateInterval })},
		{"THREADLINE_SLACK_BACKLOG_DIGEST", "20", false, "When this many conversations wait to be shown in the inbox channel (a flood), one message there says how many and how long, updated until the backlog is cleared; 0 turns it off.",
			func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return fmt.Errorf("must be a number of conversations, 0 or more (got %q)", v)
				}
				c.Slack.BacklogDigest = n
				return nil
			}},
		{"THREADLINE_SLACK_DIGEST_INTERVAL", "10s", false, "How often the backlog digest is checked and updated.",
			duration(func(c *Config) *time.Duration { return &c.Slack.DigestInterval })},
		// Teams surface (issue #9).
		{"THREADLINE_TEAMS_APP_ID", "", false, "Microsoft App ID of the Teams bot (its Azure Bot registration). Empty: Teams is off.",
			str(func(c *Config) *string { return &c.Teams.AppID }, nil)},
		{"THREADLINE_TEAMS_APP_PASSWORD", "", true, "Client secret of the bot's app registration; gets the tokens for the Bot Framework connector.",
			secret(func(c *Config) *Secret { return &c.Teams.AppPassword }, nil)},
		{"THREADLINE_TEAMS_TENANT_ID", "", false, "Microsoft Entra tenant id of the team with the inbox channel; required with THREADLINE_TEAMS_APP_ID.",
			str(func(c *Config) *string { return &c.Teams.TenantID }, nil)},
		{"THREADLINE_TEAMS_CHANNEL", "", false, "Inbox channel id (19:...@thread.tacv2) where new conversations appear as threads.",
			str(func(c *Config) *string { return &c.Teams.Channel }, nil)},
		{"THREADLINE_TEAMS_SERVICE_URL", "https://smba.trafficmanager.net/teams/", false, "Bot Framework connector URL for threads Threadline starts, until Teams tells the bot its tenant's (that one is stored and wins).",
			str(func(c *Config) *string { return &c.Teams.ServiceURL }, httpURL)},
		{"THREADLINE_TEAMS_OPENID_METADATA_URL", "https://login.botframework.com/v1/.well-known/openidconfiguration", false, "OpenID metadata whose signing keys verify the tokens on /teams/messages.",
			str(func(c *Config) *string { return &c.Teams.OpenIDMetadataURL }, httpURL)},
		{"THREADLINE_TEAMS_TOKEN_URL", "", false, "Token endpoint for the connector. Empty: https://login.microsoftonline.com/<THREADLINE_TEAMS_TENANT_ID>/oauth2/v2.0/token (single-tenant bots); multi-tenant bots set https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token.",
			str(func(c *Config) *string { return &c.Teams.TokenURL }, httpURL)},
		{"THREADLINE_TEAMS_REPLY_MODE", "auto", false, "auto: thread messages (addressed to the bot, or all with the ChannelMessage.Read.Group permission) go to the customer unless they start with note: or mention a teammate; explicit: only reply commands go.",
			str(func(c *Config) *string { return &c.Teams.ReplyMode }, oneOf("auto", "explicit"))},
		{"THREADLINE_DEFAULT_SURFACE", "slack", false, "slack or teams: where a new conversation's thread goes when both are configured (with one, that one).",
			str(func(c *Config) *string { return &c.DefaultSurface }, oneOf("slack", "teams"))},
		{"THREADLINE_SURFACE_ROUTES", "", false, "Routing of new conversations by platform or account, before THREADLINE_DEFAULT_SURFACE: platform[:account id]=slack|teams, comma-separated (telegram=teams,messenger:1234567=slack); an account's route wins over its platform's.",
			surfaceRoutes},

		// Meta (Messenger, Instagram).
		{"THREADLINE_META_APP_SECRET", "", true, "Meta app secret: verifies X-Hub-Signature-256 on POST /webhooks/meta. Required with THREADLINE_META_ACCOUNTS.",
			secret(func(c *Config) *Secret { return &c.Meta.AppSecret }, nil)},
		{"THREADLINE_META_VERIFY_TOKEN", "", true, "Verify token typed into the Meta app's webhook settings; answers the GET /webhooks/meta handshake. Required with THREADLINE_META_ACCOUNTS.",
			secret(func(c *Config) *Secret { return &c.Meta.VerifyToken }, nil)},
		{"THREADLINE_META_ACCOUNTS", "", true, "Connected Facebook Pages and Instagram accounts, comma-separated pageOrInstagramId:pageAccessToken; in the YAML file also a list of mappings with id, token, name (shown on cards), slack_channel and teams_channel (where the account's new conversations open). Empty: Meta is off.",
			func(c *Config, v string) error { return c.Meta.SetAccounts(v) }},
		{"THREADLINE_META_API_URL", "https://graph.facebook.com", false, "Meta Graph API base URL.",
			str(func(c *Config) *string { return &c.Meta.APIURL }, httpURL)},
		{"THREADLINE_META_GRAPH_VERSION", "v21.0", false, "Graph API version called (vNN.N).",
			str(func(c *Config) *string { return &c.Meta.GraphVersion }, graphVersion)},
		{"THREADLINE_META_HUMAN_AGENT_TAG", "true", false, "Send replies 24 hours to 7 days after the customer's last message with Meta's HUMAN_AGENT tag (needs the Human Agent permission); false refuses them.",
			func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("must be true or false (got %q)", v)
				}
				c.Meta.HumanAgentTag = b
				return nil
			}},
		{"THREADLINE_SLA_FIRST_RESPONSE", "p1=15m,p2=1h,p3=4h,p4=24h", false, "First-response targets per priority, in business time; an entry may name a platform or source (telegram:p1=10m, review:p3=24h); off: none.",
			slaTargets(func(c *Config) *bridge.SLATargets { return &c.SLA.FirstResponse })},
		{"THREADLINE_SLA_NEXT_RESPONSE", "p1=30m,p2=2h,p3=8h,p4=24h", false, "Next-response targets (a customer message after an agent reply, until the next reply), same format.",
			slaTargets(func(c *Config) *bridge.SLATargets { return &c.SLA.NextResponse })},
		{"THREADLINE_SLA_RESOLUTION", "p1=4h,p2=8h,p3=24h,p4=72h", false, "Resolution targets (creation to resolve, paused while pending on the customer), same format.",
			slaTargets(func(c *Config) *bridge.SLATargets { return &c.SLA.Resolution })},
		{"THREADLINE_SLA_WARN_AT", "0.75", false, "Share of a target after which a warning is posted (0.75: at 75 %); 0 sends no warnings.",
			func(c *Config, v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f >= 1 {
					return fmt.Errorf("must be a share from 0 up to (not including) 1, such as 0.75 (got %q)", v)
				}
				c.SLA.WarnAt = f
				return nil
			}},
		{"THREADLINE_SLA_TIMEZONE", "UTC", false, "IANA time zone of the business hours and of due times in alerts (Europe/Berlin).",
			func(c *Config, v string) error {
				loc, err := time.LoadLocation(v)
				if err != nil {
					return fmt.Errorf("unknown time zone %q (use an IANA name such as Europe/Berlin)", v)
				}
				c.SLA.Location = loc
				return nil
			}},
		{"THREADLINE_SLA_BUSINESS_HOURS", "24/7", false, "When SLA clocks run: 24/7, or a weekly schedule such as mon-fri 09:00-17:00 or mon-fri 08:00-12:00,13:00-17:00; sat 10:00-14:00.",
			str(func(c *Config) *string { return &c.SLA.BusinessHours }, nil)},
		{"THREADLINE_SLA_HOLIDAYS", "", false, "Comma-separated dates (YYYY-MM-DD) on which SLA clocks do not run; a YAML list works too.",
			func(c *Config, v string) error {
				c.SLA.Holidays = nil
				for _, d := range strings.Split(v, ",") {
					if strings.TrimSpace(d) == "" {
						continue
					}
					date, err := businesshours.ParseDate(d)
					if err != nil {
						return err
					}
					c.SLA.Holidays = append(c.SLA.Holidays, date)
				}
				return nil
			}},
		{"THREADLINE_SLA_TEAM_HOURS", "", false, "Teams with business hours of their own, separated by |: team=[time zone] [weekly schedule] [holidays dates|none] (us=America/New_York mon-fri 09:00-17:00 holidays 2026-11-26); what an entry leaves out comes from the settings above. In YAML a mapping of teams to timezone, hours and holidays.",
			func(c *Config, v string) error {
				t, err := parseTeamHours(v)
				c.SLA.TeamHours = t
				return err
			}},
		{"THREADLINE_SLA_ALERT_CHANNEL", "", false, "Slack channel id (C...) that receives SLA breach alerts; empty: alerts go to the thread and the assignee only.",
			str(func(c *Config) *string { return &c.SLA.AlertChannel }, nil)},
		{"THREADLINE_SLA_CHECK_INTERVAL", "5s", false, "How often each replica looks for SLA deadlines that are due (an indexed query; alerts are at most this late).",
			duration(func(c *Config) *time.Duration { return &c.SLA.CheckInterval })},
		{"THREADLINE_SLACK_ESCALATION_CHANNEL", "", false, "Channel id (C...) where critical escalations raise an alert with a link to the thread; empty: the alert stays in the thread.",
			str(func(c *Config) *string { return &c.Slack.EscalationChannel }, nil)},
		{"THREADLINE_SLA_ESCALATE_ON_BREACH", "off", false, "off, supervisor, manager or critical: a conversation's first SLA breach escalates it as /threadline escalate would (higher priority, handed to the least busy available supervisor or manager).",
			func(c *Config, v string) error {
				if err := oneOf("off", "supervisor", "manager", "critical")(v); err != nil {
					return err
				}
				c.SLA.EscalateOnBreach = ""
				if v != "off" {
					c.SLA.EscalateOnBreach = bridge.EscalationLevel(v)
				}
				return nil
			}},
		{"THREADLINE_CSAT_SURVEY", "off", false, "on: when a conversation is first resolved, the customer gets a one-question satisfaction survey with 1-5 buttons (Telegram inline keyboard, Messenger and Instagram quick replies; direct messages only); answers never reopen it.",
			func(c *Config, v string) error {
				if err := oneOf("on", "off")(v); err != nil {
					return err
				}
				c.SLA.Survey = v == "on"
				return nil
			}},
		{"THREADLINE_CSAT_QUESTION", bridge.DefaultCSATQuestion, false, "The survey's question, sent above the rating buttons.",
			str(func(c *Config) *string { return &c.SLA.Question }, nil)},
	}
}

func graphVersion(v string) error {
	rest, ok := strings.CutPrefix(v, "v")
	major, minor, dot := strings.Cut(rest, ".")
	if _, err := strconv.Atoi(major); !ok || !dot || err != nil {
		return fmt.Errorf("must look like v21.0 (got %q)", v)
	}
	if _, err := strconv.Atoi(minor); err != nil {
		return fmt.Errorf("must look like v21.0 (got %q)", v)
	}
	return nil
}

// Load reads the YAML file at path (empty: THREADLINE_CONFIG, or none) and
// then the environment given by lookup (os.LookupEnv in production).
func Load(path string, lookup func(string) (string, bool)) (Config, error) {
	keys := Keys()
	values := map[string]string{}
	for _, k := range keys {
		values[k.Name] = k.Default
	}
	if path == "" {
		path, _ = lookup("THREADLINE_CONFIG")
	}
	if path != "" {
		fromFile, err := readFile(path)
		if err != nil {
			return Config{}, err
		}
		for name, v := range fromFile {
			if _, ok := values[name]; !ok {
				return Config{}, &InvalidError{Key: name, Reason: "unknown setting in " + path}
			}
			values[name] = v
		}
	}
	for _, k := range keys {
		if v, ok := lookup(k.Name); ok {
			values[k.Name] = v
		}
	}
	var c Config
	for _, k := range keys {
		if values[k.Name] == "" && k.Default == "" {
			continue
		}
		if err := k.set(&c, values[k.Name]); err != nil {
			return Config{}, &InvalidError{Key: k.Name, Reason: err.Error()}
		}
	}
	err := c.validate()
	return c, err
}

// records are the keys whose YAML value may be a list of mappings.
var records = map[string]bool{"THREADLINE_META_ACCOUNTS": true}

func readFile(path string) (map[string]string, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, &InvalidError{Key: "THREADLINE_CONFIG", Reason: err.Error()}
	}
	var raw map[string]any
	if err := yaml.Unmarshal(body, &raw); err != nil {
		return nil, &InvalidError{Key: "THREADLINE_CONFIG", Reason: "not valid YAML: " + err.Error()}
	}
	out := map[string]string{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case int, int64, float64, bool:
			out[k] = fmt.Sprint(v)
		case nil:
			out[k] = ""
		case map[string]any: // the teams' calendars
			if k != "THREADLINE_SLA_TEAM_HOURS" {
				return nil, &InvalidError{Key: k, Reason: "must be a scalar value in " + path}
			}
			s, err := teamHoursFromYAML(v)
			if err != nil {
				return nil, &InvalidError{Key: k, Reason: err.Error() + " in " + path}
			}
			out[k] = s
		case []any: // a list of scalars, such as holidays
			if records[k] && len(v) > 0 {
				if _, ok := v[0].(map[string]any); ok {
					// A list of mappings (the Meta accounts): handed to the
					// key as JSON, which its parser reads.
					b, err := json.Marshal(v)
					if err != nil {
						return nil, &InvalidError{Key: k, Reason: "must be a list of mappings with string keys in " + path}
					}
					out[k] = string(b)
					continue
				}
			}
			parts := make([]string, 0, len(v))
			for _, e := range v {
				switch e.(type) {
				case string, int, int64, float64, bool, time.Time:
				default:
					return nil, &InvalidError{Key: k, Reason: "must be a scalar or a list of scalars in " + path}
				}
				if t, ok := e.(time.Time); ok {
					e = t.Format("2006-01-02")
				}
				parts = append(parts, fmt.Sprint(e))
			}
			out[k] = strings.Join(parts, ",")
		default:
			return nil, &InvalidError{Key: k, Reason: "must be a scalar value in " + path}
		}
	}
	return out, nil
}

// validate checks rules that span keys.
func (c *Config) validate() error {
	hours, err := businesshours.Parse(c.SLA.BusinessHours, c.SLA.Location, c.SLA.Holidays...)
	if err != nil {
		return &InvalidError{Key: "THREADLINE_SLA_BUSINESS_HOURS", Reason: err.Error()}
	}
	c.SLA.Hours = hours
	if err := c.buildTeamHours(); err != nil {
		return err
	}
	if c.Telegram.BotToken.Set() && c.Telegram.Mode == "webhook" && !c.Telegram.WebhookSecret.Set() {
		return &InvalidError{Key: "THREADLINE_TELEGRAM_WEBHOOK_SECRET", Reason: "required when THREADLINE_TELEGRAM_MODE is webhook"}
	}
	if c.Meta.Accounts.Set() {
		if !c.Meta.AppSecret.Set() {
			return &InvalidError{Key: "THREADLINE_META_APP_SECRET", Reason: "required when THREADLINE_META_ACCOUNTS is set (it verifies every webhook)"}
		}
		if !c.Meta.VerifyToken.Set() {
			return &InvalidError{Key: "THREADLINE_META_VERIFY_TOKEN", Reason: "required when THREADLINE_META_ACCOUNTS is set (it answers the webhook handshake)"}
		}
	}
	if c.Slack.BotToken.Set() {
		if c.Slack.Channel == "" {
			return &InvalidError{Key: "THREADLINE_SLACK_CHANNEL", Reason: "required when THREADLINE_SLACK_BOT_TOKEN is set"}
		}
		if !c.Slack.SigningSecret.Set() && !c.Slack.AppToken.Set() {
			return &InvalidError{Key: "THREADLINE_SLACK_SIGNING_SECRET", Reason: "required when THREADLINE_SLACK_BOT_TOKEN is set, unless THREADLINE_SLACK_APP_TOKEN selects Socket Mode"}
		}
	}
	if c.Teams.AppID != "" {
		for _, req := range []struct{ key, v string }{
			{"THREADLINE_TEAMS_APP_PASSWORD", c.Teams.AppPassword.Reveal()},
			{"THREADLINE_TEAMS_TENANT_ID", c.Teams.TenantID},
			{"THREADLINE_TEAMS_CHANNEL", c.Teams.Channel},
		} {
			if req.v == "" {
				return &InvalidError{Key: req.key, Reason: "required when THREADLINE_TEAMS_APP_ID is set"}
			}
		}
	}
	return nil
}

// Logger builds the process logger.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Usage writes the settings table for --help. Secrets show no default and no
// value, only that they are secret.
func Usage(w io.Writer) {
	for _, k := range Keys() {
		def := k.Default
		if k.Secret {
			def = "(secret)"
		}
		fmt.Fprintf(w, "  %-36s %-26s %s\n", k.Name, def, k.Meaning)
	}
}
