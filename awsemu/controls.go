package awsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// AdminPrefix is the URL path prefix of the test controls. Requests under it
// are not AWS requests and are never signed; AWS requests are POST /.
const AdminPrefix = "/_awsemu/"

// Now returns the emulator's clock: the real time plus every Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return time.Now().UTC().Add(s.st.ClockOffset) }

// Advance moves the emulator clock forward by d. Deletions and automatic
// rotations that fall due happen before the next request is served. Only
// the emulator's clock moves: signatures are still checked against real time,
// as the SDK signs with it.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.st.ClockOffset += d
	}
	s.nextSweep = time.Time{}
	s.sweep()
	s.saveLocked()
}

// FaultKind is what an injected fault does to a matching request.
type FaultKind int

const (
	// FaultLatency delays the request by Fault.Latency, then serves it.
	FaultLatency FaultKind = iota + 1
	// FaultThrottle answers ThrottlingException (KMS) or Throttling (STS).
	FaultThrottle
	// FaultInternal answers KMSInternalException (KMS) or InternalFailure (STS).
	FaultInternal
	// FaultUnavailable answers 503 ServiceUnavailable: the region is down.
	FaultUnavailable
	// FaultRefuse closes the connection without a response, as an unreachable
	// endpoint does.
	FaultRefuse
)

var faultNames = map[FaultKind]string{
	FaultLatency: "latency", FaultThrottle: "throttle", FaultInternal: "internal",
	FaultUnavailable: "unavailable", FaultRefuse: "refuse",
}

// String returns the kind's name in the admin API.
func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

func parseFaultKind(name string) (FaultKind, error) {
	for k, n := range faultNames {
		if n == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("awsemu: unknown fault kind %q", name)
}

// Fault is one fault injection rule.
type Fault struct {
	Kind FaultKind
	// Region and Operation ("Decrypt", "AssumeRole", ...) restrict the rule;
	// empty matches all.
	Region    string
	Operation string
	// Probability in (0, 1] that a matching request is hit; 0 means 1.
	Probability float64
	// Latency is the delay of a FaultLatency rule.
	Latency time.Duration
}

type faults struct {
	mu    sync.Mutex
	rules []Fault
}

// SetFaults replaces the fault injection rules; nil removes them all.
func (s *Server) SetFaults(rules []Fault) error {
	for i := range rules {
		if err := checkFault(&rules[i]); err != nil {
			return err
		}
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rules = slices.Clone(rules)
	return nil
}

func checkFault(f *Fault) error {
	switch {
	case faultNames[f.Kind] == "":
		return fmt.Errorf("awsemu: unknown fault kind %v", f.Kind)
	case f.Probability < 0 || f.Probability > 1:
		return fmt.Errorf("awsemu: fault probability %v is not in [0, 1]", f.Probability)
	case f.Kind == FaultLatency && f.Latency <= 0:
		return fmt.Errorf("awsemu: latency fault needs a positive latency")
	}
	return nil
}

// matching returns the rules that hit this request, rolling the dice once per
// rule.
func (f *faults) matching(region, op string) []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hit []Fault
	for _, r := range f.rules {
		if (r.Region == "" || r.Region == region) && (r.Operation == "" || r.Operation == op) &&
			(r.Probability == 0 || rand.Float64() < r.Probability) {
			hit = append(hit, r)
		}
	}
	return hit
}

// applyFaults applies the matching rules; it reports whether the request was
// answered (or dropped) by a fault.
func (s *Server) applyFaults(w http.ResponseWriter, c *call) bool {
	for _, f := range s.faults.matching(c.region, c.op) {
		switch f.Kind {
		case FaultLatency:
			time.Sleep(f.Latency)
		case FaultThrottle:
			code := map[bool]string{true: "Throttling", false: "ThrottlingException"}[c.service == "sts"]
			s.finish(w, c, errf(http.StatusBadRequest, code, "Rate exceeded"), nil)
			return true
		case FaultInternal:
			s.finish(w, c, errInjectedInternal, nil)
			return true
		case FaultUnavailable:
			code := map[bool]string{true: "ServiceUnavailable", false: "ServiceUnavailableException"}[c.service == "sts"]
			s.finish(w, c, errf(http.StatusServiceUnavailable, code, "Service is unavailable in %s", c.region), nil)
			return true
		case FaultRefuse:
			s.recordDropped(c)
			dropConnection(w)
			return true
		}
	}
	return false
}

// errInjectedInternal is not an apiError, so finish answers with the
// service's internal error.
var errInjectedInternal = errors.New("injected internal error")

func (s *Server) recordDropped(c *call) {
	c.ev.EventName, c.ev.EventSource, c.ev.ErrorCode = c.op, c.service+".amazonaws.com", "ConnectionRefused"
	s.events.add(*c.ev)
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// Event is one entry of the CloudTrail-like log of every AWS request.
type Event struct {
	EventTime         time.Time         `json:"eventTime"`
	EventSource       string            `json:"eventSource"` // kms.amazonaws.com, sts.amazonaws.com
	EventName         string            `json:"eventName"`
	AWSRegion         string            `json:"awsRegion"`
	UserIdentity      UserIdentity      `json:"userIdentity"`
	Resources         []string          `json:"resources,omitempty"` // key ARNs (role ARN for AssumeRole)
	EncryptionContext map[string]string `json:"encryptionContext,omitempty"`
	RequestID         string            `json:"requestID"`
	ErrorCode         string            `json:"errorCode,omitempty"`
	ErrorMessage      string            `json:"errorMessage,omitempty"`
}

// UserIdentity is the caller of an event; empty when authentication failed.
type UserIdentity struct {
	AccountID string `json:"accountId,omitempty"`
	ARN       string `json:"arn,omitempty"`
}

// maxEvents bounds the log; the oldest events are dropped first.
const maxEvents = 100000

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) >= maxEvents {
		l.events = slices.Delete(l.events, 0, maxEvents/10)
	}
	l.events = append(l.events, e)
}

// Events returns a copy of the event log, oldest first.
func (s *Server) Events() []Event {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return slices.Clone(s.events.events)
}

// ClearEvents empties the event log.
func (s *Server) ClearEvents() {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	s.events.events = nil
}

// serveAdmin serves the test controls:
//
//	GET    /_awsemu/clock             {"now": RFC 3339}
//	POST   /_awsemu/clock/advance     {"duration": "72h"}
//	GET    /_awsemu/faults            the rules
//	PUT    /_awsemu/faults            [{"kind":"throttle","region":"eu-west-1","operation":"Decrypt","probability":0.5}]
//	DELETE /_awsemu/faults
//	GET    /_awsemu/events            the event log
//	DELETE /_awsemu/events
//	POST   /_awsemu/keys/disable      {"key_arn": "arn:aws:kms:..."}
//	POST   /_awsemu/keys/enable       {"key_arn": "arn:aws:kms:..."}
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, AdminPrefix)
	var out any
	var err error
	switch route {
	case "GET clock":
		out = map[string]time.Time{"now": s.Now()}
	case "POST clock/advance":
		out, err = s.adminAdvance(r)
	case "GET faults":
		out = s.adminFaults()
	case "PUT faults":
		err = s.adminSetFaults(r)
	case "DELETE faults":
		err = s.SetFaults(nil)
	case "GET events":
		out = s.Events()
	case "DELETE events":
		s.ClearEvents()
	case "POST keys/disable", "POST keys/enable":
		err = s.adminSetEnabled(r, strings.HasSuffix(route, "enable"))
	default:
		http.Error(w, "unknown control "+route, http.StatusNotFound)
		return
	}
	writeAdmin(w, out, err)
}

// SetKeyEnabled enables or disables a key as its owner would, without
// signing a request: a shortcut for demos and tests, not an AWS operation.
// Only Enabled and Disabled keys change; any other state is an error.
func (s *Server) SetKeyEnabled(keyARN string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.st.Keys[keyARN]
	if !ok {
		return fmt.Errorf("no key %s", keyARN)
	}
	if k.State != stateEnabled && k.State != stateDisabled {
		return fmt.Errorf("key %s is %s", keyARN, k.State)
	}
	k.State = stateDisabled
	if enabled {
		k.State = stateEnabled
	}
	s.saveLocked()
	return nil
}

func (s *Server) adminSetEnabled(r *http.Request, enabled bool) error {
	var in struct {
		KeyARN string `json:"key_arn"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4096)).Decode(&in); err != nil {
		return err
	}
	return s.SetKeyEnabled(in.KeyARN, enabled)
}

func writeAdmin(w http.ResponseWriter, out any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if out == nil {
		out = map[string]string{}
	}
	json.NewEncoder(w).Encode(out)
}

func (s *Server) adminAdvance(r *http.Request) (any, error) {
	var in struct{ Duration string }
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4096)).Decode(&in); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(in.Duration)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("duration %q: want a positive Go duration such as 72h", in.Duration)
	}
	s.Advance(d)
	return map[string]time.Time{"now": s.Now()}, nil
}

type adminFault struct {
	Kind        string  `json:"kind"`
	Region      string  `json:"region,omitempty"`
	Operation   string  `json:"operation,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	Latency     string  `json:"latency,omitempty"`
}

func (s *Server) adminFaults() []adminFault {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := []adminFault{}
	for _, f := range s.faults.rules {
		a := adminFault{Kind: f.Kind.String(), Region: f.Region, Operation: f.Operation, Probability: f.Probability}
		if f.Latency > 0 {
			a.Latency = f.Latency.String()
		}
		out = append(out, a)
	}
	return out
}

func (s *Server) adminSetFaults(r *http.Request) error {
	var in []adminFault
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16)).Decode(&in); err != nil {
		return err
	}
	rules := make([]Fault, len(in))
	for i, f := range in {
		kind, err := parseFaultKind(f.Kind)
		if err != nil {
			return err
		}
		rules[i] = Fault{Kind: kind, Region: f.Region, Operation: f.Operation, Probability: f.Probability}
		if f.Latency == "" {
			continue
		}
		if rules[i].Latency, err = time.ParseDuration(f.Latency); err != nil {
			return err
		}
	}
	return s.SetFaults(rules)
}
