package rechargekit

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Callers branch on these, never on message text; each adapter
// maps them to its own status codes in one table.
const (
	EINVALID      = "invalid"      // the caller's input is wrong
	ENOTFOUND     = "not_found"    // the thing does not exist
	EUNAUTHORIZED = "unauthorized" // the caller's own credentials are missing or bad
	ECONFLICT     = "conflict"     // the request clashes with current state
	EFORBIDDEN    = "forbidden"    // the caller is known but may not do this
	EREFUSED      = "refused"      // Recharge refused a change (its message is kept)
	EUPSTREAM     = "upstream"     // a dependency (Recharge, the database) is unavailable, slow or refusing us
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// ErrUpstreamRefused is the cause kept in an EUPSTREAM error when Recharge
// refused rechargekit's own API token: revoked or mistyped (401), or
// lacking a permission (403). For the desk asking that is Recharge being
// unavailable, so the code is EUPSTREAM (EUNAUTHORIZED is for the caller's
// own credentials); surfaces that must tell an admin it is a configuration
// error to fix check errors.Is(err, ErrUpstreamRefused) instead of a code.
var ErrUpstreamRefused = errors.New("recharge refused the api token")

// UpstreamRefused returns the EUPSTREAM error for Recharge refusing
// rechargekit's API token: message is for the person who sees it, and the
// cause chain holds both ErrUpstreamRefused and err (which may be nil).
func UpstreamRefused(message string, err error) *Error {
	cause := ErrUpstreamRefused
	if err != nil {
		cause = fmt.Errorf("%w: %w", ErrUpstreamRefused, err)
	}
	return WrapError(EUPSTREAM, message, cause)
}

// Error is the domain error. Message is written for the person who sees it;
// Err, when set, keeps the underlying cause for logs and errors.Is/As.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface. The message's closing full stop
// is left out, so that the cause reads on after it.
func (e *Error) Error() string {
	msg := strings.TrimSuffix(e.Message, ".")
	if e.Err != nil {
		return fmt.Sprintf("rechargekit: %s: %s: %v", e.Code, msg, e.Err)
	}
	return fmt.Sprintf("rechargekit: %s: %s", e.Code, msg)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a domain error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns a domain error with the given code and message that keeps err as its cause.
func WrapError(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the user-facing message of the first *Error in err's
// chain, or a generic message for any other error, so internal detail never
// reaches a user.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "An internal error occurred."
	}
}
