package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"
)

// Codes of the request body's own failures.
const (
	CodeRequestTimeout       = "request_timeout"
	CodeUnsupportedMediaType = "unsupported_media_type"
)

var errBodyTimeout = apiErr(http.StatusRequestTimeout, CodeRequestTimeout,
	"the request body did not arrive in time")

// mediaTypes are the Content-Types each body class takes.
var mediaTypes = map[bodyClass]string{
	bodyControl: "application/json",
	bodyData:    "application/json",
	bodyStream:  "application/octet-stream",
}

// checkMediaType refuses a body whose Content-Type is not the route's,
// before any of it is read. A request without a body is not checked: the
// routes that take none answer as they do for an empty one.
func checkMediaType(r *http.Request, rt *route) error {
	want, ok := mediaTypes[rt.body]
	if !ok || r.ContentLength == 0 {
		return nil
	}
	got, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && got == want {
		return nil
	}
	return apiErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
		"this route takes a body of Content-Type "+want)
}

// timedBody bounds how long a request body may take. For a route's body
// the connection's read deadline is set once; a stream's is moved before
// each read to when the body falls below the minimum rate or pauses
// longer than the grace, whichever comes first. A read past the deadline
// fails with request_timeout.
type timedBody struct {
	io.ReadCloser
	rc *http.ResponseController
	// rate is a stream's minimum in bytes per second, 0 for a fixed deadline.
	rate  int64
	grace time.Duration
	start time.Time
	n     int64
}

// bound installs the body's deadline on r. A connection whose deadline
// cannot be set (an embedding's own ResponseWriter) keeps its server's.
func (s *Server) bound(w http.ResponseWriter, r *http.Request, rt *route) {
	rc := http.NewResponseController(w)
	now := time.Now()
	b := &timedBody{ReadCloser: r.Body, rc: rc, grace: s.cfg.BodyTimeout, start: now}
	if rt.body == bodyStream {
		b.rate = s.cfg.StreamMinRate
	} else if err := rc.SetReadDeadline(now.Add(s.cfg.BodyTimeout)); err != nil {
		return
	}
	r.Body = b
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.rate > 0 {
		b.rc.SetReadDeadline(b.deadline(time.Now()))
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errBodyTimeout
	}
	return n, err
}

// deadline is the earlier of a pause's end and the moment the bytes read
// so far fall below the minimum rate: the body has credit for as long as
// its bytes pay for at the rate.
func (b *timedBody) deadline(now time.Time) time.Time {
	credit := float64(b.n) / float64(b.rate) * float64(time.Second)
	if credit >= float64(now.Sub(b.start)) {
		return now.Add(b.grace)
	}
	return b.start.Add(b.grace + time.Duration(credit))
}
