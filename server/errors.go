package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/rs/zerolog"
)

// Error is an error with the status, machine code and human message a client
// sees. Err, the cause, goes to the log only, never into a response.
type Error struct {
	Status     int
	Code       string
	Message    string
	Err        error
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

func newError(status int, code, msg string, err error) *Error {
	return &Error{Status: status, Code: code, Message: msg, Err: err}
}

func badRequest(msg string, err error) error {
	return newError(http.StatusBadRequest, "bad_request", msg, err)
}

func unauthorized(msg string) error {
	return newError(http.StatusUnauthorized, "unauthorized", msg, nil)
}

func forbidden(msg string) error { return newError(http.StatusForbidden, "forbidden", msg, nil) }

func notFound() error { return newError(http.StatusNotFound, "not_found", "not found", nil) }

func tooManyRequests(retry time.Duration) error {
	e := newError(http.StatusTooManyRequests, "rate_limited", "too many requests; try again later", nil)
	e.RetryAfter = retry
	return e
}

// handlerFunc is a handler that returns its error for writeError to answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// h adapts a handlerFunc to http.HandlerFunc.
func (s *Server) h(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// writeError is the one switch from error to status. Clients get a code, a
// short message and the request id; the full chain goes to the log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, store.ErrNotFound):
		e = newError(http.StatusNotFound, "not_found", "not found", err)
	case errors.Is(err, store.ErrConflict):
		e = newError(http.StatusConflict, "conflict", "already exists", err)
	case errors.Is(err, store.ErrGone):
		e = newError(http.StatusGone, "gone", "this link has expired or was revoked", err)
	case errors.Is(err, errBodyTooLarge):
		e = newError(http.StatusRequestEntityTooLarge, "too_large", "request body too large", err)
	default:
		e = newError(http.StatusInternalServerError, "internal", "internal error", err)
	}
	log := zerolog.Ctx(r.Context())
	switch {
	case e.Status >= 500:
		log.Error().Err(err).Int("status", e.Status).Msg("request failed")
	case e.Err != nil:
		log.Debug().Err(err).Int("status", e.Status).Msg("request rejected")
	}
	if e.RetryAfter > 0 || e.Status == http.StatusTooManyRequests {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, e.Status, errorBody{Error: e.Code, Message: e.Message, RequestID: requestID(r)})
}

type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v == nil || status == http.StatusNoContent {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

var errBodyTooLarge = errors.New("server: body too large")

// maxJSONBody caps JSON request bodies; nothing in the API needs more.
const maxJSONBody = 1 << 20

// decodeJSON reads one JSON object from the request body into v. A body that
// is not JSON answers 415, malformed JSON 400, an oversized body 413.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json", err)
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(http.StatusRequestEntityTooLarge, "too_large", "request body too large", err)
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body must be a JSON object", err)
		}
		return badRequest("malformed JSON body", err)
	}
	if dec.More() {
		return badRequest("request body must hold exactly one JSON object", nil)
	}
	return nil
}
